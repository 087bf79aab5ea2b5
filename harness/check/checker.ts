// The checker: a pure function of (trace, expectations) -> verdict. pass, fail, or unknown (the
// preconditions did not hold, or the checker itself crashed: never a pass). Reasons name the role,
// the expected and observed values, and where in the trace.
import { normalise, transitions, type AllocView, type Normalised } from '../trace/normalise.ts';
import type { Positioned } from '../trace/types.ts';
import { stepStatus, subjectName, type Expectations, type Field, type Subject } from './expectations.ts';

export type Verdict = 'pass' | 'fail' | 'unknown';

export interface CheckOutcome {
  check: string;
  verdict: Verdict;
  /** What was expected and what was seen, in a sentence; for failures, where. */
  detail: string;
  source: string;
}

export interface CheckResult {
  verdict: Verdict;
  checks: CheckOutcome[];
  /** The failing and unknown checks, for headlines. */
  reasons: CheckOutcome[];
}

const short = (id: string) => id.slice(0, 8);

function describeAlloc(a: AllocView): string {
  return `${a.role} (${short(a.id)} on ${a.node})`;
}

function resolve(n: Normalised, subject: Subject): { label: string; values: Array<{ value: string; line: number; t: number }> } | string {
  if ('alloc' in subject) {
    const a = n.byRole.get(subject.alloc);
    if (!a) return `no allocation ${subject.alloc} in the trace (roles seen: ${[...n.byRole.keys()].join(', ') || 'none'})`;
    return { label: `alloc ${describeAlloc(a)}`, values: [] };
  }
  const a = n.byRole.get(subject.nodeOf);
  if (!a) return `no allocation ${subject.nodeOf} in the trace`;
  const node = n.nodes.get(a.node);
  if (!node) return `no events for node ${a.node} (runs ${subject.nodeOf})`;
  return { label: `node ${node.host} (runs ${subject.nodeOf})`, values: transitions(node.observations, (o) => o.status) };
}

function valuesOf(n: Normalised, subject: Subject, field: Field): { label: string; values: Array<{ value: string; line: number; t: number }> } | string {
  const r = resolve(n, subject);
  if (typeof r === 'string' || !('alloc' in subject)) return r;
  const a = n.byRole.get(subject.alloc)!;
  if (field === 'node') return `field "node" applies to a node subject, not ${subjectName(subject)}`;
  return { label: r.label, values: transitions(a.observations, (o) => (field === 'client' ? o.client : o.desired)) };
}

const showSeq = (values: Array<{ value: string }>) => values.map((v) => v.value).join(' -> ') || '(nothing)';

/** Matches `expected` as an ordered subsequence of `observed`; optional steps may be missing. */
export function matchSequence<V>(
  observed: Array<{ value: V; line: number }>,
  expected: Array<{ value: V; optional: boolean }>,
): { ok: true } | { ok: false; missing: V; after: V | undefined; next: { value: V; line: number } | undefined } {
  let i = 0;
  let last: V | undefined;
  for (const step of expected) {
    const at = observed.findIndex((o, k) => k >= i && o.value === step.value);
    if (at < 0) {
      if (step.optional) continue;
      return { ok: false, missing: step.value, after: last, next: observed[i] };
    }
    i = at + 1;
    last = step.value;
  }
  return { ok: true };
}

/** Faults that cut a client off from its servers, and faults that restore it. */
export const CUTS: readonly string[] = ['partition', 'kill-agent', 'pause-agent'];
export const RESTORES: readonly string[] = ['heal', 'restart-agent', 'resume-agent'];

/** The first fault that cut a client off ('partition') or restored it ('heal'), however it was done. */
export function firstFault(n: Normalised, kind: 'partition' | 'heal') {
  const kinds = kind === 'partition' ? CUTS : RESTORES;
  return n.faults.find((f) => kinds.includes(f.fault));
}

/** The job's lost_after (or max_client_disconnect) in seconds, from the read-back in the trace. */
export function lostAfterSeconds(trace: Positioned[]): number | undefined {
  const read = trace.find((e) => e.kind === 'job-read');
  if (!read || read.kind !== 'job-read') return undefined;
  const groups = (read.job['TaskGroups'] ?? []) as Array<{ MaxClientDisconnect?: number | null; Disconnect?: { LostAfter?: number } | null }>;
  const ns = groups.map((g) => g.Disconnect?.LostAfter || g.MaxClientDisconnect || 0).find((v) => v > 0);
  return ns === undefined ? undefined : ns / 1e9;
}

export function check(trace: Positioned[], expectations: Expectations): CheckResult {
  try {
    return checkUnsafe(trace, expectations);
  } catch (error) {
    const detail = `the checker crashed: ${error instanceof Error ? error.message : String(error)}`;
    const outcome: CheckOutcome = { check: 'checker', verdict: 'unknown', detail, source: 'harness' };
    return { verdict: 'unknown', checks: [outcome], reasons: [outcome] };
  }
}

function checkUnsafe(trace: Positioned[], x: Expectations): CheckResult {
  const n = normalise(trace);
  const checks: CheckOutcome[] = [];
  const add = (check: string, verdict: Verdict, detail: string, source: string) => checks.push({ check, verdict, detail, source });

  // Two allocations with one role would make every check about that role ambiguous.
  const seen = new Map<string, number>();
  for (const a of n.allocs) seen.set(a.role, (seen.get(a.role) ?? 0) + 1);
  for (const [role, count] of seen) {
    if (count > 1) add(`precondition: one allocation per role`, 'unknown', `${count} allocations have the role ${role}: ${n.allocs.filter((a) => a.role === role).map(describeAlloc).join(', ')}`, 'harness');
  }

  // Preconditions: if they fail, the scenario did not test what it means to; unknown, not fail.
  if (x.distinctNodes) {
    const nodes = x.distinctNodes.roles.map((r) => n.byRole.get(r)?.node);
    const ok = nodes.every((v) => v !== undefined) && new Set(nodes).size === nodes.length;
    add('precondition: distinct clients', ok ? 'pass' : 'unknown', `${x.distinctNodes.roles.map((r, i) => `${r} on ${nodes[i] ?? '(never placed)'}`).join(', ')}`, x.distinctNodes.source);
  }
  const partition = firstFault(n, 'partition');
  const heal = firstFault(n, 'heal');
  if (x.partitionTarget) {
    const target = n.byRole.get(x.partitionTarget)?.node;
    const ok = partition !== undefined && partition.host === target;
    add('precondition: partition hit the right client', ok ? 'pass' : 'unknown', partition ? `partitioned ${partition.host} (trace line ${partition.line}); ${x.partitionTarget} ran on ${target ?? '(unknown)'}` : 'no partition in the trace', 'scenario');
  }

  // Probes (HTTP from a namespace, refusals without a token) are checks of their own: list them when
  // they held too, with what they saw.
  for (const w of n.awaits.filter((a) => a.ok && a.lastSeen !== undefined)) {
    add(`probe: ${w.what}`, 'pass', `held after ${(w.elapsedMs / 1000).toFixed(1)}s (trace line ${w.line}): ${w.lastSeen}`, 'scenario step');
  }
  for (const w of n.awaits.filter((a) => !a.ok)) {
    const when = w.elapsedMs < w.deadlineMs ? `given up after ${(w.elapsedMs / 1000).toFixed(1)}s of ${(w.deadlineMs / 1000).toFixed(0)}s` : `not met within ${(w.deadlineMs / 1000).toFixed(0)}s`;
    add(`await: ${w.what}`, 'fail', `${when} (trace line ${w.line}); last seen: ${w.lastSeen ?? 'nothing'}`, 'scenario deadline');
  }

  for (const e of x.transitions) {
    const name = `transitions: ${subjectName(e.subject)} ${e.field} status`;
    const r = valuesOf(n, e.subject, e.field);
    if (typeof r === 'string') {
      add(name, 'fail', r, e.source);
      continue;
    }
    const expected = e.sequence.map(stepStatus);
    const m = matchSequence(r.values, expected);
    if (m.ok) {
      add(name, 'pass', `${r.label}: ${showSeq(r.values)}`, e.source);
    } else {
      const where = m.next ? `observed ${m.next.value} (trace line ${m.next.line})` : 'observed nothing more';
      add(name, 'fail', `${r.label}: expected ${m.missing}${m.after !== undefined ? ` after ${m.after}` : ''}, ${where}; whole history: ${showSeq(r.values)}`, e.source);
    }
  }

  for (const e of x.never ?? []) {
    const name = `invariant: ${subjectName(e.subject)} never ${e.value}`;
    const r = valuesOf(n, e.subject, e.field);
    if (typeof r === 'string') {
      add(name, 'fail', r, e.source);
      continue;
    }
    const hit = r.values.find((v) => v.value === e.value);
    add(name, hit ? 'fail' : 'pass', hit ? `${r.label}: expected never ${e.value}, observed ${e.value} (trace line ${hit.line}); whole history: ${showSeq(r.values)}` : `${r.label}: ${showSeq(r.values)}`, e.source);
  }

  for (const e of x.notBefore ?? []) {
    const name = `lower bound: ${subjectName(e.subject)} not ${e.value} before the ${e.notBefore}`;
    const r = valuesOf(n, e.subject, e.field);
    const fault = firstFault(n, e.notBefore);
    if (typeof r === 'string' || !fault) {
      add(name, 'fail', typeof r === 'string' ? r : `no ${e.notBefore} in the trace`, e.source);
      continue;
    }
    const early = r.values.find((v) => v.value === e.value && v.t < fault.t);
    add(name, early ? 'fail' : 'pass', early ? `${r.label}: ${e.value} at trace line ${early.line}, ${((fault.t - early.t) / 1000).toFixed(2)}s before the ${e.notBefore} (line ${fault.line})` : `${r.label}: no ${e.value} before the ${e.notBefore}`, e.source);
  }

  for (const e of x.placements ?? []) {
    const name = `placement: ${e.alloc} on another client than ${e.otherNodeThan}`;
    const a = n.byRole.get(e.alloc);
    const other = n.byRole.get(e.otherNodeThan);
    if (!a || !other) {
      add(name, 'fail', `expected ${e.alloc} (replacing ${e.replaces ?? e.otherNodeThan}), observed ${a ? '' : `no ${e.alloc}`}${!a && !other ? ' and ' : ''}${other ? '' : `no ${e.otherNodeThan}`}; roles seen: ${[...n.byRole.keys()].join(', ')}`, e.source);
      continue;
    }
    const replaces = e.replaces ? n.byRole.get(e.replaces) : undefined;
    const linkOk = !e.replaces || (replaces !== undefined && a.previous === replaces.id);
    const ok = a.node !== other.node && linkOk;
    add(name, ok ? 'pass' : 'fail', `${describeAlloc(a)}; ${describeAlloc(other)}${e.replaces ? `; PreviousAllocation ${a.previous ? short(a.previous) : 'none'}` : ''}`, e.source);
  }

  for (const e of x.metrics ?? []) {
    const label = `${e.name}{${Object.entries(e.labels).map(([k, v]) => `${k}=${v}`).join(',')}}`;
    const name = `metric: ${label} ${e.sequence.join(' -> ')}`;
    const s = n.metrics.find((m) => m.name === e.name && Object.entries(e.labels).every(([k, v]) => m.labels[k] === v));
    if (!s) {
      add(name, 'fail', `expected ${label} to go ${e.sequence.join(' -> ')}, observed no such series`, e.source);
      continue;
    }
    const values = transitions(s.points.map((p) => ({ ...p, v: String(p.value) })), (p) => p.v);
    const m = matchSequence(values, e.sequence.map((v) => ({ value: String(v), optional: false })));
    add(name, m.ok ? 'pass' : 'fail', m.ok ? `${label}: ${showSeq(values)}` : `${label}: expected ${m.missing}${m.after !== undefined ? ` after ${m.after}` : ''}, ${m.next ? `observed ${m.next.value} (trace line ${m.next.line})` : 'observed nothing more'}; whole series: ${showSeq(values)}`, e.source);
  }

  for (const e of x.taskEvents ?? []) {
    const name = `task event: ${e.type} on ${e.alloc} after the ${e.after}`;
    const a = n.byRole.get(e.alloc);
    const fault = firstFault(n, e.after);
    if (!a || !fault) {
      add(name, 'fail', !a ? `no allocation ${e.alloc} in the trace` : `no ${e.after} in the trace`, e.source);
      continue;
    }
    const seen = a.observations.find((o) => o.taskEvents.some((t) => t.Type === e.type && (!e.message || t.DisplayMessage === e.message)));
    const ev = seen?.taskEvents.find((t) => t.Type === e.type);
    const ok = seen !== undefined && seen.t >= fault.t;
    add(name, ok ? 'pass' : 'fail', seen ? `${describeAlloc(a)}: "${ev?.Type}: ${ev?.DisplayMessage ?? ''}" first seen at trace line ${seen.line}, ${((seen.t - fault.t) / 1000).toFixed(2)}s after the ${e.after}` : `${describeAlloc(a)}: expected a ${e.type} task event after the ${e.after} (line ${fault.line}), observed none; events: ${[...new Set(a.observations.at(-1)?.taskEvents.map((t) => t.Type) ?? [])].join(', ') || 'none'}`, e.source);
  }

  for (const e of x.absent ?? []) {
    const a = n.byRole.get(e.alloc);
    add(`absent: no ${e.alloc}`, a ? 'fail' : 'pass', a ? `expected no ${e.alloc}, observed ${describeAlloc(a)}: ${showSeq(transitions(a.observations, (o) => o.client))}` : `no ${e.alloc} in the trace`, e.source);
  }

  for (const e of x.minDelay ?? []) {
    const name = `lower bound: ${e.alloc} ${e.from} -> ${e.to} takes at least ${e.atLeast}`;
    const a = n.byRole.get(e.alloc);
    const lostAfter = lostAfterSeconds(trace);
    const from = a?.observations.find((o) => o.client === e.from);
    const to = a?.observations.find((o) => o.client === e.to && from !== undefined && o.index >= from.index);
    if (!a || !from || !to || lostAfter === undefined) {
      add(name, 'fail', !a ? `no allocation ${e.alloc} in the trace` : lostAfter === undefined ? 'the job read back has no lost_after / max_client_disconnect' : `${describeAlloc(a)}: expected ${e.from} then ${e.to}, observed ${showSeq(transitions(a.observations, (o) => o.client))}`, e.source);
      continue;
    }
    // Nomad's own clock where it recorded one (AllocStates, then ModifyTime); the harness's receive
    // times jitter by milliseconds, too coarse for a lower bound that Nomad meets to the millisecond.
    const stateTime = (status: string) => {
      const st = a.final?.AllocStates?.find((x) => x.Field === 0 && x.Value === status);
      return st ? Date.parse(st.Time) : undefined;
    };
    const fromT = stateTime(e.from) ?? from.modifyTime ?? from.t;
    const toT = stateTime(e.to) ?? to.modifyTime ?? to.t;
    const clock = stateTime(e.from) !== undefined || from.modifyTime !== undefined ? "Nomad's timestamps" : 'harness receive times';
    const took = (toT - fromT) / 1000;
    add(name, took >= lostAfter ? 'pass' : 'fail', `${describeAlloc(a)}: ${e.from} (line ${from.line}) -> ${e.to} (line ${to.line}) took ${took.toFixed(3)}s by ${clock}; ${e.atLeast} is ${lostAfter}s`, e.source);
  }

  if (x.finalRunning) {
    const e = x.finalRunning;
    // The final reads are Nomad's last word; the last streamed event stands in only without them.
    const running = n.allocs.filter((a) => {
      const last = a.final ? { client: a.final.ClientStatus, desired: a.final.DesiredStatus } : a.observations.at(-1);
      return last?.client === 'running' && last.desired === 'run';
    });
    const versionKnown = running.every((a) => (a.final as { Job?: { Version?: number } } | undefined)?.Job?.Version !== undefined);
    const ok = versionKnown && running.length === e.count && running.every((a) => a.jobVersion === e.version);
    add(`final: ${e.count} running at job version ${e.version}`, ok ? 'pass' : 'fail', `running at the end: ${running.map((a) => `${describeAlloc(a)} v${a.jobVersion}`).join(', ') || 'none'}`, e.source);
  }

  const reasons = checks.filter((c) => c.verdict !== 'pass');
  const verdict: Verdict = checks.some((c) => c.verdict === 'unknown' && c.check.startsWith('precondition'))
    ? 'unknown'
    : reasons.some((c) => c.verdict === 'fail')
      ? 'fail'
      : reasons.length > 0
        ? 'unknown'
        : 'pass';
  return { verdict, checks, reasons };
}
