// The netns provider: brings a lab up (network, Ansible-rendered config, supervised agents, wait
// for a leader and ready clients), reports its status, and sweeps up what killed runs left.
import { mkdirSync } from 'node:fs';
import type { LabConfig } from '../config/lab-config.ts';
import { labDir } from '../config/paths.ts';
import { NomadApi, type NomadNodeStub } from '../nomad/api.ts';
import { resolveNomad, type NomadBinary } from '../nomad/binary.ts';
import { HarnessError, UsageError } from '../util/errors.ts';
import { hostDirs, renderAgentConfig } from './ansible.ts';
import { agentNetnsMatches, isOurAgent, logTail, startAgent } from './agents.ts';
import { hostApi } from './guard.ts';
import { bootstrapAcl } from './acl.ts';
import { labRegion, makeCertificates } from './tls.ts';
import {
  addForwardRule,
  createBridge,
  createHostNetwork,
  deleteLink,
  deleteNetns,
  ensureUnreachableRoute,
  labResources,
  removeTaggedRules,
  removeUnreachableRoute,
  routes,
  isOurUnreachable,
  taggedRules,
} from './network.ts';
import { preflight, preflightError } from './preflight.ts';
import { observe, readyTimeoutMs, waitForLeaderAndClients, type Readiness } from './cluster.ts';
import { eachBounded } from '../util/bounded.ts';
import { hostSshd, sshdPaths, startSshdHosts } from './sshd.ts';
import { cmdline } from '../exec/procs.ts';
import { SshPool } from '../exec/ssh.ts';
import { isLeftover, listLabs, readLab, readState, selfIdentity, writeState, type LabState } from './store.ts';
import { killProcesses, teardownLab } from './teardown.ts';
import { deleteArgv, ruleComment } from './iptables.ts';
import { run } from '../exec/local.ts';
import { clients, labId, planLab, servers, type LabPlan } from './topology.ts';
import { NetnsDriver } from './driver.ts';
import { auditLeaks, formatLeaks } from './audit.ts';
import { shellCommandFor } from './shell.ts';
import { formatStatus } from './status-text.ts';
import type { LabProvider } from './provider.ts';
import type { StoredLab } from './store.ts';

type Log = (message: string) => void;
type Waiting = (what: string, elapsedMs: number, deadlineMs: number, detail: string) => void;

export interface UpOptions {
  config: LabConfig;
  /** true for `lab up` (the lab stays after the command); false for a run that owns its lab. */
  persistent: boolean;
  signal: AbortSignal;
  log: Log;
  waiting?: Waiting;
  readyTimeoutMs?: number;
}

export interface UpTimings {
  networkSeconds: number;
  ansibleSeconds: number;
  /** From the first agent's start to the last one running as itself. */
  agentsSeconds: number;
  /** From the agents started to a leader and every client ready (ACL bootstrap included). */
  readySeconds: number;
  totalSeconds: number;
}

/**
 * How many agents start at once. Each start waits for its process to show the agent's argv and then
 * 200 ms to see that it did not die at once: mostly waiting, which 8 in flight overlap (100 clients
 * started in about 8 s on 2 cores). Not tuned further: more in flight would only crowd the 2 cores
 * while the Go runtimes start, and a death in the first 200 ms must still be seen per agent.
 */
export const AGENT_START_CONCURRENCY = 8;

export interface UpResult {
  state: LabState;
  nomad: NomadBinary;
  timings: UpTimings;
  reused: boolean;
}

class AgentDied extends HarnessError {}

export function serverApi(plan: LabPlan, host = servers(plan)[0]!): NomadApi {
  return hostApi(plan, host);
}

function samePlan(a: LabPlan, b: LabPlan): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export async function labUp(options: UpOptions): Promise<UpResult> {
  const { config, signal, log } = options;
  const started = Date.now();
  const plan = planLab(config.spec);
  const nomad = await resolveNomad(config.nomad);
  log(`nomad: ${nomad.path} (${nomad.source}): ${nomad.versionText}`);

  const existing = readState(plan.name);
  if (existing) {
    if (isLeftover(existing)) {
      await teardownLab(plan.name, existing.plan, log);
      log(`cleaned leftovers of lab ${plan.name}`);
    } else if (existing.phase === 'up' && existing.persistent && samePlan(existing.plan, plan) && existing.nomad.path === nomad.path) {
      const down = existing.agents.filter((a) => !isOurAgent(a));
      if (down.length === 0) {
        log(`lab ${plan.name} is already up`);
        return {
          state: existing,
          nomad,
          timings: { networkSeconds: 0, ansibleSeconds: 0, agentsSeconds: 0, readySeconds: 0, totalSeconds: 0 },
          reused: true,
        };
      }
      throw new HarnessError(`lab ${plan.name} is up but agents are not running: ${down.map((a) => a.host).join(', ')}`, {
        hint: `run nomad-lab lab down --lab ${plan.name} and up again`,
      });
    } else if (existing.phase === 'up' && existing.persistent) {
      throw new UsageError(
        `lab ${plan.name} is already up with another topology or binary`,
        `run nomad-lab lab down --lab ${plan.name} first, or pick another --lab`,
      );
    } else {
      throw new UsageError(`lab ${plan.name} is in use by process ${existing.owner.pid} (${existing.phase})`, 'wait for it to finish, or pick another --lab');
    }
  }

  // A region the certificates cannot name is the lab file's mistake: say so before anything is made.
  const region = plan.tls === true ? labRegion(config.agentVars) : undefined;
  const { problems, notes } = await preflight(plan);
  for (const n of notes) log(`preflight: ${n.note}`);
  if (problems.length > 0) throw preflightError(problems);

  const dir = labDir(plan.name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const state: LabState = {
    version: 1,
    provider: 'netns',
    plan,
    phase: 'creating',
    owner: selfIdentity(),
    persistent: false,
    nomad: { path: nomad.path, version: nomad.version, source: nomad.source },
    createdAt: new Date().toISOString(),
    agents: [],
    dir,
  };
  // The state file comes first: from here on, whatever happens, teardown (or the next run) finds the lab.
  writeState(state);

  log(`lab ${plan.name} (${plan.id}): ${servers(plan).length} server(s), ${clients(plan).length} client(s) on ${plan.subnet}`);
  await ensureUnreachableRoute();
  await createBridge(plan);
  await addForwardRule(plan);
  for (const host of plan.hosts) {
    signal.throwIfAborted();
    await createHostNetwork(plan, host);
  }
  const networkSeconds = (Date.now() - started) / 1000;

  if (plan.sshd === true) {
    // Hosts reachable over SSH and nothing else: Nomad comes through the inventory provider.
    state.sshd = await startSshdHosts(plan, dir, log);
    await checkSshd(plan, dir, signal);
    signal.throwIfAborted();
    state.phase = 'up';
    state.persistent = options.persistent;
    writeState(state);
    const totalSeconds = (Date.now() - started) / 1000;
    return {
      state,
      nomad,
      reused: false,
      timings: { networkSeconds, ansibleSeconds: 0, agentsSeconds: 0, readySeconds: totalSeconds - networkSeconds, totalSeconds },
    };
  }

  if (region !== undefined) await makeCertificates(plan, nomad, region, { signal, log });
  log('rendering agent configuration with Ansible (role nomad)');
  const ansible = await renderAgentConfig(plan, dir, nomad.version, config.agentVars, signal);

  // Servers first, then the clients, each group started concurrently (bounded). Every agent is in the
  // state file as soon as it runs, so a failure or a signal part way leaves nothing teardown misses;
  // an agent whose start fails lets the ones in flight finish (and be recorded) before the error.
  const agentsStart = Date.now();
  for (const group of [servers(plan), clients(plan)]) {
    await eachBounded(group, AGENT_START_CONCURRENCY, async (host) => {
      signal.throwIfAborted();
      state.agents.push(await startAgent(nomad.path, host, hostDirs(dir, host), log));
      writeState(state);
    });
  }
  // In plan order, as before the starts were concurrent: status and teardown read them by host.
  const order = new Map(plan.hosts.map((h, i) => [h.name, i]));
  state.agents.sort((a, b) => order.get(a.host)! - order.get(b.host)!);
  writeState(state);
  const agentsSeconds = (Date.now() - agentsStart) / 1000;
  log(`started ${state.agents.length} agents in ${agentsSeconds.toFixed(1)}s; waiting for a leader and ${clients(plan).length} ready clients`);
  const readyStart = Date.now();
  if (plan.acl) {
    await bootstrapAcl(plan, hostApi(plan, servers(plan)[0]!, 'none'), { signal, log });
  }
  await waitReady(plan, state, options);
  const readySeconds = (Date.now() - readyStart) / 1000;
  // A signal that arrived while the last wait was ending still means "stop": never report up.
  signal.throwIfAborted();

  state.phase = 'up';
  state.persistent = options.persistent;
  writeState(state);
  const totalSeconds = (Date.now() - started) / 1000;
  return { state, nomad, reused: false, timings: { networkSeconds, ansibleSeconds: ansible.seconds, agentsSeconds, readySeconds, totalSeconds } };
}

/** Every sshd answers a command over SSH with the lab's key, its host key checked against known_hosts. */
async function checkSshd(plan: LabPlan, dir: string, signal: AbortSignal): Promise<void> {
  const paths = sshdPaths(dir);
  const pool = new SshPool();
  try {
    for (const h of plan.hosts) {
      signal.throwIfAborted();
      await pool.run({ name: h.name, address: h.ip, port: 22, user: 'root', identityFile: paths.clientKey, knownHosts: paths.knownHosts }, ['true'], {
        timeoutMs: 15_000,
      });
    }
  } finally {
    await pool.closeAll();
  }
}

async function waitReady(plan: LabPlan, state: LabState, options: UpOptions): Promise<Readiness> {
  const agentsAlive = () => {
    for (const agent of state.agents) {
      if (!isOurAgent(agent)) {
        throw new AgentDied(`nomad agent exited while starting; last lines of ${agent.logFile}:\n    ${logTail(agent.logFile)}`, { host: agent.host });
      }
    }
  };
  return waitForLeaderAndClients(() => observe([serverApi(plan)], agentsAlive), {
    clients: clients(plan).map((c) => c.name),
    timeoutMs: options.readyTimeoutMs ?? readyTimeoutMs(clients(plan).length),
    signal: options.signal,
    fatal: (e) => e instanceof AgentDied,
    ...(options.waiting ? { waiting: options.waiting } : {}),
  });
}

export interface HostStatus {
  name: string;
  role: string;
  /** The datacenter the lab plans for the host. */
  datacenter: string;
  /** The datacenter Nomad reports for a client's node. */
  nodeDatacenter: string | undefined;
  ip: string;
  netns: string;
  pid: number | undefined;
  agent: 'running' | 'stopped';
  /** The agent runs in its own namespace (by inode, as `ip netns identify` tells). */
  netnsOk: boolean;
  nodeId: string | undefined;
  status: string | undefined;
  leader: boolean;
}

export interface LabStatus {
  name: string;
  id: string;
  subnet: string;
  bridge: string;
  phase: string;
  persistent: boolean;
  createdAt: string;
  nomad: LabState['nomad'];
  nomadVersionReported: string | undefined;
  /** sshd labs: the inventory their hosts are reached with (the AGENT column is then sshd). */
  inventory?: string;
  hosts: HostStatus[];
  apiError: string | undefined;
}

export async function labStatus(name: string): Promise<LabStatus | undefined> {
  const state = readState(name);
  if (!state) return undefined;
  const { plan } = state;
  let nodes: NomadNodeStub[] = [];
  let leader = '';
  let apiError: string | undefined;
  try {
    const api = serverApi(plan);
    leader = await api.leader();
    nodes = await api.nodes();
  } catch (error) {
    apiError = error instanceof Error ? error.message : String(error);
  }
  const hosts = plan.hosts.map((h): HostStatus => {
    const agent = state.agents.find((a) => a.host === h.name);
    const sshd = state.sshd?.find((x) => x.host === h.name);
    // An sshd lab's AGENT column is its sshd: the Nomad agents there belong to the inventory provider.
    const running =
      plan.sshd === true ? sshd !== undefined && cmdline(sshd.pid).join(' ').includes(hostSshd(state.dir, h).config) : agent !== undefined && isOurAgent(agent);
    const node = nodes.find((n) => n.Name === h.name);
    return {
      name: h.name,
      role: h.role,
      datacenter: h.datacenter,
      nodeDatacenter: node?.Datacenter,
      ip: h.ip,
      netns: h.netns,
      pid: plan.sshd === true ? sshd?.pid : agent?.pid,
      agent: running ? 'running' : 'stopped',
      netnsOk: running && (plan.sshd === true || (agent !== undefined && agentNetnsMatches(agent, h))),
      nodeId: node?.ID,
      status: h.role === 'client' ? node?.Status : leader.startsWith(`${h.ip}:`) ? 'leader' : running && plan.sshd !== true ? 'follower' : undefined,
      leader: leader.startsWith(`${h.ip}:`),
    };
  });
  return {
    name,
    id: plan.id,
    subnet: plan.subnet,
    bridge: plan.bridge,
    phase: state.phase,
    persistent: state.persistent,
    createdAt: state.createdAt,
    nomad: state.nomad,
    nomadVersionReported: nodes[0]?.Version,
    ...(plan.sshd === true ? { inventory: sshdPaths(state.dir).inventory } : {}),
    hosts,
    apiError,
  };
}

/**
 * Cleans what killed runs left: labs whose owner died before they were up or while they were being
 * torn down, and resources named for a lab id that no state file knows. Returns what it cleaned.
 */
export async function cleanLeftovers(log: Log): Promise<string[]> {
  const cleaned: string[] = [];
  const known = new Set<string>();
  for (const name of listLabs()) {
    known.add(labId(name));
    const stored = readLab(name);
    // Labs of the other providers are theirs to sweep.
    if (stored !== undefined && stored.provider !== 'netns') continue;
    const state = stored;
    if (state && !isLeftover(state)) continue;
    const by = state ? ` (left by process ${state.owner.pid} while ${state.phase})` : ' (no state file)';
    await teardownLab(name, state?.plan, () => undefined);
    log(`cleaned leftovers of lab ${name}${by}`);
    cleaned.push(name);
  }
  // Rebuilt now: another process may have created a lab while the leftovers above were torn down.
  for (const name of listLabs()) known.add(labId(name));
  for (const [id, found] of await labResources()) {
    if (known.has(id)) continue;
    await killProcesses(found.netns, undefined);
    for (const n of found.netns) await deleteNetns(n);
    for (const l of found.links) await deleteLink(l);
    await removeTaggedRules(`nomad-lab:${id}`);
    log(`cleaned leftovers of lab id ${id} (namespaces and links without a state file)`);
    cleaned.push(id);
  }
  for (const rule of await taggedRules('nomad-lab:', true)) {
    const id = ruleComment(rule)?.slice('nomad-lab:'.length) ?? '';
    if (known.has(id)) continue;
    await run(deleteArgv(rule));
    log(`cleaned leftover iptables rule: ${rule.line}`);
  }
  const anyLab = listLabs().length > 0 || (await labResources()).size > 0;
  if (!anyLab && (await routes()).some(isOurUnreachable)) {
    await removeUnreachableRoute();
    log('cleaned leftover unreachable route for the lab range');
  }
  return cleaned;
}

/** The netns provider: labs of network namespaces on this machine, agents supervised by pid. */
export const netnsProvider: LabProvider = {
  kind: 'netns',
  makesHosts: true,
  needsRoot: true,
  async up(request, options) {
    const up = await labUp({
      config: request.config,
      persistent: options.persistent,
      signal: options.signal,
      log: options.log,
      ...(options.waiting ? { waiting: options.waiting } : {}),
    });
    const t = up.timings;
    return {
      driver: new NetnsDriver(up.state.plan),
      nomad: up.nomad,
      reused: up.reused,
      detail: `${t.totalSeconds.toFixed(1)}s`,
      phases:
        up.state.plan.sshd === true
          ? [
              ['network', t.networkSeconds],
              ['sshd to answer', t.readySeconds],
            ]
          : [
              ['network', t.networkSeconds],
              ['ansible', t.ansibleSeconds],
              ['agents started', t.agentsSeconds],
              ['clients ready', t.readySeconds],
            ],
      ...(up.state.plan.sshd === true ? { inventory: sshdPaths(up.state.dir).inventory } : {}),
      summary: `lab ${up.state.plan.name} up in ${t.totalSeconds.toFixed(1)}s (network ${t.networkSeconds.toFixed(1)}s, ansible ${t.ansibleSeconds.toFixed(1)}s, agents started ${t.agentsSeconds.toFixed(1)}s, clients ready ${t.readySeconds.toFixed(1)}s)`,
    };
  },
  attach: (state) => new NetnsDriver(netnsState(state).plan),
  async down(name, state, log) {
    if (state === undefined) log(`lab ${name} is not up; nothing to do`);
    else await teardownLab(name, netnsState(state).plan, log);
    // Without a lab of this name, alloc cgroups (shared by every agent on the host) are not its own:
    // an SSH lab's agents, stopped a moment ago, may still be removing theirs.
    const leaks = await auditLeaks(name, { sharedCgroups: state !== undefined });
    if (leaks.length > 0) return { ok: false, lines: [`lab ${name}: teardown left:\n${formatLeaks(leaks)}`] };
    return { ok: true, lines: [`lab ${name} is down; leak audit clean`] };
  },
  async status(name) {
    const status = await labStatus(name);
    if (!status) return undefined;
    // An sshd lab has no agents of its own: up means every sshd runs.
    const clientsReady = status.inventory !== undefined || status.hosts.filter((h) => h.role === 'client').every((h) => h.status === 'ready');
    const agentsUp = status.hosts.every((h) => h.agent === 'running');
    return { text: formatStatus(status), json: status, ready: status.phase === 'up' && clientsReady && agentsUp };
  },
  unfit(state, request) {
    const netns = netnsState(state);
    if (JSON.stringify(netns.plan) !== JSON.stringify(planLab(request.config.spec))) return 'another topology';
    if (!netns.agents.every((a) => isOurAgent(a))) return 'an agent is not running';
    if (netns.plan.sshd === true) return 'an sshd lab (no agents)';
    return undefined;
  },
  refuses: () => undefined,
  // A netns lab is made to the scenario's measure.
  unfitPlanned: async () => undefined,
  async shell(state, request, host) {
    if (state === undefined)
      throw new UsageError(`no lab named ${request.name} on this machine`, 'start one with `nomad-lab lab up`, or name another with --lab');
    return shellCommandFor(netnsState(state), host);
  },
  sweepLeftovers: (log) => cleanLeftovers(log),
};

function netnsState(state: StoredLab): LabState {
  if (state.provider !== 'netns') throw new HarnessError(`lab ${state.plan.name} is a ${state.provider} lab, not a netns lab`);
  return state;
}
