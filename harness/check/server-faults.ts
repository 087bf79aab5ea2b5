// Faults on servers in a trace, and partitions of a client from some servers only: whether each took
// effect (a killed server gone, a restarted one back, a partial cut's listed servers unreachable and
// the others still reachable), and what Nomad must do about a killed leader (elect another). faults.ts
// calls in here for these cases; everything else about faults stays there. Pure.
import { partitionRulesIn } from '../lab/iptables.ts';
import type { Normalised } from '../trace/normalise.ts';
import type { Positioned, TraceEvent } from '../trace/types.ts';
import type { Outcome } from './outcome.ts';

type FaultEvent = Positioned<Extract<TraceEvent, { kind: 'fault' }>>;
type LeaderEvent = Positioned<Extract<TraceEvent, { kind: 'leader' }>>;
type ReachEvent = Positioned<Extract<TraceEvent, { kind: 'reach' }>>;

const FAULT_SOURCE = 'harness: a fault counts only when seen in effect';

/** The run's server hosts (name and address), from its header. */
export const serverHostsOf = (n: Pick<Normalised, 'run'>): Array<{ name: string; ip: string }> =>
  (n.run?.lab.hosts ?? []).filter((h) => h.role === 'server').map((h) => ({ name: h.name, ip: h.ip }));

/** Whether a fault acted on a server (not a client): it then neither cuts a client off nor restores one. */
export const onServer = (n: Pick<Normalised, 'run'>, f: { host: string }): boolean => serverHostsOf(n).some((s) => s.name === f.host);

/** The server addresses a partition's argv drops (INPUT -s, OUTPUT -d). */
const droppedIps = (argv: string[][]): string[] => [
  ...new Set(
    argv.flatMap((a) => {
      const flag = a.includes('-s') ? '-s' : '-d';
      const ip = a[a.indexOf(flag) + 1];
      return ip ? [ip] : [];
    }),
  ),
];

/** A partition that drops some servers' traffic but not all of them (3 servers, cut from 2). */
export function isPartialPartition(n: Pick<Normalised, 'run'>, f: FaultEvent): boolean {
  if (f.fault !== 'partition') return false;
  const servers = serverHostsOf(n).map((s) => s.ip);
  const cut = droppedIps(f.argv);
  return servers.length > 0 && cut.length > 0 && cut.every((ip) => servers.includes(ip)) && cut.length < servers.length;
}

/**
 * A partial partition took effect: each rule listed in the client's namespace right after, every
 * listed server unreachable from it, and every other server still reachable (else the client had
 * nowhere to fail over to, and the case is a full partition). After the heal every server answers.
 */
export function partialPartitionTookEffect(trace: Positioned[], n: Normalised, f: FaultEvent): Outcome {
  const servers = serverHostsOf(n);
  const cut = droppedIps(f.argv);
  const name = (ip: string) => servers.find((s) => s.ip === ip)?.name ?? ip;
  const check = `fault: partition of ${f.host} from ${cut.map(name).join(', ')} took effect`;
  const unknown = (detail: string): Outcome => ({ check, kind: 'fault', verdict: 'unknown', detail, source: FAULT_SOURCE });
  const next = trace.find((e) => e.line > f.line && e.kind === 'fault');
  const inWindow = (e: Positioned) => e.line > f.line && (next === undefined || e.line < next.line) && 'host' in e && e.host === f.host;
  const listing = trace.find(
    (e): e is Positioned<Extract<TraceEvent, { kind: 'iptables' }>> => e.kind === 'iptables' && inWindow(e) && e.when === 'partitioned',
  );
  if (!listing) return unknown(`no iptables listing of ${f.host} after the partition (trace line ${f.line})`);
  const rules = f.argv.filter((a) => a.includes('-I'));
  const unlisted = rules.filter((a) => {
    const chain = a[a.indexOf('-I') + 1];
    const ip = droppedIps([a])[0] ?? '';
    return !partitionRulesIn(listing.rules, [ip]).some((line) => line.startsWith(`-A ${chain} `));
  });
  if (unlisted.length > 0) return unknown(`not in ${f.host}'s rules (listing at line ${listing.line}): ${unlisted.map((a) => a.join(' ')).join('; ')}`);
  const probes = trace.filter((e): e is ReachEvent => e.kind === 'reach' && inWindow(e) && e.after === 'partition');
  const probeOf = (ip: string) => probes.find((p) => p.target.replace(/:\d+$/, '') === ip);
  const missing = servers.filter((s) => probeOf(s.ip) === undefined);
  if (missing.length > 0)
    return unknown(`no reach probe from ${f.host} to ${missing.map((s) => s.name).join(', ')} after the partition (trace line ${f.line})`);
  const broken = probes.filter((p) => p.broken);
  if (broken.length > 0) return unknown(broken.map((p) => `${p.target}: ${p.detail} (line ${p.line})`).join('; '));
  const answered = cut.filter((ip) => probeOf(ip)!.reached);
  if (answered.length > 0) return unknown(`${answered.map((ip) => `${name(ip)} answered ${f.host} (${probeOf(ip)!.detail})`).join('; ')}: not cut off from it`);
  const kept = servers.filter((s) => !cut.includes(s.ip));
  const silent = kept.filter((s) => !probeOf(s.ip)!.reached);
  if (silent.length > 0)
    return unknown(
      `${silent.map((s) => `${s.name} did not answer ${f.host} either (${probeOf(s.ip)!.detail})`).join('; ')}: the client had no server left, so this was no partial partition`,
    );
  const heal = n.faults.find((x) => x.line > f.line && x.fault === 'heal' && x.host === f.host);
  const afterHeal = heal ? trace.filter((e): e is ReachEvent => e.kind === 'reach' && e.line > heal.line && e.host === f.host && e.after === 'heal') : [];
  const stillCut = afterHeal.filter((p) => !p.reached);
  if (stillCut.length > 0)
    return unknown(
      `after the heal (line ${heal!.line}) ${stillCut.map((p) => `${p.target} still did not answer: ${p.detail}`).join('; ')}: the probe proves nothing, or the heal did not take effect`,
    );
  return {
    check,
    kind: 'fault',
    verdict: 'pass',
    detail: `DROP of ${cut.map(name).join(', ')} listed (line ${listing.line}); unreachable: ${cut.map((ip) => `${name(ip)} (${probeOf(ip)!.detail})`).join(', ')}; still reachable: ${kept.map((s) => `${s.name} (${probeOf(s.ip)!.detail})`).join(', ')}`,
    source: FAULT_SOURCE,
  };
}

/** The last leader resolution before a trace line. */
const leaderBefore = (trace: Positioned[], line: number): LeaderEvent | undefined =>
  trace.filter((e): e is LeaderEvent => e.kind === 'leader' && e.line < line).at(-1);

/**
 * A fault on a server: a kill or pause took effect when the agent ran before and (a kill) was gone
 * after; a restart or resume when the server was proven back (its agent answered, it names a leader
 * whose peers list it). A server that answers but does not rejoin is Nomad's doing (a fail); one
 * whose agent never answered proves nothing. A killed leader must be followed by another leader
 * while a quorum of the servers lives.
 */
export function serverFaultTookEffect(trace: Positioned[], n: Normalised, f: FaultEvent): Outcome[] {
  const out: Outcome[] = [];
  const servers = serverHostsOf(n);
  const resolved = leaderBefore(trace, f.line);
  const wasLeader = resolved?.leader === f.host;
  const role = wasLeader ? ` (the leader, as ${resolved!.askedOf} said at line ${resolved!.line})` : '';
  if (f.fault === 'kill-agent' || f.fault === 'pause-agent') {
    const ok = f.detail === undefined && f.argv.length > 0;
    out.push({
      check: `fault: ${f.fault} on server ${f.host} took effect`,
      kind: 'fault',
      verdict: ok ? 'pass' : 'unknown',
      detail: ok
        ? `${f.argv.map((a) => a.join(' ')).join('; ')}${role} (trace line ${f.line})`
        : `${f.host}: ${f.detail ?? 'nothing was done to the agent'} (trace line ${f.line})`,
      source: FAULT_SOURCE,
    });
    if (ok && wasLeader) {
      // Servers out of the cluster at this point: killed or paused and not back since, and the others
      // the same step killed or paused (`servers: all` kills one after another: the leader first may
      // be followed by the rest before any election could end).
      const down = new Set<string>();
      const sameStep = (x: FaultEvent) => f.group !== undefined && x.group === f.group;
      for (const x of n.faults.filter((x) => (x.line <= f.line || sameStep(x)) && servers.some((s) => s.name === x.host))) {
        if (x.fault === 'kill-agent' || x.fault === 'pause-agent') down.add(x.host);
        if (x.fault === 'restart-agent' || x.fault === 'resume-agent') down.delete(x.host);
      }
      if (servers.length - down.size > servers.length / 2) {
        const back = n.faults.find((x) => x.line > f.line && x.host === f.host && (x.fault === 'restart-agent' || x.fault === 'resume-agent'));
        const elected = trace.find(
          (e): e is LeaderEvent =>
            e.kind === 'leader' && e.line > f.line && (back === undefined || e.line < back.line) && e.leader !== undefined && e.leader !== f.host,
        );
        const tried = trace.filter((e): e is LeaderEvent => e.kind === 'leader' && e.line > f.line && (back === undefined || e.line < back.line)).at(-1);
        // The gauges the scenario's metric expectations read after the change: from the new leader.
        const gauge = elected
          ? trace.find((e): e is Positioned<Extract<TraceEvent, { kind: 'metric' }>> => e.kind === 'metric' && e.line > f.line && e.host === elected.leader)
          : undefined;
        out.push({
          check: `server: a new leader after the ${f.fault === 'kill-agent' ? 'kill' : 'pause'} of the leader ${f.host}`,
          kind: 'nomad',
          verdict: elected ? 'pass' : 'fail',
          detail: elected
            ? `${elected.leader} leads (${elected.askedOf} said, ${((elected.t - f.t) / 1000).toFixed(2)}s after the ${f.fault}, line ${elected.line}): ${elected.why}; ${gauge ? `gauges read from ${elected.leader} from line ${gauge.line}` : `no gauge read from ${elected.leader} since`}`
            : `no server named a leader other than ${f.host} ${back ? `before its restart (line ${back.line})` : 'after it'}${tried ? `: ${tried.why} (line ${tried.line})` : ''}`,
          source: `Raft: ${servers.length - down.size} of ${servers.length} servers are a quorum and elect a leader (Nomad docs "Consensus Protocol"; nomad/leader.go monitorLeadership at v1.6.0)`,
        });
      }
    }
  } else if (f.fault === 'restart-agent' || f.fault === 'resume-agent') {
    const proof = trace.find((e): e is Positioned<Extract<TraceEvent, { kind: 'rejoin' }>> => e.kind === 'rejoin' && e.line > f.line && e.host === f.host);
    const check = `fault: ${f.fault} of server ${f.host}: back in the cluster`;
    if (!proof)
      out.push({ check, kind: 'fault', verdict: 'unknown', detail: `no proof of ${f.host}'s return recorded after line ${f.line}`, source: FAULT_SOURCE });
    else if (proof.ok)
      out.push({
        check,
        kind: 'fault',
        verdict: 'pass',
        detail: `${proof.detail} (${(proof.elapsedMs / 1000).toFixed(2)}s after the ${f.fault} began, line ${proof.line})`,
        source: FAULT_SOURCE,
      });
    else if (!proof.answered)
      out.push({
        check,
        kind: 'fault',
        verdict: 'unknown',
        detail: `${f.host}'s agent never answered after the ${f.fault} (line ${proof.line}): ${proof.detail}`,
        source: FAULT_SOURCE,
      });
    else
      out.push({
        check: `server: ${f.host} rejoined after its ${f.fault === 'restart-agent' ? 'restart' : 'resume'}`,
        kind: 'nomad',
        verdict: 'fail',
        detail: `${f.host} answered but did not rejoin within ${(proof.elapsedMs / 1000).toFixed(0)}s (line ${proof.line}): ${proof.detail}`,
        source: 'Nomad docs "Outage recovery": a server restarted with its data dir rejoins its peers; the Raft configuration still lists it',
      });
  }
  return out;
}
