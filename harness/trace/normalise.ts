// Turns a trace into what expectations speak of: allocations by role (`cache[0]#1`: group, index, and
// the order of creation in that slot, see roles.ts), nodes by lab host, metric series by name and
// labels. Nomad's events are ordered by Raft index, not by arrival. Pure.
import type { Allocation, TaskEvent } from '../nomad/api.ts';
import { assignRoles, roleName } from './roles.ts';
import type { Positioned, RunInfo, TraceEvent } from './types.ts';

export { parseAllocName } from './roles.ts';

export interface AllocObservation {
  line: number;
  t: number;
  index: number;
  client: string;
  desired: string;
  /** Nomad's own time of this version of the allocation (ModifyTime, in ms), when the trace has it. */
  modifyTime: number | undefined;
  /** Every task event seen so far on this allocation, all tasks together, by time. */
  taskEvents: Array<TaskEvent & { task: string }>;
  /** Per task: restarts and start time as Nomad recorded them in this version of the allocation. */
  tasks: Record<string, { restarts: number; startedAt: string | undefined }>;
}

export interface AllocView {
  id: string;
  role: string;
  group: string;
  index: number;
  /** Which allocation of its slot in creation order: 1 the original, 2 the next created, ... */
  n: number;
  /** CreateIndex (Raft), or the first index the trace saw it at. */
  createIndex: number;
  node: string;
  previous: string | undefined;
  next: string | undefined;
  jobVersion: number;
  observations: AllocObservation[];
  final: Allocation | undefined;
}

export interface NodeObservation {
  line: number;
  t: number;
  index: number;
  status: string;
  /**
   * The message of the event this update added (e.g. "Node heartbeat missed"): the node's latest event
   * when its CreateIndex is this update's index; absent when the update added none (a node's events
   * stay with it, so the latest one may be an old one's).
   */
  event?: string;
  /** When Nomad made that event (its Timestamp), epoch ms: the servers' clock, not the recorder's. */
  eventAt?: number;
  /** The node's StatusUpdatedAt (whole seconds on the servers' clock), as epoch ms. */
  statusUpdatedAt?: number;
}

export interface NodeView {
  id: string;
  host: string;
  observations: NodeObservation[];
}

export interface MetricPoint {
  line: number;
  t: number;
  value: number;
}

export interface MetricSeries {
  name: string;
  labels: Record<string, string>;
  points: MetricPoint[];
}

/** One of the job's deployments: its statuses as the stream and the reads told them, by Raft index. */
export interface DeploymentView {
  id: string;
  jobVersion: number;
  createIndex: number;
  observations: Array<{ line: number; t: number; index: number; status: string; description: string }>;
}

export interface Normalised {
  run: RunInfo | undefined;
  allocs: AllocView[];
  byRole: Map<string, AllocView>;
  byId: Map<string, AllocView>;
  nodes: Map<string, NodeView>;
  /** The job's deployments in creation order. */
  deployments: DeploymentView[];
  metrics: MetricSeries[];
  faults: Array<Positioned<Extract<TraceEvent, { kind: 'fault' }>>>;
  steps: Array<Positioned<Extract<TraceEvent, { kind: 'step' }>>>;
  awaits: Array<Positioned<Extract<TraceEvent, { kind: 'await' }>>>;
  /** Raft indexes of the plan results the stream showed (events of type PlanResult), ascending. */
  planResults: number[];
  first: number;
  last: number;
}

/** String order that does not depend on the machine's locale (reports must render the same everywhere). */
export const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

type AllocPayload = Partial<Allocation> & { ID: string };

export function normalise(trace: Positioned[]): Normalised {
  const run = trace.find((e): e is Positioned<Extract<TraceEvent, { kind: 'run' }>> => e.kind === 'run')?.run;
  const nomadEvents = trace
    .filter((e): e is Positioned<Extract<TraceEvent, { kind: 'nomad' }>> => e.kind === 'nomad')
    .sort((a, b) => a.index - b.index || a.line - b.line);

  const raw = new Map<string, { payload: AllocPayload; observations: AllocObservation[]; final?: Allocation }>();
  const nodes = new Map<string, NodeView>();
  const deployments = new Map<string, DeploymentView>();
  const observeDeployment = (
    d: { ID?: string; JobVersion?: number; Status?: string; StatusDescription?: string; CreateIndex?: number; ModifyIndex?: number },
    line: number,
    t: number,
    index: number,
  ) => {
    if (!d.ID || !d.Status) return;
    const view = deployments.get(d.ID) ?? { id: d.ID, jobVersion: d.JobVersion ?? -1, createIndex: d.CreateIndex ?? index, observations: [] };
    view.observations.push({ line, t, index, status: d.Status, description: d.StatusDescription ?? '' });
    deployments.set(d.ID, view);
  };
  for (const e of nomadEvents) {
    if (e.topic === 'Deployment') {
      observeDeployment((e.payload['Deployment'] ?? {}) as Parameters<typeof observeDeployment>[0], e.line, e.t, e.index);
      continue;
    }
    if (e.topic === 'Allocation') {
      const a = e.payload['Allocation'] as AllocPayload | undefined;
      if (!a?.ID) continue;
      const entry = raw.get(a.ID) ?? { payload: a, observations: [] };
      entry.payload = { ...entry.payload, ...Object.fromEntries(Object.entries(a).filter(([, v]) => v !== undefined && v !== '')) };
      const taskEvents = Object.entries(a.TaskStates ?? {}).flatMap(([task, st]) => (st?.Events ?? []).map((ev) => ({ ...ev, task })));
      taskEvents.sort((x, y) => x.Time - y.Time);
      const modifyRaw = (a as unknown as { ModifyTime?: unknown }).ModifyTime;
      const modifyTime = typeof modifyRaw === 'number' ? modifyRaw / 1e6 : undefined;
      const tasks = Object.fromEntries(
        Object.entries(a.TaskStates ?? {}).map(([task, st]) => [task, { restarts: st?.Restarts ?? 0, startedAt: st?.StartedAt ?? undefined }]),
      );
      entry.observations.push({
        line: e.line,
        t: e.t,
        index: e.index,
        client: a.ClientStatus ?? '',
        desired: a.DesiredStatus ?? '',
        modifyTime,
        taskEvents,
        tasks,
      });
      raw.set(a.ID, entry);
    } else if (e.topic === 'Node') {
      const n = e.payload['Node'] as
        | {
            ID?: string;
            Name?: string;
            Status?: string;
            StatusUpdatedAt?: number;
            Events?: Array<{ Message?: string; CreateIndex?: number; Timestamp?: string }> | null;
          }
        | undefined;
      if (!n?.ID || !n.Name || !n.Status) continue;
      const view = nodes.get(n.Name) ?? { id: n.ID, host: n.Name, observations: [] };
      const latest = n.Events?.at(-1);
      const added = latest?.Message && latest.CreateIndex === e.index ? latest : undefined;
      const eventAt = added?.Timestamp ? Date.parse(added.Timestamp) : NaN;
      view.observations.push({
        line: e.line,
        t: e.t,
        index: e.index,
        status: n.Status,
        ...(added?.Message ? { event: added.Message } : {}),
        ...(Number.isFinite(eventAt) ? { eventAt } : {}),
        ...(typeof n.StatusUpdatedAt === 'number' && n.StatusUpdatedAt > 0 ? { statusUpdatedAt: n.StatusUpdatedAt * 1000 } : {}),
      });
      nodes.set(n.Name, view);
    }
  }
  // Node statuses at the start, before any change the stream reports (ordered by their ModifyIndex).
  for (const e of trace) {
    if (e.kind !== 'node-read') continue;
    for (const node of e.nodes) {
      const view = nodes.get(node.Name) ?? { id: node.ID, host: node.Name, observations: [] };
      view.observations.push({ line: e.line, t: e.t, index: node.ModifyIndex, status: node.Status });
      view.observations.sort((a, b) => a.index - b.index || a.line - b.line);
      nodes.set(node.Name, view);
    }
  }
  // Deployment reads (before each fault) fill in what a stream that started late did not tell.
  for (const e of trace) {
    if (e.kind !== 'deployment-read') continue;
    for (const d of e.deployments) observeDeployment(d, e.line, e.t, d.ModifyIndex);
  }
  for (const d of deployments.values()) d.observations.sort((a, b) => a.index - b.index || a.line - b.line);
  for (const e of trace) {
    if (e.kind !== 'alloc-read') continue;
    const entry = raw.get(e.alloc.ID) ?? { payload: e.alloc, observations: [] };
    entry.final = e.alloc;
    entry.payload = {
      ...e.alloc,
      ...entry.payload,
      PreviousAllocation: e.alloc.PreviousAllocation || entry.payload.PreviousAllocation,
      NextAllocation: e.alloc.NextAllocation || entry.payload.NextAllocation,
    };
    raw.set(e.alloc.ID, entry);
  }

  const createIndexOf = (entry: { payload: AllocPayload; observations: AllocObservation[] }) =>
    entry.payload.CreateIndex || entry.observations[0]?.index || Number.MAX_SAFE_INTEGER;
  const roles = assignRoles(
    [...raw].map(([id, entry]) => ({ id, name: entry.payload.Name ?? '', taskGroup: entry.payload.TaskGroup, createIndex: createIndexOf(entry) })),
  );
  const allocs: AllocView[] = [];
  for (const [id, entry] of raw) {
    const role = roles.get(id)!;
    allocs.push({
      id,
      role: roleName(role),
      group: role.group,
      index: role.index,
      n: role.n,
      createIndex: createIndexOf(entry),
      node: entry.payload.NodeName ?? entry.payload.NodeID ?? '?',
      previous: entry.payload.PreviousAllocation || undefined,
      next: entry.payload.NextAllocation || undefined,
      jobVersion: (entry.final as { Job?: { Version?: number } } | undefined)?.Job?.Version ?? entry.payload.JobVersion ?? 0,
      observations: entry.observations,
      final: entry.final,
    });
  }
  allocs.sort((a, b) => byCodePoint(a.role, b.role));

  const series = new Map<string, MetricSeries>();
  for (const e of trace) {
    if (e.kind !== 'metric') continue;
    const key = `${e.name}${JSON.stringify(Object.entries(e.labels).sort())}`;
    const s = series.get(key) ?? { name: e.name, labels: e.labels, points: [] };
    s.points.push({ line: e.line, t: e.t, value: e.value });
    series.set(key, s);
  }

  const times = trace.map((e) => e.t);
  return {
    run,
    allocs,
    byRole: new Map(allocs.map((a) => [a.role, a])),
    byId: new Map(allocs.map((a) => [a.id, a])),
    nodes,
    deployments: [...deployments.values()].sort((a, b) => a.createIndex - b.createIndex),
    metrics: [...series.values()],
    faults: trace.filter((e): e is Positioned<Extract<TraceEvent, { kind: 'fault' }>> => e.kind === 'fault'),
    steps: trace.filter((e): e is Positioned<Extract<TraceEvent, { kind: 'step' }>> => e.kind === 'step'),
    awaits: trace.filter((e): e is Positioned<Extract<TraceEvent, { kind: 'await' }>> => e.kind === 'await'),
    planResults: [...new Set(nomadEvents.filter((e) => e.type === 'PlanResult').map((e) => e.index))].sort((a, b) => a - b),
    first: Math.min(...times),
    last: Math.max(...times),
  };
}

/** Consecutive duplicates removed: the statuses an entity passed through, with where each began. */
export function transitions<T extends { line: number; t: number }>(
  observations: T[],
  value: (o: T) => string,
): Array<{ value: string; line: number; t: number }> {
  const out: Array<{ value: string; line: number; t: number }> = [];
  for (const o of observations) {
    const v = value(o);
    if (v === '' || out[out.length - 1]?.value === v) continue;
    out.push({ value: v, line: o.line, t: o.t });
  }
  return out;
}
