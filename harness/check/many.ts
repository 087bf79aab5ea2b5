// Expectations over many allocations or nodes at once, for jobs too big to name slot by slot: a
// wildcard role (`cache[*]#1`: every slot's original, `cache[*]#2`: every replacement), the allocations
// on the hosts the run cut off (`allocsOn: partitioned`) or on the others (`allocsOn: connected`), and
// the nodes it cut off (`nodes: partitioned`). The checker expands such a subject into the single ones
// it already judges, judges each, and folds the outcomes into one check that names every member that
// failed, with its trace lines. Pure.
import type { AllocView, Normalised } from '../trace/normalise.ts';
import type { Count, ManySubject, Subject } from './expectations.ts';
import { CUTS } from './faults.ts';
import { onServer } from './server-faults.ts';
import type { CheckOutcome, Outcome } from './outcome.ts';

/** `cache[*]#2` -> group and n; undefined when the role is not a wildcard. */
export function parseWildcard(role: string): { group: string; n: number } | undefined {
  const m = /^([^[\]#\s]+)\[\*\]#([1-9]\d*)$/.exec(role);
  return m ? { group: m[1]!, n: Number(m[2]) } : undefined;
}

/** Whether a concrete role is one a wildcard role matches. */
export function matchesWildcard(pattern: string, role: string): boolean {
  const w = parseWildcard(pattern);
  const m = /^([^[\]#\s]+)\[\d+\]#([1-9]\d*)$/.exec(role);
  return w !== undefined && m !== null && m[1] === w.group && Number(m[2]) === w.n;
}

export function isManySubject(s: Subject): s is ManySubject {
  return 'allocsOn' in s || 'nodes' in s || ('alloc' in s && parseWildcard(s.alloc) !== undefined);
}

/**
 * The hosts the run cut off (by a partition, an agent kill or pause; not the run's cleanup), each with
 * the time it was first cut, in the order of the cuts. A kill or pause of a server cuts no client off,
 * so faults on servers are left out. A partial partition (a client cut from some servers only) counts:
 * the client lost the servers it used, and what Nomad does about its allocations is the point.
 */
export function cutHosts(n: Normalised): Map<string, number> {
  const cut = new Map<string, number>();
  for (const f of n.faults) if (CUTS.includes(f.fault) && f.detail !== 'cleanup' && !onServer(n, f) && !cut.has(f.host)) cut.set(f.host, f.t);
  return cut;
}

/** What a many-subject stands for: single subjects the checker judges, and how they read in a reason. */
export interface Expansion {
  /** Single subjects: `{ alloc: role }` or `{ host }`. */
  members: Array<{ alloc: string } | { host: string }>;
  /** What they are, for the check's detail: "allocations on partitioned hosts". */
  what: string;
}

const byRole = (a: AllocView, b: AllocView) => a.group.localeCompare(b.group) || a.index - b.index || a.n - b.n;

export function expandMany(n: Normalised, s: ManySubject): Expansion {
  if ('nodes' in s) {
    // In the lab's host order, when the run header has it.
    const order = n.run?.lab.hosts.map((h) => h.name) ?? [];
    const hosts = [...cutHosts(n).keys()].sort((a, b) => order.indexOf(a) - order.indexOf(b) || (a < b ? -1 : a > b ? 1 : 0));
    return { members: hosts.map((host) => ({ host })), what: 'nodes the run cut off' };
  }
  if ('allocsOn' in s) {
    const cut = cutHosts(n);
    const allocs =
      s.allocsOn === 'partitioned'
        ? // On the host before it was cut: what the cut found there, not what came after a heal.
          n.allocs.filter((a) => cut.has(a.node) && a.observations[0] !== undefined && a.observations[0].t < cut.get(a.node)!)
        : n.allocs.filter((a) => !cut.has(a.node));
    return {
      members: [...allocs].sort(byRole).map((a) => ({ alloc: a.role })),
      what: s.allocsOn === 'partitioned' ? 'allocations on the hosts the run cut off' : 'allocations on hosts the run never cut off',
    };
  }
  const w = parseWildcard(s.alloc)!;
  const allocs = n.allocs.filter((a) => a.group === w.group && a.n === w.n).sort(byRole);
  return { members: allocs.map((a) => ({ alloc: a.role })), what: `allocations ${s.alloc}` };
}

/** Whether a number of members satisfies a count (default: at least one). */
export function countHolds(count: Count | undefined, k: number): boolean {
  if (count === undefined) return k >= 1;
  if (typeof count === 'number') return k === count;
  return (count.min === undefined || k >= count.min) && (count.max === undefined || k <= count.max);
}

export function describeCount(count: Count | undefined): string {
  if (count === undefined) return 'at least 1';
  if (typeof count === 'number') return `exactly ${count}`;
  return [count.min !== undefined ? `at least ${count.min}` : '', count.max !== undefined ? `at most ${count.max}` : ''].filter(Boolean).join(' and ');
}

const memberName = (m: { alloc: string } | { host: string }) => ('alloc' in m ? m.alloc : m.host);

/**
 * One check out of the members' outcomes: fail when any member failed or the count is not met,
 * unknown when one is unknown, else pass. A fail lists every failing member's own reason (its
 * allocation, node and trace lines); a pass groups members by what was observed.
 */
export function foldOutcomes(
  check: string,
  expansion: Expansion,
  count: Count | undefined,
  judged: Array<{ member: { alloc: string } | { host: string }; outcomes: CheckOutcome[] }>,
  source: string,
): Outcome {
  const k = judged.length;
  const countOk = countHolds(count, k);
  // Notes (Nomad's races excused in a member) go with the folded check whatever its verdict.
  const notes = judged.flatMap((j) => j.outcomes.flatMap((o) => (o.notes ?? []).map((x) => `[${memberName(j.member)}] ${x}`)));
  const withNotes = notes.length ? { notes } : {};
  const failed = judged.filter((j) => j.outcomes.some((o) => o.verdict === 'fail'));
  const unknown = judged.filter((j) => !failed.includes(j) && j.outcomes.some((o) => o.verdict === 'unknown'));
  const matched = `${k} ${expansion.what} (expected ${describeCount(count)})`;
  const reasons = (js: typeof judged, verdict: string) =>
    js.flatMap((j) => j.outcomes.filter((o) => o.verdict === verdict).map((o) => `[${memberName(j.member)}] ${o.detail}`)).join(' | ');
  if (!countOk || failed.length > 0) {
    const parts = [
      countOk ? matched : `expected ${describeCount(count)} ${expansion.what}, observed ${k}: ${judged.map((j) => memberName(j.member)).join(', ') || 'none'}`,
      failed.length > 0 ? `${failed.length} of ${k} failed: ${reasons(failed, 'fail')}` : '',
      failed.length > 0 && failed.length < k ? `the other ${k - failed.length} held` : '',
    ];
    return { check, kind: 'nomad', verdict: 'fail', detail: parts.filter(Boolean).join('; '), source, ...withNotes };
  }
  if (unknown.length > 0)
    return {
      check,
      kind: 'nomad',
      verdict: 'unknown',
      detail: `${matched}; ${unknown.length} not judged: ${reasons(unknown, 'unknown')}`,
      source,
      ...withNotes,
    };
  // Group the members by what was seen (each detail less its own member's label, up to the first ": ").
  const groups = new Map<string, string[]>();
  for (const j of judged) {
    for (const o of j.outcomes) {
      const at = o.detail.indexOf(': ');
      const label = at < 0 ? memberName(j.member) : o.detail.slice(0, at);
      const seen = at < 0 ? o.detail : o.detail.slice(at + 2);
      groups.set(seen, [...(groups.get(seen) ?? []), label.replace(/^(alloc|node) /, '')]);
    }
  }
  const seen = [...groups].map(([what, who]) => `${what}: ${who.join(', ')}`).join(' | ');
  return { check, kind: 'nomad', verdict: 'pass', detail: `${matched}, each held; ${seen}`, source, ...withNotes };
}

/** An allocation's best placement score (Nomad's Metrics.MaxNormScore()), from its final read. */
export function maxNormScore(a: AllocView): number | undefined {
  const meta = (a.final as { Metrics?: { ScoreMetaData?: Array<{ NormScore?: number }> | null } } | undefined)?.Metrics?.ScoreMetaData;
  const scores = (meta ?? []).map((m) => m.NormScore).filter((x): x is number => typeof x === 'number');
  return scores.length > 0 ? Math.max(...scores) : undefined;
}

/**
 * On reconnect, which allocation Nomad keeps of a cut-off original and its replacements: the
 * replacement when it scored higher at placement (best NormScore) and was running, the original
 * otherwise (scheduler/reconcile.go pickReconnectingAlloc, 1.6; NOMAD-FACTS 1.4 "best_score"). A
 * replacement counts when it is of the same slot, created after the original, and not stopped or
 * terminal when the original reported running again. Every original the cut found must end as the
 * rule says: kept running (its live replacements stopped), or stopped for the replacement that won.
 */
export function reconnectPicks(n: Normalised, source: string): Outcome[] {
  const expansion = expandMany(n, { allocsOn: 'partitioned' });
  const judged = expansion.members.map((m) => {
    const o = n.byRole.get('alloc' in m ? m.alloc : '')!;
    const check = (verdict: 'pass' | 'fail', detail: string): Outcome => ({ check: 'reconnect pick', kind: 'nomad', verdict, detail, source });
    const label = `alloc ${o.role} (${o.id.slice(0, 8)} on ${o.node})`;
    const unknownAt = o.observations.find((x) => x.client === 'unknown');
    const back = unknownAt ? o.observations.find((x) => x.index > unknownAt.index && x.client === 'running') : undefined;
    if (!back) return { member: m, outcomes: [check('fail', `${label}: never reported running again after unknown; nothing to pick`)] };
    const at = (a: AllocView) => a.observations.filter((x) => x.index < back.index).at(-1);
    const rivals = n.allocs
      .filter((a) => a.group === o.group && a.index === o.index && a.n > o.n)
      .filter((a) => {
        const s = at(a);
        return s !== undefined && s.desired === 'run' && !['complete', 'failed', 'lost'].includes(s.client);
      });
    const mine = maxNormScore(o);
    const winner = rivals.find((r) => {
      const score = maxNormScore(r);
      return at(r)!.client === 'running' && score !== undefined && (mine === undefined || score > mine);
    });
    const score = (a: AllocView) => `${a.role} ${maxNormScore(a)?.toFixed(4) ?? 'no score'}${a === o ? '' : ` (${at(a)!.client} at line ${back.line})`}`;
    const scores = [o, ...rivals].map(score).join(', ');
    const end = (a: AllocView) => `${a.final?.ClientStatus ?? a.observations.at(-1)?.client}/${a.final?.DesiredStatus ?? a.observations.at(-1)?.desired}`;
    const kept = (a: AllocView) => a.final?.DesiredStatus === 'run' && a.final.ClientStatus === 'running';
    if (winner) {
      const ok = o.final?.DesiredStatus === 'stop' && kept(winner);
      return {
        member: m,
        outcomes: [
          check(
            ok ? 'pass' : 'fail',
            `${label}: ${winner.role} scored higher and was running (scores ${scores}): expected ${o.role} stopped and ${winner.role} kept, observed ${o.role} ${end(o)}, ${winner.role} ${end(winner)}`,
          ),
        ],
      };
    }
    const stale = rivals.filter((r) => r.final?.DesiredStatus !== 'stop');
    const ok = kept(o) && stale.length === 0;
    return {
      member: m,
      outcomes: [
        check(
          ok ? 'pass' : 'fail',
          `${label}: no live replacement ${rivals.length ? 'scored higher while running' : 'at the reconnect'} (scores ${scores}): expected ${o.role} kept${rivals.length ? ` and ${rivals.map((r) => r.role).join(', ')} stopped` : ''}, observed ${o.role} ${end(o)}${rivals.length ? `, ${rivals.map((r) => `${r.role} ${end(r)}`).join(', ')}` : ''}`,
        ),
      ],
    };
  });
  return [foldOutcomes('reconnect: allocs on partitioned hosts kept or stopped by best score', expansion, undefined, judged, source) as Outcome];
}
