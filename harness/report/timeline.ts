// What the HTML report draws, as plain data: lanes (one per allocation role, one per node, one per
// deployment of the job), status
// segments, fault windows, task-event markers, the key metric as steps, and the timer bounds. Times
// are seconds since the first trace event. A pure function of the trace and the stored result.
import { firstFault } from '../check/checker.ts';
import { byCodePoint, normalise, type Normalised } from '../trace/normalise.ts';
import type { FaultKind, Positioned } from '../trace/types.ts';
import type { RunResult } from './result.ts';

export interface Lane {
  kind: 'alloc' | 'node' | 'deployment';
  /** `cache[0]#1`, the lab host name, or the deployment's short ID. */
  name: string;
  label: string;
}

export interface Segment {
  lane: number;
  from: number;
  to: number;
  /** Client status (allocations), node status, or deployment status. */
  status: string;
  /** Desired status of an allocation (`run`, `stop`, `evict`); absent on nodes. */
  desired?: string;
  /** Trace line where this status was first seen. */
  line: number;
}

export interface FaultWindow {
  kind: 'partition' | 'agent killed' | 'agent paused' | 'link degraded';
  host: string;
  from: number;
  /** End of the window; the end of the run when it was never healed. */
  to: number;
  healed: boolean;
  detail: string;
}

export interface Marker {
  lane: number;
  t: number;
  type: string;
  task: string;
  message: string;
}

export interface Bound {
  /** Where the bound is drawn: the fault's time plus the bound. */
  t: number;
  phase: string;
  seconds: number;
  /** Observed seconds for the phase, if it happened. */
  observed: number | undefined;
}

export interface Timeline {
  /** Epoch milliseconds of time 0. */
  t0: number;
  end: number;
  lanes: Lane[];
  segments: Segment[];
  windows: FaultWindow[];
  markers: Marker[];
  metric: { name: string; labels: string; points: Array<[number, number]> } | undefined;
  bounds: Bound[];
  /** Every allocation of the job by role: which role is which allocation, and what replaced what. */
  roles: RoleRow[];
}

export interface RoleRow {
  role: string;
  id: string;
  node: string;
  createIndex: number;
  /** The role (or ID) Nomad linked as PreviousAllocation, if any. */
  previous: string | undefined;
  /** Client/desired status at the end (final read, else the last event). */
  last: string;
}

const WINDOW_OF: Partial<Record<FaultKind, { closes: FaultKind; kind: FaultWindow['kind'] }>> = {
  partition: { closes: 'heal', kind: 'partition' },
  'kill-agent': { closes: 'restart-agent', kind: 'agent killed' },
  'pause-agent': { closes: 'resume-agent', kind: 'agent paused' },
  // A link profile (loss, delay) from its degrade to its restore; a flap's cuts are partitions.
  degrade: { closes: 'restore', kind: 'link degraded' },
};

/** The gauge a disconnect story is about: allocations the servers consider unknown. */
export const KEY_METRIC = 'nomad.nomad.job_summary.unknown';

const round = (s: number) => Math.round(s * 1000) / 1000;

function faultWindows(n: Normalised, rel: (t: number) => number, end: number): FaultWindow[] {
  const out: FaultWindow[] = [];
  const open = new Map<string, { window: FaultWindow; closes: FaultKind }>();
  for (const f of n.faults) {
    const opens = WINDOW_OF[f.fault];
    if (opens) {
      const key = `${f.host}:${opens.closes}`;
      if (open.has(key)) continue; // a second cut of the same host extends the first window
      const window: FaultWindow = {
        kind: opens.kind,
        host: f.host,
        from: rel(f.t),
        to: end,
        healed: false,
        detail: f.argv.map((a) => a.join(' ')).join('; ') || (f.detail ?? ''),
      };
      open.set(key, { window, closes: opens.closes });
      out.push(window);
      continue;
    }
    const key = `${f.host}:${f.fault}`;
    const o = open.get(key);
    if (o) {
      o.window.to = rel(f.t);
      o.window.healed = true;
      open.delete(key);
    }
  }
  return out;
}

export function buildTimeline(trace: Positioned[], result: RunResult): Timeline {
  const n = normalise(trace);
  // A run that stopped before its first event still gets a (empty) timeline.
  const t0 = Number.isFinite(n.first) ? n.first : 0;
  const rel = (t: number) => round((t - t0) / 1000);
  const end = Number.isFinite(n.last) ? rel(n.last) : 0;
  const lanes: Lane[] = [];
  const segments: Segment[] = [];
  const markers: Marker[] = [];

  for (const a of n.allocs) {
    const lane = lanes.push({ kind: 'alloc', name: a.role, label: `${a.role} on ${a.node}` }) - 1;
    let current: Segment | undefined;
    for (const o of a.observations) {
      if (o.client === '') continue;
      const at = Math.max(rel(o.t), current?.from ?? 0);
      if (current && current.status === o.client && current.desired === o.desired) continue;
      if (current) current.to = at;
      current = { lane, from: at, to: end, status: o.client, desired: o.desired, line: o.line };
      segments.push(current);
    }
    const events = a.final
      ? Object.entries(a.final.TaskStates ?? {}).flatMap(([task, st]) => (st?.Events ?? []).map((e) => ({ ...e, task })))
      : (a.observations.at(-1)?.taskEvents ?? []);
    for (const e of events) {
      // Task events carry the client's own clock (ns); in every lab here it is the harness's clock.
      markers.push({ lane, t: rel(e.Time / 1e6), type: e.Type, task: e.task, message: e.DisplayMessage ?? e.Message ?? '' });
    }
  }
  // A lane of statuses (a node's, a deployment's): a segment from each change to the next.
  const statusLane = (lane: Lane, observations: Array<{ t: number; status: string; line: number }>) => {
    const index = lanes.push(lane) - 1;
    let current: Segment | undefined;
    for (const o of observations) {
      if (current?.status === o.status) continue;
      const at = Math.max(rel(o.t), current?.from ?? 0);
      if (current) current.to = at;
      current = { lane: index, from: at, to: end, status: o.status, line: o.line };
      segments.push(current);
    }
  };
  for (const node of [...n.nodes.values()].sort((x, y) => byCodePoint(x.host, y.host))) {
    statusLane({ kind: 'node', name: node.host, label: `node ${node.host}` }, node.observations);
  }
  for (const d of n.deployments) {
    statusLane({ kind: 'deployment', name: d.id.slice(0, 8), label: `deployment ${d.id.slice(0, 8)} (job v${d.jobVersion})` }, d.observations);
  }
  markers.sort((x, y) => x.lane - y.lane || x.t - y.t || byCodePoint(x.type, y.type));

  // The key gauge for the run's job, summed over its task groups, as a step line.
  const job = n.run?.job;
  const series = n.metrics.filter((s) => s.name === KEY_METRIC && (job === undefined || s.labels['job'] === job));
  let metric: Timeline['metric'];
  if (series.length > 0) {
    const times = [...new Set(series.flatMap((s) => s.points.map((p) => p.t)))].sort((x, y) => x - y);
    const points: Array<[number, number]> = [];
    for (const t of times) {
      const value = series.reduce((sum, s) => sum + ([...s.points].reverse().find((p) => p.t <= t)?.value ?? 0), 0);
      if (points.at(-1)?.[1] !== value) points.push([rel(t), value]);
    }
    points.push([end, points.at(-1)?.[1] ?? 0]);
    metric = { name: KEY_METRIC, labels: job === undefined ? '' : `job=${job}`, points };
  }

  // Bounds are drawn from the fault they are measured from.
  const cut = firstFault(n, 'partition');
  const heal = firstFault(n, 'heal');
  const bounds: Bound[] = [];
  for (const p of result.timings) {
    if (p.bound === undefined) continue;
    const from = p.phase.startsWith('partition') ? cut : p.phase.startsWith('heal') ? heal : undefined;
    if (!from) continue;
    bounds.push({ t: round(rel(from.t) + p.bound), phase: p.phase, seconds: p.bound, observed: p.seconds });
  }

  const roles: RoleRow[] = [...n.allocs]
    .sort((a, b) => a.createIndex - b.createIndex)
    .map((a) => {
      const last = a.final
        ? `${a.final.ClientStatus}/${a.final.DesiredStatus}`
        : `${a.observations.at(-1)?.client ?? '?'}/${a.observations.at(-1)?.desired ?? '?'}`;
      return {
        role: a.role,
        id: a.id,
        node: a.node,
        createIndex: a.createIndex,
        previous: a.previous ? (n.byId.get(a.previous)?.role ?? a.previous.slice(0, 8)) : undefined,
        last,
      };
    });
  return { t0, end, lanes, segments, windows: faultWindows(n, rel, end), markers, metric, bounds, roles };
}
