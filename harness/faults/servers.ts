// Faults on servers: kill, restart, pause or resume a server's agent (`server: leader`, whoever leads
// when the step runs; `server: "server[2]"`, by its 1-based index as in the host names server1..3;
// `server: killed` / `server: paused`, the servers earlier steps killed or paused; `servers: all`),
// and partitions of a client from some servers only (`from: ["server[1]", "server[2]"]`, or
// `from: { servers: 2 }`). Each action goes into the trace with its proof: who led when the leader
// was resolved, a killed agent gone, a restarted one back (it answers, it rejoined, a leader exists),
// a partial cut's rules and reach probes to every server. Selector parsing and choice are pure.
import type { AgentAction, ExecOptions, LabDriver, LabHost } from '../lab/driver.ts';
import { agreedLeader, LeaderApi, leaderHostOf, type LeaderAnswer } from '../nomad/leader.ts';
import type { NomadApi } from '../nomad/api.ts';
import type { TraceWriter } from '../trace/writer.ts';
import { HarnessError } from '../util/errors.ts';
import { pause, pollUntil } from '../util/poll.ts';
import { applyAll, assertHealed, healArgv, iptablesRules, partitionArgv, reach, SERVER_RPC_PORT, type PartitionMode } from './partition.ts';

/** A server agent step: exactly one of `server` (leader, killed, paused, "server[N]") and `servers: all`. */
export interface ServerAgentStep {
  do: 'kill_agent' | 'restart_agent' | 'pause_agent' | 'resume_agent';
  server?: string;
  servers?: 'all';
}

/** The servers a partial partition cuts a client from: by index, or a count. */
export type ServerSet = string[] | { servers: number };

export type ServerSelector = { leader: true } | { index: number } | { killed: true } | { paused: true } | { all: true };

/** Whether a step acts on servers (it names `server` or `servers`) rather than on a client. */
export const isServerStep = (step: object): step is ServerAgentStep => 'server' in step || 'servers' in step;

const INDEXED = /^server\[([1-9]\d*)\]$/;

/** A step's selector, or a sentence saying what is wrong with it. Pure. */
export function serverSelector(step: Pick<ServerAgentStep, 'server' | 'servers'>): ServerSelector | string {
  if ((step.server === undefined) === (step.servers === undefined)) return 'give exactly one of server and servers';
  if (step.servers !== undefined) return step.servers === 'all' ? { all: true } : `servers: ${JSON.stringify(step.servers)} (only "all")`;
  const s = step.server!;
  if (s === 'leader') return { leader: true };
  if (s === 'killed') return { killed: true };
  if (s === 'paused') return { paused: true };
  const m = INDEXED.exec(s);
  if (m) return { index: Number(m[1]) };
  return `server: ${JSON.stringify(s)} (leader, killed, paused or "server[N]", N from 1)`;
}

/** A selector as a person reads it. */
export function describeSelector(step: Pick<ServerAgentStep, 'server' | 'servers'>): string {
  return step.servers === 'all' ? 'all servers' : step.server === 'leader' ? 'the leader' : `server ${step.server ?? '?'}`;
}

/** The lab's server hosts in their order (server1, server2, ...). */
export const serversOf = <H extends { role: string }>(hosts: readonly H[]): H[] => hosts.filter((h) => h.role === 'server');

/** The server at a 1-based index, or why there is none. Pure. */
export function serverAt<H extends { role: string; name: string }>(hosts: readonly H[], index: number): H | string {
  const servers = serversOf(hosts);
  return servers[index - 1] ?? `there is no server[${index}]: the lab has ${servers.length} server(s) (${servers.map((s) => s.name).join(', ')})`;
}

/**
 * The servers a partial partition cuts the client from. Indexes name them; `{ servers: N }` takes
 * first the servers in `inUse` order (serversInUse: the one the client sent the most to first, since
 * cutting a server it does not use tests no failover at all), then the others in the lab's order. At least one server must stay
 * reachable (else it is a full partition) and at least one must be cut. Pure.
 */
export function pickServers<H extends { role: string; name: string }>(from: ServerSet, hosts: readonly H[], inUse: readonly string[]): H[] | string {
  const servers = serversOf(hosts);
  let picked: H[];
  if (Array.isArray(from)) {
    picked = [];
    for (const ref of from) {
      const m = INDEXED.exec(ref);
      if (!m) return `from: ${JSON.stringify(ref)} is not "server[N]"`;
      const s = serverAt(hosts, Number(m[1]));
      if (typeof s === 'string') return s;
      if (picked.includes(s)) return `from names ${ref} twice`;
      picked.push(s);
    }
  } else {
    // In inUse's order (the server used most first), not the lab's.
    const used = inUse.flatMap((name) => servers.filter((s) => s.name === name));
    picked = [...used, ...servers.filter((s) => !used.includes(s))].slice(0, from.servers);
    if (picked.length < from.servers) return `from: { servers: ${from.servers} }, but the lab has ${servers.length} server(s)`;
  }
  if (picked.length === 0) return 'from names no server';
  if (picked.length >= servers.length) return `from names every server (${servers.length}): that is a full partition, drop from`;
  return picked;
}

/** A client's established TCP connection to a server's RPC port, as `ss -tni` shows it. */
export interface RpcConnection {
  server: string;
  /** The client's end (address:port): one connection per server session. */
  local: string;
  /** Bytes the client sent on it (tcp_info bytes_sent). */
  bytesSent: number;
}

/**
 * The client's connections to servers' RPC port, from `ss -H -t -n -i` output: a socket line
 * (Recv-Q, Send-Q, local address:port, peer address:port; no State column with a state filter),
 * then an indented line of TCP info with bytes_sent. Pure.
 */
export function rpcConnectionsIn(ssOutput: string, servers: ReadonlyArray<{ name: string; ip: string }>, port = SERVER_RPC_PORT): RpcConnection[] {
  const out: RpcConnection[] = [];
  for (const line of ssOutput.split('\n')) {
    if (/^\s/.test(line)) {
      const last = out.at(-1);
      const sent = /\bbytes_sent:(\d+)/.exec(line);
      if (last && sent) last.bytesSent = Number(sent[1]);
      continue;
    }
    const [local, peer] = line
      .trim()
      .split(/\s+/)
      .filter((f) => /:\d+$/.test(f));
    if (local === undefined || peer === undefined || !peer.endsWith(`:${port}`)) continue;
    const ip = peer.replace(/^\[?(.*?)\]?:\d+$/, '$1');
    const s = servers.find((x) => x.ip === ip);
    if (s) out.push({ server: s.name, local, bytesSent: 0 });
  }
  return out;
}

/**
 * The servers a client has RPC connections to, the one it sent the most to first: its RPC server
 * since it started (heartbeats, blocking queries), where the others only saw its registration and
 * keep-alive pings. Pure.
 */
export const serversInUse = (connections: readonly RpcConnection[]): string[] => {
  const sent = new Map<string, number>();
  for (const c of connections) sent.set(c.server, (sent.get(c.server) ?? 0) + c.bytesSent);
  return [...sent.entries()].sort(([, x], [, y]) => y - x).map(([name]) => name);
};

/**
 * What a client sent to the kept servers since a baseline listing: more than a yamux keep-alive or
 * window update (12-byte frames) means RPCs, i.e. the client talks to that server now. Pure.
 */
export const RPC_TRAFFIC_BYTES = 64;
export function sentSince(before: readonly RpcConnection[], now: readonly RpcConnection[], servers: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of now) {
    if (!servers.includes(c.server)) continue;
    const was = before.find((b) => b.local === c.local && b.server === c.server)?.bytesSent ?? 0;
    out.set(c.server, (out.get(c.server) ?? 0) + Math.max(0, c.bytesSent - was));
  }
  return out;
}

/** `ss` listing, with TCP info, of the host's established TCP connections to a port. */
export const rpcConnectionsArgv = (port = SERVER_RPC_PORT): string[] => ['ss', '-H', '-t', '-n', '-i', 'state', 'established', 'dport', '=', `:${port}`];

/**
 * Whether a restarted (or resumed) server is back in the cluster (pure): it and every other live
 * server name one leader (`answers`, one per live server), and that leader's /v1/status/peers lists
 * it and its /v1/agent/members has it alive (`view`, asked of the agreed leader). Asking the
 * restarted server alone would pass one that bootstrapped afresh and named itself leader: a split
 * brain, two clusters.
 */
export function rejoinVerdict(
  host: { name: string; ip: string },
  answers: readonly LeaderAnswer[],
  view: { leader: string; peers: readonly string[]; members: ReadonlyArray<{ Addr: string; Status: string }> } | undefined,
): { ok: boolean; detail: string } {
  const own = answers.find((a) => a.server === host.name);
  if (own?.leader === undefined) return { ok: false, detail: `${host.name}: ${own?.detail ?? 'not asked'}` };
  const agreed = agreedLeader(answers);
  if ('why' in agreed) return { ok: false, detail: `${host.name} names ${own.leader} as leader, but ${agreed.why}` };
  if (view === undefined || view.leader !== agreed.leader) {
    return { ok: false, detail: `every live server names ${agreed.leader} as leader; its peers and members are not known` };
  }
  const listed = view.peers.some((p) => p.replace(/^\[?(.*?)\]?:\d+$/, '$1') === host.ip);
  const member = view.members.find((m) => m.Addr === host.ip);
  return {
    ok: listed && member?.Status === 'alive',
    detail: `every live server (${answers.map((a) => a.server).join(', ')}) names ${agreed.leader} as leader; ${agreed.leader}'s /v1/status/peers ${listed ? 'lists' : 'does NOT list'} ${host.ip} (${view.peers.join(', ') || 'none'}); its /v1/agent/members has ${host.name} ${member?.Status ?? 'not at all'}`,
  };
}

/** How long a killed leader's survivors get to elect a new one, and a restarted server to rejoin. */
export const ELECTION_TIMEOUT_MS = 30_000;
export const REJOIN_TIMEOUT_MS = 60_000;
/**
 * How long the harness watches a partially cut client for its failover to a server it still reaches,
 * when the scenario gives no bound of its own (`failoverWithin`): a harness bound, so a miss is a note.
 */
export const FAILOVER_WATCH_MS = 90_000;

/**
 * What a failover watch leaves in the trace. A failover seen is a wait that held. Not seen: a FAIL (a
 * wait that did not hold) only when the scenario asked for it (`failoverWithin`) and its bound passed;
 * stopped by the heal or the run's end, or past the harness's own bound, it is a note saying so (the
 * scenario's awaits judge what Nomad did: partial-partition.yaml awaits the reconnect itself). Pure.
 */
export function failoverRecord(o: {
  seen: boolean;
  stoppedBy: 'heal' | 'cleanup' | undefined;
  askedWithinMs: number | undefined;
}): { kind: 'await'; ok: boolean } | { kind: 'note'; why: string } {
  if (o.seen) return { kind: 'await', ok: true };
  if (o.stoppedBy === 'cleanup') return { kind: 'note', why: 'not seen before the run ended' };
  if (o.stoppedBy === 'heal') return { kind: 'note', why: 'not seen before the heal, which ended the watch (the partition it watched was gone)' };
  if (o.askedWithinMs !== undefined) return { kind: 'await', ok: false };
  return {
    kind: 'note',
    why: `not seen within the harness's ${FAILOVER_WATCH_MS / 1000}s watch (its own bound, not the scenario's: the scenario gives no failoverWithin)`,
  };
}

export interface ServerFaultDeps {
  lab: LabDriver;
  trace: TraceWriter;
  log: (message: string) => void;
  /** The steps' API; a LeaderApi is told to follow a new leader at once. */
  leader: NomadApi;
  readDeployments: (when: string) => Promise<void>;
  /** The run's cleanup heals these hosts (all partition rules, whatever servers they name). */
  partitioned: Set<LabHost>;
  modes: Map<string, PartitionMode>;
  signal: AbortSignal;
}

/** Who leads, as the first server that names a lab server as leader says. */
export async function resolveLeader(
  lab: LabDriver,
  candidates: readonly LabHost[] = serversOf(lab.hosts),
): Promise<{ leader: string | undefined; address: string; askedOf: string; answers: string[] }> {
  const answers: string[] = [];
  for (const s of candidates) {
    const answer = await lab
      .api(s)
      .leader()
      .catch((e: unknown) => {
        answers.push(`${s.name}: ${e instanceof Error ? e.message : String(e)}`);
        return undefined;
      });
    if (answer === undefined) continue;
    answers.push(`${s.name}: ${JSON.stringify(answer)}`);
    const leader = leaderHostOf(answer, serversOf(lab.hosts));
    if (leader !== undefined) return { leader, address: answer, askedOf: s.name, answers };
  }
  return { leader: undefined, address: '', askedOf: candidates.map((c) => c.name).join(', '), answers };
}

/** The server faults of one run: what they did is remembered (killed, paused, partial cuts) for later steps. */
export function serverFaults(d: ServerFaultDeps) {
  const { lab, trace, log } = d;
  const servers = serversOf(lab.hosts);
  const killed = new Set<string>();
  const paused = new Set<string>();
  /** Client host -> the server IPs its partial partition cut it from. */
  const cutFrom = new Map<string, string[]>();
  /** Client host -> the failover watch of its partial partition (stopped by the heal). */
  const watches = new Map<string, { stop: AbortController; done: Promise<void> }>();
  const follow = async (why: string) => {
    if (d.leader instanceof LeaderApi) await d.leader.resolve(why);
  };

  /** `group`: one id on every server's event of a step that acted on several (`servers: all`). */
  const act = async (host: LabHost, action: AgentAction, group: string | undefined) => {
    const began = Date.now();
    const { argv, wasRunning, goneAfter } = await lab.agent(host, action);
    const detail = !wasRunning && action !== 'restart' ? 'agent was not running' : goneAfter === false ? 'agent still running after the kill' : undefined;
    trace.add({ kind: 'fault', t: Date.now(), fault: `${action}-agent`, host: host.name, argv, detail, began, ...(group === undefined ? {} : { group }) });
    log(`${action} agent on server ${host.name}${argv.length ? '' : ' (it was not running)'}${detail ? `: ${detail}` : ''}`);
    if (action === 'kill' || action === 'pause') (action === 'kill' ? killed : paused).add(host.name);
    if (action === 'restart') killed.delete(host.name);
    if (action === 'resume') paused.delete(host.name);
  };

  /** The hosts a selector names now; the leader is resolved here and recorded. */
  const select = async (step: ServerAgentStep): Promise<{ hosts: LabHost[]; leader: string | undefined }> => {
    const sel = serverSelector(step);
    if (typeof sel === 'string') throw new HarnessError(`${step.do}: ${sel}`);
    const live = servers.filter((s) => !killed.has(s.name) && !paused.has(s.name));
    const found = await resolveLeader(lab, live);
    trace.add({
      kind: 'leader',
      t: Date.now(),
      leader: found.leader,
      address: found.address,
      askedOf: found.askedOf,
      why: `${step.do} of ${describeSelector(step)}`,
    });
    if ('leader' in sel) {
      if (found.leader === undefined) throw new HarnessError(`${step.do} server: leader: no server named a leader (${found.answers.join('; ')})`);
      return { hosts: [lab.hosts.find((h) => h.name === found.leader)!], leader: found.leader };
    }
    if ('index' in sel) {
      const s = serverAt(lab.hosts, sel.index);
      if (typeof s === 'string') throw new HarnessError(`${step.do}: ${s}`);
      return { hosts: [s], leader: found.leader };
    }
    if ('all' in sel) return { hosts: servers, leader: found.leader };
    const set = 'killed' in sel ? killed : paused;
    if (set.size === 0) throw new HarnessError(`${step.do} server: ${step.server}: no server is ${step.server} now`);
    return { hosts: servers.filter((s) => set.has(s.name)), leader: found.leader };
  };

  /** After the leader's kill: the survivors elect another; recorded with how long it took. */
  const awaitElection = async (gone: string[]) => {
    const survivors = servers.filter((s) => !gone.includes(s.name) && !killed.has(s.name) && !paused.has(s.name));
    // With fewer than a quorum of the servers left, no election can succeed: nothing to wait for.
    if (survivors.length <= servers.length / 2) return;
    const started = Date.now();
    let last: Awaited<ReturnType<typeof resolveLeader>> | undefined;
    await pollUntil(
      async () => {
        last = await resolveLeader(lab, survivors);
        return last.leader !== undefined && !gone.includes(last.leader);
      },
      { timeoutMs: ELECTION_TIMEOUT_MS, intervalsMs: [100, 250], signal: d.signal },
    ).catch(() => false);
    const elected = last?.leader !== undefined && !gone.includes(last.leader);
    trace.add({
      kind: 'leader',
      t: Date.now(),
      leader: elected ? last!.leader : undefined,
      address: last?.address ?? '',
      askedOf: last?.askedOf ?? survivors.map((s) => s.name).join(', '),
      why: elected
        ? `elected ${((Date.now() - started) / 1000).toFixed(2)}s after the kill of ${gone.join(', ')}`
        : `no new leader within ${ELECTION_TIMEOUT_MS / 1000}s of the kill of ${gone.join(', ')} (${last?.answers.join('; ') ?? 'no answer'})`,
      previous: gone[0],
    });
    log(elected ? `new leader ${last!.leader} after ${((Date.now() - started) / 1000).toFixed(1)}s` : `no new leader within ${ELECTION_TIMEOUT_MS / 1000}s`);
    await follow(`the leader ${gone.join(', ')} was killed`);
  };

  /**
   * A restarted (or resumed) server: its agent answers, every live server names the same leader (a
   * server that bootstrapped afresh and leads itself is a split brain, not a rejoin), and that
   * leader's peers list it and its gossip has it alive (rejoinVerdict).
   */
  /** `started`: when the restart (resume) began; the time back is counted from there. */
  const proveBack = async (hosts: LabHost[], started: number) => {
    const seen = new Map<string, { ok: boolean; answered: boolean; detail: string }>(
      hosts.map((h) => [h.name, { ok: false, answered: false, detail: 'no answer yet' }]),
    );
    /** Who one server follows; `answered`: its agent runs ("No cluster leader" is an answer too). */
    const ask = async (s: LabHost): Promise<LeaderAnswer & { answered: boolean }> => {
      const answer = await lab
        .api(s)
        .leader()
        .then(
          (a) => ({ a }),
          (e: unknown) => ({ e: e instanceof Error ? e.message : String(e) }),
        );
      if ('e' in answer) return { server: s.name, leader: undefined, answered: /answered/.test(answer.e), detail: answer.e };
      const leader = leaderHostOf(answer.a, servers);
      return {
        server: s.name,
        leader,
        answered: true,
        detail: leader === undefined ? `answers but names no leader (${JSON.stringify(answer.a)})` : `follows ${leader}`,
      };
    };
    const check = async (h: LabHost, answers: ReadonlyArray<LeaderAnswer & { answered: boolean }>) => {
      const was = seen.get(h.name)!;
      if (was.ok) return;
      const own = answers.find((a) => a.server === h.name)!;
      if (own.leader === undefined) {
        seen.set(h.name, { ok: false, answered: was.answered || own.answered, detail: `${h.name}: ${own.detail}` });
        return;
      }
      const agreed = agreedLeader(answers);
      const host = 'leader' in agreed ? servers.find((s) => s.name === agreed.leader) : undefined;
      const view = host && {
        leader: host.name,
        peers: await lab
          .api(host)
          .get<string[]>('/v1/status/peers')
          .catch(() => [] as string[]),
        // The Raft configuration keeps a dead server listed; gossip tells whether it is alive again.
        members: await lab
          .api(host)
          .get<{ Members?: Array<{ Name: string; Addr: string; Status: string }> }>('/v1/agent/members')
          .then((m) => m.Members ?? [])
          .catch(() => []),
      };
      seen.set(h.name, { ...rejoinVerdict(h, answers, view), answered: true });
    };
    await pollUntil(
      async () => {
        // Every server not killed or paused now, asked once a round: all of them must follow one leader.
        const live = servers.filter((s) => hosts.some((h) => h.name === s.name) || (!killed.has(s.name) && !paused.has(s.name)));
        const answers = await Promise.all(live.map(ask));
        await Promise.all(hosts.map((h) => check(h, answers)));
        return [...seen.values()].every((s) => s.ok);
      },
      { timeoutMs: REJOIN_TIMEOUT_MS, intervalsMs: [250, 500], signal: d.signal },
    ).catch(() => false);
    for (const h of hosts) {
      const s = seen.get(h.name)!;
      trace.add({ kind: 'rejoin', t: Date.now(), host: h.name, ok: s.ok, answered: s.answered, elapsedMs: Date.now() - started, detail: s.detail });
      log(`${h.name} ${s.ok ? 'rejoined' : 'NOT back'} after ${((Date.now() - started) / 1000).toFixed(1)}s: ${s.detail}`);
    }
    await follow(`after ${hosts.map((h) => h.name).join(', ')} came back`);
  };

  return {
    /** kill / restart / pause / resume of the servers a step names. */
    async agent(step: ServerAgentStep): Promise<void> {
      const action = step.do.slice(0, -'_agent'.length) as AgentAction;
      const { hosts, leader } = await select(step);
      await d.readDeployments(`before the ${action} of ${hosts.map((h) => h.name).join(', ')}`);
      const began = Date.now();
      // The checker tells one step on every server from separate steps by this id: the servers a
      // step killed together are all down when it judges whether a quorum was left to elect a leader.
      const group = hosts.length > 1 ? `servers-${action}-${began.toString(36)}` : undefined;
      for (const h of hosts) await act(h, action, group);
      if ((action === 'kill' || action === 'pause') && leader !== undefined && hosts.some((h) => h.name === leader)) await awaitElection([leader]);
      if (action === 'restart' || action === 'resume') await proveBack(hosts, began);
    },

    /** Cuts a client off from some servers only; the others must stay reachable. */
    async partitionFrom(host: LabHost, from: ServerSet, mode: PartitionMode, failoverWithinMs?: number): Promise<void> {
      const exec = (a: string[], o?: ExecOptions) => lab.exec(host, a, o);
      const listing = await exec(rpcConnectionsArgv(), { check: false });
      const connections = listing.exitCode === 0 ? rpcConnectionsIn(listing.stdout, servers) : [];
      const inUse = serversInUse(connections);
      const picked = pickServers(from, lab.hosts, inUse);
      if (typeof picked === 'string') throw new HarnessError(`partition of ${host.name}: ${picked}`, { host: host.name });
      const kept = servers.filter((s) => !picked.includes(s));
      trace.add({
        kind: 'note',
        t: Date.now(),
        message: `${host.name} had RPC connections to ${connections.map((c) => `${c.server} (${c.bytesSent} bytes sent)`).join(', ') || 'no server'} (${listing.exitCode === 0 ? 'ss' : `ss failed: ${listing.stderr.trim()}`}); cutting it from ${picked.map((s) => s.name).join(', ')}, keeping ${kept.map((s) => s.name).join(', ')}`,
      });
      await d.readDeployments(`before the partition of ${host.name} from ${picked.map((s) => s.name).join(', ')}`);
      const ips = picked.map((s) => s.ip);
      const argv = partitionArgv(ips, mode);
      d.modes.set(host.name, mode);
      cutFrom.set(host.name, ips);
      d.partitioned.add(host);
      const began = Date.now();
      await applyAll(exec, argv);
      trace.add({ kind: 'fault', t: Date.now(), fault: 'partition', host: host.name, argv, began });
      trace.add({ kind: 'iptables', t: Date.now(), host: host.name, when: 'partitioned', rules: await iptablesRules(exec) });
      // The proof: the cut servers do not answer, the kept ones do.
      for (const r of await Promise.all(servers.map((s) => reach(exec, s.ip))))
        trace.add({ kind: 'reach', t: Date.now(), host: host.name, after: 'partition', ...r });
      log(`partitioned ${host.name} from ${picked.map((s) => s.name).join(', ')}: ${argv.map((a) => a.join(' ')).join('; ')}`);
      watches.set(host.name, watchFailover(host, picked, kept, connections, began, failoverWithinMs));
    },

    /** Whether the host's current partition is a partial one (its heal is this module's). */
    isPartial: (host: LabHost) => cutFrom.has(host.name),

    /** Heals a partial partition: exactly the rules it added, then the proof as for a full one. */
    async healFrom(host: LabHost): Promise<void> {
      const ips = cutFrom.get(host.name);
      if (ips === undefined) throw new HarnessError(`${host.name} has no partial partition to heal`, { host: host.name });
      const exec = (a: string[], o?: ExecOptions) => lab.exec(host, a, o);
      const argv = healArgv(ips, d.modes.get(host.name) ?? 'input');
      await applyAll(exec, argv);
      trace.add({ kind: 'fault', t: Date.now(), fault: 'heal', host: host.name, argv });
      const watch = watches.get(host.name);
      watch?.stop.abort('heal');
      await watch?.done;
      watches.delete(host.name);
      trace.add({
        kind: 'iptables',
        t: Date.now(),
        host: host.name,
        when: 'healed',
        rules: await assertHealed(
          exec,
          host.name,
          servers.map((s) => s.ip),
        ),
      });
      d.partitioned.delete(host);
      cutFrom.delete(host.name);
      for (const r of await Promise.all(servers.map((s) => reach(exec, s.ip))))
        trace.add({ kind: 'reach', t: Date.now(), host: host.name, after: 'heal', ...r });
      log(`healed ${host.name}`);
    },

    /** Stops the failover watches (the run's end). */
    async stop(): Promise<void> {
      for (const w of watches.values()) w.stop.abort('cleanup');
      await Promise.all([...watches.values()].map((w) => w.done));
      watches.clear();
    },
  };

  /**
   * Watches a partially cut client until it holds an RPC connection to a server it still reaches:
   * its failover, recorded as failoverRecord says (a wait, or a note when there is nothing to judge).
   */
  function watchFailover(host: LabHost, cut: LabHost[], kept: LabHost[], before: RpcConnection[], began: number, askedWithinMs: number | undefined) {
    const stop = new AbortController();
    const keptNames = kept.map((s) => s.name);
    const what = `${host.name} fails over to a server it still reaches (${keptNames.join(', ')}): RPC traffic to it after the cut`;
    const boundMs = askedWithinMs ?? FAILOVER_WATCH_MS;
    const done = (async () => {
      let seen = 'no listing yet';
      let ok = false;
      while (!stop.signal.aborted && !d.signal.aborted && Date.now() - began < boundMs) {
        const r = await lab.exec(host, rpcConnectionsArgv(), { check: false }).catch(() => undefined);
        if (r && r.exitCode === 0) {
          const sent = sentSince(before, rpcConnectionsIn(r.stdout, servers), keptNames);
          seen = `sent since the cut: ${keptNames.map((k) => `${sent.get(k) ?? 0} bytes to ${k}`).join(', ')}`;
          if ([...sent.values()].some((b) => b > RPC_TRAFFIC_BYTES)) {
            ok = true;
            break;
          }
        }
        await pause(250, stop.signal);
      }
      const stoppedBy = stop.signal.aborted ? (stop.signal.reason === 'heal' ? 'heal' : 'cleanup') : d.signal.aborted ? 'cleanup' : undefined;
      const record = failoverRecord({ seen: ok, stoppedBy, askedWithinMs });
      if (record.kind === 'note') {
        trace.add({ kind: 'note', t: Date.now(), message: `${what}: ${record.why} (${seen})` });
        log(`${what}: ${record.why} (${seen})`);
        return;
      }
      trace.add({
        kind: 'await',
        t: Date.now(),
        what,
        ok: record.ok,
        elapsedMs: Date.now() - began,
        deadlineMs: boundMs,
        lastSeen: `${seen} (more than ${RPC_TRAFFIC_BYTES} bytes: RPCs, not keep-alives); cut from ${cut.map((s) => s.name).join(', ')}`,
      });
      log(`${what}: ${ok ? `after ${((Date.now() - began) / 1000).toFixed(1)}s` : 'NOT seen'} (${seen})`);
    })();
    return { stop, done };
  }
}

export type ServerFaults = ReturnType<typeof serverFaults>;

/**
 * The run's API client that follows the leader (nomad/leader.ts), starting at the leader found when
 * the run began; each change it follows goes into the trace.
 */
export function followLeader(lab: LabDriver, leaderHost: LabHost, trace: TraceWriter, log: (message: string) => void): LeaderApi {
  const servers = serversOf(lab.hosts).map((h) => ({ name: h.name, ip: h.ip, api: lab.api(h) }));
  const first = servers.find((s) => s.name === leaderHost.name) ?? { name: leaderHost.name, ip: leaderHost.ip, api: lab.api(leaderHost) };
  return new LeaderApi(servers, first, (change) => {
    trace.add({ kind: 'leader', t: Date.now(), ...change, why: `the harness's API calls follow the leader: ${change.why}` });
    log(`the harness's API calls now go to ${change.leader ?? '?'} (the leader, said ${change.askedOf}), no longer to ${change.previous}`);
  });
}

/**
 * What the schema cannot say of server steps, for the loader: indexes within the lab's servers,
 * `from` only with `clientOf` and leaving a server reachable. Pure: [step index, message] pairs.
 */
export function serverStepProblems(steps: readonly object[], servers: number): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  const hosts = Array.from({ length: servers }, (_, k) => ({ role: 'server', name: `server${k + 1}` }));
  for (const [i, step] of steps.entries()) {
    const s = step as { do?: string; server?: string; servers?: 'all'; from?: ServerSet; clientOf?: string };
    if (isServerStep(s)) {
      const sel = serverSelector(s);
      if (typeof sel === 'string') out.push([i, sel]);
      else if ('index' in sel && sel.index > servers) out.push([i, `server[${sel.index}]: the lab has ${servers} server(s)`]);
    }
    if (s.do === 'partition' && s.from !== undefined) {
      if (s.clientOf === undefined) out.push([i, 'from (a partition from some servers) needs clientOf']);
      const picked = pickServers(s.from, hosts, []);
      if (typeof picked === 'string') out.push([i, picked]);
    }
  }
  return out;
}
