// Faults in a trace: which one an expectation means (`partition`, `heal#2`), and whether each took
// effect. A fault that did not take effect means the test did not happen: unknown, never pass or fail.
// Pure.
import type { Normalised } from '../trace/normalise.ts';
import type { Positioned, TraceEvent } from '../trace/types.ts';
import type { Outcome } from './outcome.ts';
import { partitionRulesIn } from '../lab/iptables.ts';
import { linkFaultsTookEffect } from './link-faults.ts';
import { isPartialPartition, onServer, partialPartitionTookEffect, serverFaultTookEffect } from './server-faults.ts';

/** Faults that cut a client off from its servers, and faults that restore it. */
export const CUTS: readonly string[] = ['partition', 'kill-agent', 'pause-agent'];
export const RESTORES: readonly string[] = ['heal', 'restart-agent', 'resume-agent'];

/**
 * `partition` or `heal`, optionally the n-th one: `heal#2` is the second restore of the run. Or
 * `server-kill` / `server-restart` (`#n` likewise): the n-th step that killed (restarted) servers,
 * however many servers it acted on, for runs whose only faults are on servers (`servers: all`).
 */
export type FaultRef = string;

export const FAULT_REF = /^(partition|heal|server-kill|server-restart)(?:#([1-9]\d*))?$/;

/** The server fault each server ref counts. */
const SERVER_REFS: Record<string, string> = { 'server-kill': 'kill-agent', 'server-restart': 'restart-agent' };

export type FaultEvent = Positioned<Extract<TraceEvent, { kind: 'fault' }>>;

/** The n-th fault that cut a client off ('partition') or restored it ('heal'), however it was done; or the n-th server kill (restart) step. */
export function faultAt(n: Normalised, ref: FaultRef): FaultEvent | undefined {
  const m = FAULT_REF.exec(ref);
  if (!m) return undefined;
  const serverFault = SERVER_REFS[m[1]!];
  if (serverFault !== undefined) return n.faults.filter((f) => f.fault === serverFault && onServer(n, f)).filter(firstOfGroup())[Number(m[2] ?? 1) - 1];
  const kinds = m[1] === 'partition' ? CUTS : RESTORES;
  // The run's cleanup heal is not a step of the scenario; a fault on a server cuts no client off.
  return n.faults.filter((f) => kinds.includes(f.fault) && f.detail !== 'cleanup' && !onServer(n, f)).filter(firstOfGroup())[Number(m[2] ?? 1) - 1];
}

/**
 * A filter that keeps one event per mass fault: one step on many hosts writes an event per host, all
 * with the same group id, and counts once (`heal#2` is the second heal step, not the second host).
 */
export function firstOfGroup(): (f: { group?: string }) => boolean {
  const seen = new Set<string>();
  return (f) => {
    if (f.group === undefined) return true;
    if (seen.has(f.group)) return false;
    seen.add(f.group);
    return true;
  };
}

/** The first fault that cut a client off ('partition') or restored it ('heal'). */
export const firstFault = (n: Normalised, kind: 'partition' | 'heal'): FaultEvent | undefined => faultAt(n, kind);

/** The mode a partition's argv was made in: INPUT rules (the seed's), OUTPUT rules, or both. */
export function partitionMode(argv: string[][]): 'input' | 'output' | 'both' {
  const input = argv.some((a) => a.includes('INPUT'));
  const output = argv.some((a) => a.includes('OUTPUT'));
  return input && output ? 'both' : output ? 'output' : 'input';
}

/** The rules a partition's argv inserts, as chain and address: INPUT -s <ip>, OUTPUT -d <ip>. */
const insertedRules = (argv: string[][]): Array<{ chain: string; flag: string; ip: string }> =>
  argv.flatMap((a) => {
    const chain = a[a.indexOf('-I') + 1];
    const flag = a.includes('-s') ? '-s' : '-d';
    const ip = a[a.indexOf(flag) + 1];
    return chain && ip ? [{ chain, flag, ip }] : [];
  });

/** Whether an `iptables -S` listing holds that DROP rule (the same reading the heal's check uses). */
const listed = (listing: string, r: { chain: string; ip: string }): boolean =>
  partitionRulesIn(listing, [r.ip]).some((line) => line.startsWith(`-A ${r.chain} `));

/**
 * Every partition took effect: its rules are listed in the host's namespace right after, and no server
 * answered a connect from that host to its RPC port. Agent faults: the agent was running before.
 */
export function faultsTookEffect(trace: Positioned[], n: Normalised): Outcome[] {
  const out: Outcome[] = [];
  for (const f of n.faults) {
    // Faults on servers and partitions from some servers only: server-faults.ts.
    if (onServer(n, f)) out.push(...serverFaultTookEffect(trace, n, f));
    else if (isPartialPartition(n, f)) out.push(partialPartitionTookEffect(trace, n, f));
    else if (f.fault === 'partition') {
      const name = `fault: partition of ${f.host} took effect`;
      // Up to the next fault; the other hosts' events of the same mass partition do not end this host's window.
      const next = trace.find((e) => e.line > f.line && e.kind === 'fault' && (f.group === undefined || e.group !== f.group || e.host === f.host));
      const window = (e: Positioned) => e.line > f.line && (next === undefined || e.line < next.line) && 'host' in e && e.host === f.host;
      const listing = trace.find(
        (e): e is Positioned<Extract<TraceEvent, { kind: 'iptables' }>> => e.kind === 'iptables' && window(e) && e.when === 'partitioned',
      );
      const probes = trace.filter((e): e is Positioned<Extract<TraceEvent, { kind: 'reach' }>> => e.kind === 'reach' && window(e) && e.after === 'partition');
      const rules = insertedRules(f.argv);
      const show = (r: { chain: string; flag: string; ip: string }) => `${r.chain} ${r.flag} ${r.ip}`;
      const unlisted = (listing ? rules.filter((r) => !listed(listing.rules, r)) : rules).map(show);
      const ips = rules.map(show);
      const answered = probes.filter((p) => p.reached);
      const broken = probes.filter((p) => p.broken);
      // After the heal the same probe must connect: else the probe (or the heal) does not work.
      const heal = n.faults.find((x) => x.line > f.line && x.fault === 'heal' && x.host === f.host);
      const healProbes = heal
        ? trace.filter(
            (e): e is Positioned<Extract<TraceEvent, { kind: 'reach' }>> => e.kind === 'reach' && e.line > heal.line && e.host === f.host && e.after === 'heal',
          )
        : [];
      const healBlocked = healProbes.filter((p) => !p.reached);
      const where = `trace line ${f.line}`;
      if (!listing)
        out.push({
          check: name,
          kind: 'fault',
          verdict: 'unknown',
          detail: `no iptables listing of ${f.host} after the partition (${where})`,
          source: 'harness: a fault counts only when seen in effect',
        });
      else if (unlisted.length > 0)
        out.push({
          check: name,
          kind: 'fault',
          verdict: 'unknown',
          detail: `the DROP ${unlisted.join(', ')} is not in ${f.host}'s rules (listing at line ${listing.line})`,
          source: 'harness: a fault counts only when seen in effect',
        });
      else if (probes.length === 0)
        out.push({
          check: name,
          kind: 'fault',
          verdict: 'unknown',
          detail: `no reachability probe from ${f.host} after the partition (${where}); a trace recorded before probes existed proves no partition`,
          source: 'harness: a fault counts only when seen in effect',
        });
      else if (broken.length > 0)
        out.push({
          check: name,
          kind: 'fault',
          verdict: 'unknown',
          detail: `${broken.map((p) => `${p.target}: ${p.detail} (line ${p.line})`).join('; ')}`,
          source: 'harness: a fault counts only when seen in effect',
        });
      else if (healBlocked.length > 0)
        out.push({
          check: name,
          kind: 'fault',
          verdict: 'unknown',
          detail: `after the heal (line ${heal!.line}) ${healBlocked.map((p) => `${p.target} still did not answer ${f.host}: ${p.detail}`).join('; ')}: the probe proves nothing, or the heal did not take effect`,
          source: 'harness: a fault counts only when seen in effect',
        });
      else if (answered.length > 0)
        out.push({
          check: name,
          kind: 'fault',
          verdict: 'unknown',
          detail: `${answered.map((p) => `${p.target} answered ${f.host} (${p.detail}, line ${p.line})`).join('; ')}: the client was not cut off`,
          source: 'harness: a fault counts only when seen in effect',
        });
      else
        out.push({
          check: name,
          kind: 'fault',
          verdict: 'pass',
          detail: `DROP of ${ips.join(', ')} listed (line ${listing.line}); ${probes.map((p) => `${p.target}: ${p.detail}`).join('; ')}`,
          source: 'harness: a fault counts only when seen in effect',
        });
    } else if (f.fault === 'write-file') {
      out.push(taskFailed(n, f));
    } else if (f.fault === 'kill-agent' || f.fault === 'pause-agent') {
      // The agent was running before (else "agent was not running"), and a killed one is gone after.
      const ok = f.detail === undefined && f.argv.length > 0;
      out.push({
        check: `fault: ${f.fault} on ${f.host} took effect`,
        kind: 'fault',
        verdict: ok ? 'pass' : 'unknown',
        detail: ok
          ? `${f.argv.map((a) => a.join(' ')).join('; ')} (trace line ${f.line})`
          : `${f.host}: ${f.detail ?? 'nothing was done to the agent'} (trace line ${f.line})`,
        source: 'harness: a fault counts only when seen in effect',
      });
    }
  }
  // Link profiles (degrade): proven by their rules, qdiscs and measured loss (link-faults.ts).
  out.push(...linkFaultsTookEffect(trace, n));
  return out;
}

/**
 * The servers' heartbeat timer cannot fire sooner than heartbeat_grace after a client is cut off: its
 * last heartbeat came at most one TTL before the cut, and the timer runs TTL + grace from it. A node
 * marked disconnected (or down) sooner is Nomad's doing. Measured from when the fault's first command
 * started (its time in effect for traces recorded before that was kept), with 0.25 s of slack.
 */
export function noEarlyDetection(n: Normalised, graceSeconds: number | undefined): Outcome[] {
  if (graceSeconds === undefined) return [];
  const out: Outcome[] = [];
  const cuts = n.faults.filter((x) => CUTS.includes(x.fault));
  // The cut's step number: the hosts of one mass cut (one group) share theirs.
  const groups: Array<string | undefined> = [];
  const stepOf = (f: { group?: string }) => {
    const at = f.group === undefined ? -1 : groups.indexOf(f.group);
    if (at >= 0) return at;
    groups.push(f.group);
    return groups.length - 1;
  };
  const steps = cuts.map(stepOf);
  for (const [i, f] of cuts.entries()) {
    const k = steps[i]!;
    const node = n.nodes.get(f.host);
    const marked = node?.observations.find((o) => o.t > f.t && (o.status === 'disconnected' || o.status === 'down'));
    if (!node || !marked) continue;
    // From when the fault's first command started: on an SSH host the rules go in one call at a time.
    const after = (marked.t - (f.began ?? f.t)) / 1000;
    const ok = after >= graceSeconds - 0.25;
    out.push({
      check: `lower bound: ${f.host} not ${marked.status} sooner than heartbeat_grace after the ${f.fault}${groups.length > 1 ? ` #${k + 1}` : ''}`,
      kind: 'nomad',
      verdict: ok ? 'pass' : 'fail',
      detail: `${f.host} ${marked.status} ${after.toFixed(2)}s after the ${f.fault} (line ${f.line} -> line ${marked.line}); heartbeat_grace is ${graceSeconds}s`,
      source: 'NOMAD-FACTS §3: the heartbeat timer runs TTL + grace from the last heartbeat, which came at most one TTL before the cut',
    });
  }
  return out;
}

/**
 * A `write_file` fault makes a task fail (the job's task exits non-zero when the file is there). It
 * took effect when the allocation's task terminated with a non-zero exit code after the file was
 * written and before the next heal: a failure only after the heal is not the case the scenario is
 * about (the servers would see it happen). Nomad's task event times are the client's clock, the fault's
 * the harness's: the same machine on a netns lab; 1 s of slack for an SSH host's.
 */
function taskFailed(n: Normalised, f: FaultEvent): Outcome {
  const name = `fault: the task failed after ${f.detail ? 'its fail file was written' : 'write_file'} on ${f.host}`;
  const source = 'harness: a fault counts only when seen in effect';
  const id = /\/alloc\/([0-9a-f-]{36})\//.exec(f.detail ?? '')?.[1];
  const a = id ? n.byId.get(id) : undefined;
  if (!a)
    return {
      check: name,
      kind: 'fault',
      verdict: 'unknown',
      detail: `no allocation of the job matches ${f.detail ?? 'the written file'} (trace line ${f.line})`,
      source,
    };
  const heal = n.faults.find((x) => x.line > f.line && RESTORES.includes(x.fault));
  const events = a.final?.TaskStates ? Object.values(a.final.TaskStates).flatMap((st) => st.Events ?? []) : (a.observations.at(-1)?.taskEvents ?? []);
  const failed = events
    .filter((e) => e.Type === 'Terminated' && (e.Details?.['exit_code'] ?? '1') !== '0' && e.Time / 1e6 >= f.t - 1000)
    .sort((x, y) => x.Time - y.Time)[0];
  const at = failed ? failed.Time / 1e6 : undefined;
  const ok = at !== undefined && (heal === undefined || at < heal.t);
  // No failure reported at all is either a write that did not work or Nomad losing the failure:
  // which one only the host could tell, so it does not outrank what the expectations say of Nomad
  // (a recording unknown). A failure reported after the heal is evidence the case did not happen.
  return {
    check: name,
    kind: at === undefined ? 'recording' : 'fault',
    verdict: ok ? 'pass' : 'unknown',
    detail:
      at === undefined
        ? `${a.role} (${a.id.slice(0, 8)}): no task terminated with a non-zero exit code after the write (trace line ${f.line})`
        : `${a.role} (${a.id.slice(0, 8)}): "${failed!.DisplayMessage ?? 'Terminated'}" ${((at - f.t) / 1000).toFixed(2)}s after the write${heal ? `, ${((heal.t - at) / 1000).toFixed(2)}s ${ok ? 'before' : 'AFTER'} the ${heal.fault} (line ${heal.line})` : ''}`,
    source,
  };
}
