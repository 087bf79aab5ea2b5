// The checker: a pure function of (trace, expectations) -> verdict (outcome.ts says how checks make
// one). Reasons name the role, the expected and observed values, and where in the trace.
import { lostAfterSeconds } from './job-read.ts';
import { normalise, transitions, type AllocView, type Normalised } from '../trace/normalise.ts';
import type { Positioned, TraceEvent } from '../trace/types.ts';
import { finalCounts, unexpectedAllocations } from './accounting.ts';
import {
  absentRoles,
  rolesInExpectations,
  stepStatus,
  subjectName,
  type Expectations,
  type Field,
  type ManySubject,
  type Subject,
  type TaskEventExpectation,
} from './expectations.ts';
import { expandMany, foldOutcomes, isManySubject, reconnectPicks } from './many.ts';
import { CUTS, faultAt, faultsTookEffect, firstFault, noEarlyDetection } from './faults.ts';
import { verdictOf, type CheckOutcome, type CheckKind, type Verdict } from './outcome.ts';
import { noRestart, strictReconnect, TIMER_RACE } from './reconnect.ts';
import { parseDuration } from '../util/duration.ts';
import { matchSequence } from './sequence.ts';
import { expectationsFor, type NotApplied } from './versioned.ts';

export type { CheckOutcome, Verdict } from './outcome.ts';
export { CUTS, RESTORES, firstFault } from './faults.ts';
export { matchSequence } from './sequence.ts';

export interface CheckResult {
  verdict: Verdict;
  checks: CheckOutcome[];
  /** The failing and unknown checks, for headlines. */
  reasons: CheckOutcome[];
  /** Expectations keyed to other Nomad releases than the one that ran: not judged, not passed. */
  notApplied: NotApplied[];
}

/** What the checker knows of the scenario beyond its expectations. */
export interface CheckContext {
  /** Every role the scenario names (its steps and roles as well as its expectations). */
  namedRoles?: string[];
}

const short = (id: string) => id.slice(0, 8);

function describeAlloc(a: AllocView): string {
  return `${a.role} (${short(a.id)} on ${a.node})`;
}

function resolve(n: Normalised, subject: Subject): { label: string; values: Array<{ value: string; line: number; t: number }> } | string {
  if (isManySubject(subject)) return `${subjectName(subject)} names many; judged member by member`;
  if ('host' in subject) {
    const node = n.nodes.get(subject.host);
    if (!node) return `no events for node ${subject.host}`;
    return { label: `node ${node.host}`, values: transitions(node.observations, (o) => o.status) };
  }
  if ('alloc' in subject) {
    const a = n.byRole.get(subject.alloc);
    if (!a) return `no allocation ${subject.alloc} in the trace (roles seen: ${[...n.byRole.keys()].join(', ') || 'none'})`;
    return { label: `alloc ${describeAlloc(a)}`, values: [] };
  }
  if (!('nodeOf' in subject)) return `${subjectName(subject)} is not a single subject`;
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

const parseSeconds = (d: string): number => parseDuration(d) / 1000;

const showSeq = (values: Array<{ value: string }>) => values.map((v) => v.value).join(' -> ') || '(nothing)';

/** A group's reschedule delay in seconds, from the read-back in the trace. */
export function rescheduleDelaySeconds(trace: Positioned[], group: string): number | undefined {
  const read = trace.find((e) => e.kind === 'job-read');
  if (!read || read.kind !== 'job-read') return undefined;
  const groups = (read.job['TaskGroups'] ?? []) as Array<{ Name?: string; ReschedulePolicy?: { Delay?: number } | null }>;
  const delay = groups.find((g) => g.Name === group)?.ReschedulePolicy?.Delay;
  return typeof delay === 'number' ? delay / 1e9 : undefined;
}

/**
 * The scheduler computes a follow-up evaluation's WaitUntil from its own clock just before the plan
 * that marks the allocation is applied; that allocation's ModifyTime is the apply's, a few ms later.
 */
const RESCHEDULE_TOLERANCE_S = 0.5;

export function check(trace: Positioned[], expectations: Expectations, context: CheckContext = {}): CheckResult {
  try {
    return checkUnsafe(trace, expectations, context);
  } catch (error) {
    const detail = `the checker crashed: ${error instanceof Error ? error.message : String(error)}`;
    const outcome: CheckOutcome = { check: 'checker', verdict: 'unknown', detail, source: 'harness', kind: 'harness' };
    return { verdict: 'unknown', checks: [outcome], reasons: [outcome], notApplied: [] };
  }
}

function checkUnsafe(trace: Positioned[], all: Expectations, context: CheckContext): CheckResult {
  const n = normalise(trace);
  const checks: CheckOutcome[] = [];
  const add = (check: string, verdict: Verdict, detail: string, source: string, kind: CheckKind = 'nomad') =>
    checks.push({ check, verdict, detail, source, kind });

  // Only the expectations due on the release that ran; the rest are listed as not applied.
  const { applied: x, notApplied, unknownVersion } = expectationsFor(all, n.run?.nomad.version);
  if (unknownVersion) {
    add(
      'recording: Nomad version',
      'unknown',
      `the trace names no Nomad version, so ${notApplied.length} expectation(s) keyed by version could not be chosen`,
      'harness: the run header records the version',
      'recording',
    );
  }

  // Preconditions, judged on what existed before the first fault only: if they fail, the scenario
  // did not test what it means to (unknown, not fail). Nothing Nomad does later changes them.
  const partition = firstFault(n, 'partition');
  const beforeFaults = (a: AllocView | undefined) =>
    a !== undefined && (partition === undefined || (a.observations[0] !== undefined && a.observations[0].t < partition.t)) ? a : undefined;
  if (x.distinctNodes) {
    const nodes = x.distinctNodes.roles.map((r) => beforeFaults(n.byRole.get(r))?.node);
    const ok = nodes.every((v) => v !== undefined) && new Set(nodes).size === nodes.length;
    add(
      'precondition: distinct clients',
      ok ? 'pass' : 'unknown',
      `before the first fault: ${x.distinctNodes.roles.map((r, i) => `${r} on ${nodes[i] ?? '(not placed)'}`).join(', ')}`,
      x.distinctNodes.source,
      'precondition',
    );
  }
  if (x.partitionTarget) {
    const target = beforeFaults(n.byRole.get(x.partitionTarget))?.node;
    const ok = partition !== undefined && partition.host === target;
    add(
      'precondition: partition hit the right client',
      ok ? 'pass' : 'unknown',
      partition
        ? `partitioned ${partition.host} (trace line ${partition.line}); ${x.partitionTarget} ran on ${target ?? '(not placed before it)'}`
        : 'no partition in the trace',
      'scenario',
      'precondition',
    );
  }
  if (x.deploymentActive) {
    const fault = n.faults.find((f) => CUTS.includes(f.fault));
    const before = (d: (typeof n.deployments)[number]) => d.observations.filter((o) => fault !== undefined && o.t <= fault.t).at(-1);
    const latest = n.deployments.filter((d) => before(d) !== undefined).at(-1);
    const status = latest ? before(latest)! : undefined;
    const ok = status?.status === 'running';
    const detail = !fault
      ? 'no fault in the trace'
      : latest && status
        ? `deployment ${latest.id.slice(0, 8)} (job v${latest.jobVersion}) was ${status.status}${status.description ? ` ("${status.description}")` : ''} at the ${fault.fault} of ${fault.host} (trace line ${fault.line}; status from line ${status.line})`
        : `no deployment of the job seen before the ${fault.fault} (trace line ${fault.line})`;
    add("precondition: the job's deployment active at the first fault", ok ? 'pass' : 'unknown', detail, x.deploymentActive.source, 'precondition');
  }
  checks.push(...faultsTookEffect(trace, n));

  // Steps the runner could not take because what they act on never came (after a failed await):
  // Nomad's doing, so a fail that says which step and why.
  for (const s of n.steps.filter((e) => e.phase === 'skipped')) {
    add(`step not run: ${s.step}`, 'fail', `${s.detail ?? 'skipped'} (trace line ${s.line})`, 'scenario step');
  }

  // Probes (HTTP from a namespace, refusals without a token) are checks of their own: list them when
  // they held too, with what they saw.
  // Waits that are preconditions (the deployment settled before the first fault): unmet, the faults
  // never ran and the test did not happen.
  for (const w of n.awaits.filter((a) => a.precondition === true)) {
    const took = `${(w.elapsedMs / 1000).toFixed(1)}s of ${(w.deadlineMs / 1000).toFixed(0)}s`;
    add(
      `precondition: ${w.what}`,
      w.ok ? 'pass' : 'unknown',
      `${w.ok ? 'met after' : 'NOT met; waited'} ${took} (trace line ${w.line})${w.lastSeen ? `: ${w.lastSeen}` : ''}`,
      w.source ?? 'scenario',
      'precondition',
    );
  }
  for (const w of n.awaits.filter((a) => a.ok && a.lastSeen !== undefined && a.precondition !== true)) {
    add(`probe: ${w.what}`, 'pass', `held after ${(w.elapsedMs / 1000).toFixed(1)}s (trace line ${w.line}): ${w.lastSeen}`, 'scenario step');
  }
  for (const w of n.awaits.filter((a) => !a.ok && a.precondition !== true)) {
    const when =
      w.elapsedMs < w.deadlineMs
        ? `given up after ${(w.elapsedMs / 1000).toFixed(1)}s of ${(w.deadlineMs / 1000).toFixed(0)}s`
        : `not met within ${(w.deadlineMs / 1000).toFixed(0)}s`;
    add(`await: ${w.what}`, 'fail', `${when} (trace line ${w.line}); last seen: ${w.lastSeen ?? 'nothing'}`, 'scenario deadline');
  }

  // A many-subject (check/many.ts) is judged member by member, folded into one check.
  const judged = (judge: () => void): CheckOutcome[] => {
    const before = checks.length;
    judge();
    return checks.splice(before);
  };
  const each = <E extends { subject: Subject; source: string }>(e: E, name: string, judge: (one: E) => void) => {
    if (!isManySubject(e.subject)) return judge(e);
    const many: ManySubject = e.subject;
    const expansion = expandMany(n, many);
    const members = expansion.members.map((member) => ({ member, outcomes: judged(() => judge({ ...e, subject: member })) }));
    checks.push(foldOutcomes(name, expansion, many.count, members, e.source));
  };

  for (const t of x.transitions)
    each(t, `transitions: ${subjectName(t.subject)} ${t.field} status`, (e) => {
      const name = `transitions: ${subjectName(e.subject)} ${e.field} status`;
      const r = valuesOf(n, e.subject, e.field);
      if (typeof r === 'string') {
        add(name, 'fail', r, e.source);
        return;
      }
      const expected = e.sequence.map(stepStatus);
      const m = matchSequence(r.values, expected, { toEnd: true });
      if (m.ok) {
        add(name, 'pass', `${r.label}: ${showSeq(r.values)}`, e.source);
      } else if (m.kind === 'trailing') {
        add(
          name,
          'fail',
          `${r.label}: expected to end ${m.last}, observed ${m.extra.value} after it (trace line ${m.extra.line}); whole history: ${showSeq(r.values)}`,
          e.source,
        );
      } else {
        const where = m.next ? `observed ${m.next.value} (trace line ${m.next.line})` : 'observed nothing more';
        add(
          name,
          'fail',
          `${r.label}: expected ${m.missing}${m.after !== undefined ? ` after ${m.after}` : ''}, ${where}; whole history: ${showSeq(r.values)}`,
          e.source,
        );
      }
    });

  for (const v of x.never ?? [])
    each(v, `invariant: ${subjectName(v.subject)} never ${v.value}`, (e) => {
      const name = `invariant: ${subjectName(e.subject)} never ${e.value}`;
      const r = valuesOf(n, e.subject, e.field);
      if (typeof r === 'string') {
        add(name, 'fail', r, e.source);
        return;
      }
      const hit = r.values.find((v) => v.value === e.value);
      add(
        name,
        hit ? 'fail' : 'pass',
        hit
          ? `${r.label}: expected never ${e.value}, observed ${e.value} (trace line ${hit.line}); whole history: ${showSeq(r.values)}`
          : `${r.label}: ${showSeq(r.values)}`,
        e.source,
      );
    });

  for (const b of x.notBefore ?? [])
    each(b, `lower bound: ${subjectName(b.subject)} not ${b.value} before the ${b.notBefore}`, (e) => {
      const name = `lower bound: ${subjectName(e.subject)} not ${e.value} before the ${e.notBefore}`;
      const r = valuesOf(n, e.subject, e.field);
      const fault = faultAt(n, e.notBefore);
      if (typeof r === 'string' || !fault) {
        add(name, 'fail', typeof r === 'string' ? r : `no ${e.notBefore} in the trace`, e.source);
        return;
      }
      const early = r.values.find((v) => v.value === e.value && v.t < fault.t);
      add(
        name,
        early ? 'fail' : 'pass',
        early
          ? `${r.label}: ${e.value} at trace line ${early.line}, ${((fault.t - early.t) / 1000).toFixed(2)}s before the ${e.notBefore} (line ${fault.line})`
          : `${r.label}: no ${e.value} before the ${e.notBefore}`,
        e.source,
      );
    });

  for (const e of x.placements ?? []) {
    const name = `placement: ${e.alloc} on another client than ${e.otherNodeThan}`;
    const a = n.byRole.get(e.alloc);
    const other = n.byRole.get(e.otherNodeThan);
    if (!a || !other) {
      add(
        name,
        'fail',
        `expected ${e.alloc} (replacing ${e.replaces ?? e.otherNodeThan}), observed ${a ? '' : `no ${e.alloc}`}${!a && !other ? ' and ' : ''}${other ? '' : `no ${e.otherNodeThan}`}; roles seen: ${[...n.byRole.keys()].join(', ')}`,
        e.source,
      );
      continue;
    }
    const replaces = e.replaces ? n.byRole.get(e.replaces) : undefined;
    const linkOk = !e.replaces || (replaces !== undefined && a.previous === replaces.id);
    const ok = a.node !== other.node && linkOk;
    add(
      name,
      ok ? 'pass' : 'fail',
      `${describeAlloc(a)}; ${describeAlloc(other)}${e.replaces ? `; PreviousAllocation ${a.previous ? short(a.previous) : 'none'}` : ''}`,
      e.source,
    );
  }

  for (const e of x.metrics ?? []) {
    const label = `${e.name}{${Object.entries(e.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',')}}`;
    const name = `metric: ${label} ${e.sequence.join(' -> ')}`;
    const s = n.metrics.find((m) => m.name === e.name && Object.entries(e.labels).every(([k, v]) => m.labels[k] === v));
    if (!s) {
      add(name, 'fail', `expected ${label} to go ${e.sequence.join(' -> ')}, observed no such series`, e.source);
      continue;
    }
    const values = transitions(
      s.points.map((p) => ({ ...p, v: String(p.value) })),
      (p) => p.v,
    );
    const m = matchSequence(
      values,
      e.sequence.map((v) => ({ value: String(v), optional: false })),
      { toEnd: true },
    );
    const why = m.ok
      ? ''
      : m.kind === 'trailing'
        ? `expected to end at ${m.last}, observed ${m.extra.value} after it (trace line ${m.extra.line})`
        : `expected ${m.missing}${m.after !== undefined ? ` after ${m.after}` : ''}, ${m.next ? `observed ${m.next.value} (trace line ${m.next.line})` : 'observed nothing more'}`;
    add(name, m.ok ? 'pass' : 'fail', m.ok ? `${label}: ${showSeq(values)}` : `${label}: ${why}; whole series: ${showSeq(values)}`, e.source);
  }

  const taskEventSubject = (e: TaskEventExpectation): Subject =>
    e.allocsOn !== undefined
      ? { allocsOn: e.allocsOn, ...(e.count === undefined ? {} : { count: e.count }) }
      : { alloc: e.alloc ?? '', ...(e.count === undefined ? {} : { count: e.count }) };
  for (const t of x.taskEvents ?? []) {
    const subject = taskEventSubject(t);
    const label = (s: Subject) => ('alloc' in s && !isManySubject(s) ? s.alloc : subjectName(s));
    each({ ...t, subject }, `task event: ${t.type} on ${label(subject)} after the ${t.after}`, (one) =>
      judgeTaskEvent({ ...one, alloc: 'alloc' in one.subject ? one.subject.alloc : '' }),
    );
  }
  function judgeTaskEvent(e: TaskEventExpectation & { alloc: string }) {
    const name = `task event: ${e.type} on ${e.alloc} after the ${e.after}`;
    const a = n.byRole.get(e.alloc);
    const fault = faultAt(n, e.after);
    if (!a || !fault) {
      add(name, 'fail', !a ? `no allocation ${e.alloc} in the trace` : `no ${e.after} in the trace`, e.source);
      return;
    }
    // Each matching event (task, type, Nomad's time) by the trace line it was first seen at. One must
    // first appear after this fault and before the next fault of its kind (`heal#2`: after the second
    // heal); none may appear before the first fault of its kind.
    const firstSeen = new Map<string, { line: number; t: number; message: string }>();
    for (const o of a.observations) {
      for (const ev of o.taskEvents) {
        if (ev.Type !== e.type || (e.message !== undefined && ev.DisplayMessage !== e.message)) continue;
        const key = `${ev.task}/${ev.Time}`;
        if (!firstSeen.has(key)) firstSeen.set(key, { line: o.line, t: o.t, message: ev.DisplayMessage ?? '' });
      }
    }
    const kind = e.after.split('#')[0]!;
    const nth = Number(e.after.split('#')[1] ?? 1);
    const next = faultAt(n, `${kind}#${nth + 1}`);
    const first = faultAt(n, kind)!;
    const seenEvents = [...firstSeen.values()].sort((p, q) => p.line - q.line);
    const early = seenEvents.find((s) => s.t < first.t);
    const inWindow = seenEvents.find((s) => s.t >= fault.t && (next === undefined || s.t < next.t));
    const ok = inWindow !== undefined && early === undefined;
    const events = [...new Set(a.observations.at(-1)?.taskEvents.map((t) => t.Type) ?? [])].join(', ') || 'none';
    add(
      name,
      ok ? 'pass' : 'fail',
      early
        ? `${describeAlloc(a)}: "${e.type}: ${early.message}" already at trace line ${early.line}, before the first ${kind} (line ${first.line})`
        : inWindow
          ? `${describeAlloc(a)}: "${e.type}: ${inWindow.message}" first seen at trace line ${inWindow.line}, ${((inWindow.t - fault.t) / 1000).toFixed(2)}s after the ${e.after}`
          : `${describeAlloc(a)}: expected a ${e.type} task event after the ${e.after} (line ${fault.line})${next ? ` and before the next ${kind} (line ${next.line})` : ''}, observed none; events: ${events}`,
      e.source,
    );
  }

  for (const e of x.absent ?? []) {
    const a = n.byRole.get(e.alloc);
    add(
      `absent: no ${e.alloc}`,
      a ? 'fail' : 'pass',
      a ? `expected no ${e.alloc}, observed ${describeAlloc(a)}: ${showSeq(transitions(a.observations, (o) => o.client))}` : `no ${e.alloc} in the trace`,
      e.source,
    );
  }

  for (const e of x.minDelay ?? []) {
    const name = `lower bound: ${e.alloc} ${e.from} -> ${e.to} takes at least ${e.atLeast}`;
    const a = n.byRole.get(e.alloc);
    const lostAfter = lostAfterSeconds(trace);
    const from = a?.observations.find((o) => o.client === e.from);
    const to = a?.observations.find((o) => o.client === e.to && from !== undefined && o.index >= from.index);
    if (!a || !from || !to || lostAfter === undefined) {
      add(
        name,
        'fail',
        !a
          ? `no allocation ${e.alloc} in the trace`
          : lostAfter === undefined
            ? 'the job read back has no lost_after / max_client_disconnect'
            : `${describeAlloc(a)}: expected ${e.from} then ${e.to}, observed ${showSeq(transitions(a.observations, (o) => o.client))}`,
        e.source,
      );
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
    add(
      name,
      took >= lostAfter ? 'pass' : 'fail',
      `${describeAlloc(a)}: ${e.from} (line ${from.line}) -> ${e.to} (line ${to.line}) took ${took.toFixed(3)}s by ${clock}; ${e.atLeast} is ${lostAfter}s`,
      e.source,
    );
  }

  for (const e of x.delays ?? []) {
    const toWhat = e.to.client === undefined ? `${e.to.alloc} created` : `${e.to.alloc} ${e.to.client}`;
    const bound = [e.atLeast !== undefined ? `at least ${e.atLeast}` : undefined, e.atMost !== undefined ? `at most ${e.atMost}` : undefined]
      .filter(Boolean)
      .join(' and ');
    const name = `delay: ${e.from.alloc} ${e.from.client} -> ${toWhat} takes ${bound}`;
    const a = n.byRole.get(e.from.alloc);
    const b = n.byRole.get(e.to.alloc);
    const from = a?.observations.find((o) => o.client === e.from.client);
    const to = e.to.client === undefined ? b?.observations[0] : b?.observations.find((o) => o.client === e.to.client);
    if (!a || !from || !b || !to) {
      const seen = (v: AllocView | undefined, role: string) =>
        v ? `${describeAlloc(v)}: ${showSeq(transitions(v.observations, (o) => o.client))}` : `no ${role}`;
      add(
        name,
        'fail',
        `expected ${e.from.alloc} ${e.from.client} and then ${toWhat}, observed never: ${seen(a, e.from.alloc)}; ${seen(b, e.to.alloc)}`,
        e.source,
      );
      continue;
    }
    // Nomad's own clock where both ends carry it (ModifyTime), else the harness's receive times.
    const nomadClock = from.modifyTime !== undefined && to.modifyTime !== undefined;
    const took = nomadClock ? (to.modifyTime! - from.modifyTime!) / 1000 : (to.t - from.t) / 1000;
    const problems: string[] = [];
    let least: number | undefined;
    if (e.atLeast === 'reschedule_delay') {
      const delay = rescheduleDelaySeconds(trace, b.group);
      if (delay === undefined) problems.push(`the job read back has no reschedule delay for group ${b.group}`);
      else least = delay - RESCHEDULE_TOLERANCE_S;
    } else if (e.atLeast !== undefined) {
      least = parseSeconds(e.atLeast);
    }
    if (least !== undefined && took < least) problems.push(`took ${took.toFixed(3)}s, less than ${least.toFixed(1)}s`);
    const most = e.atMost === undefined ? undefined : parseSeconds(e.atMost);
    if (most !== undefined && took > most) problems.push(`took ${took.toFixed(3)}s, more than ${most}s`);
    const detail = `${describeAlloc(a)} ${e.from.client} (trace line ${from.line}) -> ${describeAlloc(b)} ${e.to.client ?? 'created'} (line ${to.line}): ${took.toFixed(3)}s by ${nomadClock ? "Nomad's ModifyTime" : 'harness receive times'}${least !== undefined && e.atLeast === 'reschedule_delay' ? `; reschedule delay ${(least + RESCHEDULE_TOLERANCE_S).toFixed(1)}s less ${RESCHEDULE_TOLERANCE_S}s for the scheduler's clock` : ''}`;
    add(name, problems.length === 0 ? 'pass' : 'fail', problems.length === 0 ? detail : `${detail}: ${problems.join('; ')}`, e.source);
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
    add(
      `final: ${e.count} running at job version ${e.version}`,
      ok ? 'pass' : 'fail',
      `running at the end: ${running.map((a) => `${describeAlloc(a)} v${a.jobVersion}`).join(', ') || 'none'}`,
      e.source,
    );
  }

  checks.push(...noEarlyDetection(n, n.run?.timers.heartbeatGrace));
  for (const e of x.strictReconnect ?? []) {
    const subject: Subject = e.allocsOn !== undefined ? { allocsOn: e.allocsOn } : { alloc: e.alloc ?? '' };
    if (!isManySubject(subject)) {
      checks.push(...strictReconnect(n, { ...e, alloc: e.alloc ?? '' }));
      continue;
    }
    // Each member's node in strict steps, folded into one check (check/many.ts).
    const expansion = expandMany(n, subject);
    const members = expansion.members.map((member) => ({ member, outcomes: strictReconnect(n, { ...e, alloc: 'alloc' in member ? member.alloc : '' }) }));
    checks.push(foldOutcomes(`strict reconnect: nodes of ${subjectName(subject)}`, expansion, e.count, members, e.source));
  }
  // Nomad's timer race is rare (once in some 500 reconnects seen): a run where it excuses two nodes or
  // more is Nomad going down on reconnect as a habit, which the strict steps forbid (check/reconnect.ts).
  const races = checks.flatMap((c) => (c.notes ?? []).filter((note) => note.includes(TIMER_RACE)));
  if (races.length > 1)
    add(
      "strict reconnect: Nomad's heartbeat-timer race at most once a run",
      'fail',
      `${races.length} reconnects went down and then ready before their allocation's update: ${races.join(' | ')}`,
      'check/reconnect.ts timerRace: excused once a run, as the rare race it is (docs/findings.md, 2026-11-30)',
    );
  for (const e of x.noRestart ?? []) checks.push(noRestart(n, e));
  if (x.reconnectByScore) checks.push(...reconnectPicks(n, x.reconnectByScore.source));

  // Every allocation the job had is one the scenario names; each group ends with its count running.
  const named = new Set([...rolesInExpectations(x), ...(context.namedRoles ?? [])]);
  // A wildcard role stays a pattern (accounting.ts matches it). `allocsOn: partitioned` names the
  // allocations the cut found (they existed before it: none of them is a placement nobody expected);
  // `allocsOn: connected` names nothing, or anything placed later on those hosts would pass unseen.
  const cutFound = [...x.transitions, ...(x.never ?? []), ...(x.notBefore ?? [])].some((e) => 'allocsOn' in e.subject && e.subject.allocsOn === 'partitioned');
  if (cutFound || (x.taskEvents ?? []).some((t) => t.allocsOn === 'partitioned'))
    for (const m of expandMany(n, { allocsOn: 'partitioned' }).members) if ('alloc' in m) named.add(m.alloc);
  for (const r of absentRoles(x)) named.delete(r);
  checks.push(...unexpectedAllocations(n, named));
  checks.push(...finalCounts(trace, n, x.finalCounts?.groups));

  // Events the recorder knows it missed: what rests on something not having been seen (a status never
  // reached, a status never seen) cannot be judged; what rests on something seen still stands.
  const gaps = trace.filter((e): e is Positioned<Extract<TraceEvent, { kind: 'gap' }>> => e.kind === 'gap');
  if (gaps.length > 0) {
    const window = gaps.map((g) => `indexes ${g.fromIndex}..${g.toIndex} (trace line ${g.line}: ${g.detail})`).join('; ');
    for (const c of checks) {
      if (!restsOnAbsence(c) || !couldHide(c, n, gaps)) continue;
      c.verdict = 'unknown';
      c.kind = 'recording';
      c.detail = `${c.detail} [not judged: the event stream missed ${window}]`;
    }
    add('recording: no gap in the event stream', 'unknown', `the recorder missed ${window}`, 'harness: the trace must hold every event', 'recording');
  }

  const reasons = checks.filter((c) => c.verdict !== 'pass');
  return { verdict: verdictOf(checks), checks, reasons, notApplied };
}

/**
 * Whether a gap could hide something a check is about. A check about allocations only (its name names
 * their roles, no node) is safe when none of them lived in a gap's window (CreateIndex to their last
 * ModifyIndex); anything about nodes, waits or steps could be hidden by any gap.
 */
function couldHide(c: CheckOutcome, n: Normalised, gaps: Array<{ fromIndex: number; toIndex: number }>): boolean {
  if (c.check.includes('node of ') || /^(await|step not run|absent|placement|strict reconnect): /.test(c.check)) return true;
  const roles = c.check.match(/[A-Za-z0-9_-]+\[\d+\]#\d+/g) ?? [];
  if (roles.length === 0) return true;
  return roles.some((role) => {
    const a = n.byRole.get(role);
    if (!a) return true;
    const last = Math.max(a.final?.ModifyIndex ?? 0, ...a.observations.map((o) => o.index));
    return gaps.some((g) => a.createIndex <= g.toIndex && last >= g.fromIndex);
  });
}

/**
 * Whether a check's verdict rests on something not having been seen in the stream, which a gap in
 * the recording could hide: a status expected and never seen (a fail), or a status that must never
 * happen and was not seen (a pass). A status seen where it must not be, a history that went on,
 * an extra allocation, the final reads and the metrics rest on what was seen.
 */
function restsOnAbsence(c: CheckOutcome): boolean {
  const failed = c.verdict === 'fail';
  const passed = c.verdict === 'pass';
  if (c.check.startsWith('transitions: ')) return failed && !c.detail.includes('expected to end');
  if (c.check.startsWith('invariant: ') || c.check.startsWith('absent: ') || c.check.startsWith('no restart: ')) return passed;
  if (c.check.startsWith('delay: ')) return failed && c.detail.includes('observed never');
  if (c.check.startsWith('lower bound: ')) return c.check.includes(' takes at least ') ? failed && c.detail.includes(': expected ') : passed;
  // A race excused (a note) rests on nothing but `down` having come between: a gap could hide the rest.
  if (c.check.startsWith('strict reconnect: ')) return c.check.includes('gets no allocation') || (c.notes ?? []).length > 0 ? passed : failed;
  // Who won a reconnect rests on having seen the original running again and its rivals' statuses then.
  if (c.check.startsWith('reconnect: ')) return failed;
  // A task event is placed by when the stream first showed it: a gap can move that past a fault.
  if (c.check.startsWith('task event: ')) return true;
  if (c.check.startsWith('placement: ') || c.check.startsWith('await: ') || c.check.startsWith('step not run: ')) return failed;
  return false;
}
