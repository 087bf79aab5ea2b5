// Golden traces: `--record` keeps a run's normalised shape (per role: client and desired status
// sequences, task event types; per node, named by the role it ran first; metric sequences) in
// scenarios/golden/<name>.json. Later runs print a readable diff against it. Information only:
// the verdict is the checker's, a golden trace is never the oracle. Pure.
import { normalise, transitions } from '../trace/normalise.ts';
import type { Positioned } from '../trace/types.ts';

export interface Golden {
  allocs: Record<string, { client: string[]; desired: string[]; taskEvents: string[] }>;
  nodes: Record<string, string[]>;
  metrics: Record<string, number[]>;
}

const values = (xs: Array<{ value: string }>) => xs.map((x) => x.value);

export function goldenOf(trace: Positioned[]): Golden {
  const n = normalise(trace);
  const allocs: Golden['allocs'] = {};
  for (const a of n.allocs) {
    allocs[a.role] = {
      client: values(transitions(a.observations, (o) => o.client)),
      desired: values(transitions(a.observations, (o) => o.desired)),
      taskEvents: [...new Set(a.observations.flatMap((o) => o.taskEvents.map((e) => e.Type)))],
    };
  }
  // Hosts are the scheduler's choice: name each node by the first role (in role order) it ran.
  const nodes: Golden['nodes'] = {};
  const named = new Set<string>();
  for (const a of n.allocs) {
    const view = n.nodes.get(a.node);
    if (!view || named.has(a.node)) continue;
    named.add(a.node);
    nodes[`clientOf ${a.role}`] = values(transitions(view.observations, (o) => o.status));
  }
  const metrics: Golden['metrics'] = {};
  for (const m of n.metrics) {
    const key = `${m.name}{task_group=${m.labels['task_group'] ?? ''}}`;
    metrics[key] = values(
      transitions(
        m.points.map((p) => ({ ...p, v: String(p.value) })),
        (p) => p.v,
      ),
    ).map(Number);
  }
  return { allocs, nodes, metrics };
}

/** Lines a person reads: what differs between the golden shape and this run's. */
export function diffGolden(golden: Golden, now: Golden): string[] {
  const out: string[] = [];
  const seq = (xs: Array<string | number> | undefined) => (xs === undefined ? '(absent)' : xs.join(' -> ') || '(nothing)');
  const compare = (label: string, a: Array<string | number> | undefined, b: Array<string | number> | undefined) => {
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${label}: golden ${seq(a)}; this run ${seq(b)}`);
  };
  for (const role of new Set([...Object.keys(golden.allocs), ...Object.keys(now.allocs)])) {
    const g = golden.allocs[role];
    const r = now.allocs[role];
    if (!g || !r) {
      out.push(`${role}: ${g ? 'in the golden trace, not in this run' : 'in this run, not in the golden trace'}`);
      continue;
    }
    compare(`${role} client`, g.client, r.client);
    compare(`${role} desired`, g.desired, r.desired);
    compare(`${role} task events`, g.taskEvents, r.taskEvents);
  }
  for (const key of new Set([...Object.keys(golden.nodes), ...Object.keys(now.nodes)])) compare(key, golden.nodes[key], now.nodes[key]);
  for (const key of new Set([...Object.keys(golden.metrics), ...Object.keys(now.metrics)])) compare(key, golden.metrics[key], now.metrics[key]);
  return out;
}
