// Allocation accounting: every allocation the job ever had is one the scenario names, or Nomad made
// one it should not have; and at the end each group has its count running. Pure.
import { transitions, type AllocView, type Normalised } from '../trace/normalise.ts';
import type { Positioned } from '../trace/types.ts';
import type { Outcome } from './outcome.ts';
import { matchesWildcard, parseWildcard } from './many.ts';

const short = (id: string) => id.slice(0, 8);
const seq = (xs: Array<{ value: string }>) => xs.map((x) => x.value).join(' -> ') || '(nothing)';

/** Where an allocation's creation sits among the run's faults, for a person reading the reason. */
function whenCreated(n: Normalised, a: AllocView): string {
  const first = a.observations[0];
  if (!first) return `created at index ${a.createIndex} (seen only in the final reads)`;
  const before = n.faults.filter((f) => f.t <= first.t).at(-1);
  const rel = before
    ? `${((first.t - before.t) / 1000).toFixed(1)}s after the ${before.fault} of ${before.host} (line ${before.line})`
    : 'before the first fault';
  return `created at index ${a.createIndex}, ${rel}, first seen at trace line ${first.line}`;
}

/** One line about an allocation's whole life: where, what it replaced, its statuses. */
export function lifeOf(n: Normalised, a: AllocView): string {
  const prev = a.previous ? (n.byId.get(a.previous)?.role ?? short(a.previous)) : 'none';
  return `${a.role} (${short(a.id)} on ${a.node}): ${whenCreated(n, a)}; PreviousAllocation ${prev}; client ${seq(transitions(a.observations, (o) => o.client))}, desired ${seq(transitions(a.observations, (o) => o.desired))}`;
}

/** Allocations the scenario does not name: each one is something Nomad did that nobody expected. */
export function unexpectedAllocations(n: Normalised, named: ReadonlySet<string>): Outcome[] {
  // A wildcard role (`cache[*]#2`) names every allocation it matches that is what Nomad makes of a
  // slot: an original; a replacement linked (PreviousAllocation) to an allocation of its slot that
  // nothing else replaced before (Nomad replaces an allocation once per absence), or that came back
  // running and went unknown again, its earlier replacements stopped by then (a new disconnect: the
  // reconnect kept the original, the next disconnect replaces it again, linked to it once more:
  // lossy-link, run 20261130-001402-262d, cache[0]#2 and #3 both linked to cache[0]#1); or, unlinked,
  // the placement for the slot's previous allocation lost while pending, which Nomad places as a lost
  // placement, not a reschedule, without a link (NOMAD-FACTS 1.3; seen in mass-disconnect runs), or
  // already unknown when it was made: with 25 nodes disconnected at once, an evaluation other than
  // the one that marked the allocation unknown can place its replacement as a missing slot, unlinked
  // (mass-disconnect under 4 labs side by side, run 20261129-221931-21de: cache[42]#2 made at index
  // 420, two after cache[42]#1 went unknown, stopped on the reconnect as "not needed"). A second
  // allocation linked to the same one with no reconnect between them, or an unlinked one whose
  // predecessor in the slot was neither lost nor unknown by then, or that something else already
  // replaced, is no replacement: unexpected.
  const patterns = [...named].filter((r) => parseWildcard(r) !== undefined);
  const linked = new Map<string, number>();
  for (const a of n.allocs) if (a.previous) linked.set(a.previous, (linked.get(a.previous) ?? 0) + 1);
  // Lost by then, as the stream showed it, or as the servers recorded it in the final read, which a gap
  // in the stream cannot hide: a pending allocation marked lost gets no AllocStates entry in 1.6, but
  // keeps the scheduler's description (NOMAD-FACTS 1.2) after its client reports it complete.
  const lostBy = (a: AllocView, index: number) =>
    a.observations.some((o) => o.client === 'lost' && o.index <= index) ||
    a.final?.ClientStatus === 'lost' ||
    (a.final?.AllocStates ?? []).some((st) => st.Field === 0 && st.Value === 'lost') ||
    /\blost\b/.test(a.final?.DesiredDescription ?? '');
  const unknownBy = (a: AllocView, index: number) => a.observations.some((o) => o.client === 'unknown' && o.index <= index);
  // The client status an allocation last had at or before a Raft index, by the stream.
  const statusAt = (a: AllocView, index: number) => a.observations.filter((o) => o.index <= index).at(-1)?.client;
  // `a` replaces `prev`: the first allocation linked to it, or a later one made after a reconnect: every
  // replacement before it (linked to the same one) stopped by a's creation, `prev` running again after
  // the last of them was made, and unknown when a was made.
  const replacesAgain = (a: AllocView, prev: AllocView): boolean => {
    const earlier = n.allocs.filter((b) => b.previous === prev.id && b.n < a.n).sort((x, y) => x.n - y.n);
    const last = earlier.at(-1);
    if (!last) return true; // the first replacement of prev
    if (!earlier.every((b) => b.observations.some((o) => o.desired === 'stop' && o.index <= a.createIndex))) return false;
    const backAfter = prev.observations.some((o) => o.client === 'running' && o.index > last.createIndex && o.index < a.createIndex);
    return backAfter && statusAt(prev, a.createIndex) === 'unknown';
  };
  const replaces = (a: AllocView) => {
    const prev = a.previous ? n.byId.get(a.previous) : undefined;
    if (a.previous) return prev !== undefined && prev.group === a.group && prev.index === a.index && replacesAgain(a, prev);
    const before = n.allocs.find((b) => b.group === a.group && b.index === a.index && b.n === a.n - 1);
    return before !== undefined && !linked.has(before.id) && (lostBy(before, a.createIndex) || unknownBy(before, a.createIndex));
  };
  const byPattern = (a: AllocView) => patterns.some((p) => matchesWildcard(p, a.role)) && (a.n === 1 || replaces(a));
  const extra = n.allocs.filter((a) => !named.has(a.role) && !byPattern(a));
  const source = 'harness: every allocation of the job is one the scenario names (roles in creation order, trace/roles.ts)';
  if (extra.length === 0)
    return [
      {
        check: 'accounting: no unexpected allocation',
        kind: 'nomad',
        verdict: 'pass',
        detail: `${n.allocs.length} allocation(s), all named: ${n.allocs.map((a) => a.role).join(', ') || 'none'}`,
        source,
      },
    ];
  return extra.map((a) => ({ check: `accounting: unexpected allocation ${a.role}`, kind: 'nomad', verdict: 'fail', detail: lifeOf(n, a), source }));
}

/**
 * At the end, every group has its count running (client running, desired run), by Nomad's final
 * reads. Without the job's read-back or the final reads the harness cannot tell: unknown.
 */
export function finalCounts(trace: Positioned[], n: Normalised, counts: Record<string, number> | undefined): Outcome[] {
  const source = 'job spec: the group count, which the scheduler keeps running (unknown allocations count toward it, NOMAD-FACTS 1.3)';
  const read = [...trace].reverse().find((e) => e.kind === 'job-read');
  const groups = (read?.kind === 'job-read' ? ((read.job['TaskGroups'] ?? []) as Array<{ Name: string; Count: number }>) : []).map((g) => ({
    name: g.Name,
    count: counts?.[g.Name] ?? g.Count,
  }));
  if (groups.length === 0)
    return [
      {
        check: 'final: each group has its count running',
        kind: 'recording',
        verdict: 'unknown',
        detail: 'the trace has no read-back of the job, so no group count to compare with',
        source,
      },
    ];
  // Every allocation needs its final read: one missing (a read that failed part way) is a gap, not "not running".
  const unread = n.allocs.filter((a) => a.final === undefined);
  if (unread.length > 0) {
    return [
      {
        check: 'final: each group has its count running',
        kind: 'recording',
        verdict: 'unknown',
        detail: `no final read of ${unread.map((a) => `${a.role} (${a.id.slice(0, 8)})`).join(', ')} in the trace (see its notes)`,
        source,
      },
    ];
  }
  return groups.map((g) => {
    const mine = n.allocs.filter((a) => a.group === g.name);
    const running = mine.filter((a) => a.final?.ClientStatus === 'running' && a.final.DesiredStatus === 'run');
    const ok = running.length === g.count;
    const others = mine
      .filter((a) => !running.includes(a))
      .map((a) => `${a.role} ${a.final ? `${a.final.ClientStatus}/${a.final.DesiredStatus}` : '(no final read)'}`);
    return {
      check: `final: group ${g.name} has ${g.count} running`,
      kind: 'nomad' as const,
      verdict: ok ? ('pass' as const) : ('fail' as const),
      detail: `running at the end: ${running.map((a) => `${a.role} (${short(a.id)} on ${a.node})`).join(', ') || 'none'}${others.length ? `; the others: ${others.join(', ')}` : ''}`,
      source,
    };
  });
}
