// Labs of hosts reached over SSH (the inventory and vagrant providers): provision with the repo's
// role (or take the hosts as they are), wait for a leader and ready clients, run faults and read
// logs over SSH, stop what the lab started. State per lab under <lab root>/ssh-labs/<name>/.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { labRoot } from '../config/paths.ts';
import type { RunResult } from '../exec/local.ts';
import { identify, isAlive, type ProcessIdentity } from '../exec/procs.ts';
import { SshPool, type SshTarget } from '../exec/ssh.ts';
import { NomadApi, type NomadNodeStub, type TargetGuard } from '../nomad/api.ts';
import type { NomadBinary } from '../nomad/binary.ts';
import { HarnessError, UsageError } from '../util/errors.ts';
import { writeFileAtomic } from '../util/files.ts';
import type { TokenKind } from './acl.ts';
import { KILL_GRACE_MS, type AgentAction, type AgentOutcome, type ExecOptions, type LabDriver, type LabHost } from './driver.ts';
import { poll } from '../util/poll.ts';
import { cidrContains } from './topology.ts';
import { defaultIdentity, planFromInventory, readInventory, type RemoteHost, type RemotePlan } from './inventory.ts';
import { vagrantPlan } from './vagrant.ts';
import { runPlaybook } from './ansible.ts';
import { serviceArgv } from './service.ts';
import { observe, purgeJobs, waitForLeaderAndClients } from './cluster.ts';
import { healFully } from '../faults/partition.ts';

type Log = (message: string) => void;
type Waiting = (what: string, elapsedMs: number, deadlineMs: number, detail: string) => void;

export interface SshLabState {
  version: 1;
  plan: RemotePlan;
  phase: 'creating' | 'up' | 'destroying';
  owner: ProcessIdentity;
  persistent: boolean;
  nomad: { path: string; version: string; source: string };
  createdAt: string;
  /** Hosts whose agent this lab started (provisioning or a restart): the ones teardown stops. */
  started: string[];
  provisioned: boolean;
  /** Jobs runs registered on this lab (teardown purges these only). */
  jobs?: string[];
}

export const sshLabDir = (name: string): string => join(labRoot(), 'ssh-labs', name);
const stateFile = (name: string) => join(sshLabDir(name), 'state.json');
/** Host keys pinned on first use by the harness, for hosts whose inventory names no known_hosts. */
export const pinnedKnownHosts = (): string => join(labRoot(), 'known_hosts');

export function readSshState(name: string): SshLabState | undefined {
  const file = stateFile(name);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as SshLabState;
  } catch {
    return undefined;
  }
}

function writeSshState(state: SshLabState): void {
  mkdirSync(sshLabDir(state.plan.name), { recursive: true, mode: 0o700 });
  writeFileAtomic(stateFile(state.plan.name), `${JSON.stringify(state, null, 2)}\n`, 0o600);
}

export function listSshLabs(): string[] {
  const dir = join(labRoot(), 'ssh-labs');
  return existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name) : [];
}

const self = (): ProcessIdentity => identify(process.pid)!;
export const ownedByMe = (s: SshLabState): boolean => {
  const me = self();
  return s.owner.pid === me.pid && s.owner.startTicks === me.startTicks;
};
const leftover = (s: SshLabState) => !isAlive(s.owner) && (!s.persistent || s.phase !== 'up');

/** Only the lab's own hosts (and loopback) may be contacted. */
export function remoteGuard(plan: RemotePlan): TargetGuard {
  const allowed = new Set(plan.hosts.map((h) => h.ip));
  return (ip: string) => {
    if (cidrContains('127.0.0.0/8', ip) || allowed.has(ip)) return;
    throw new HarnessError(`refusing to contact ${ip}: not a host of lab ${plan.name} (${plan.source})`);
  };
}

/** The SSH lab's driver: everything a scenario does to a host goes over SSH. */
export class SshDriver implements LabDriver {
  readonly subnet = undefined;
  readonly acl = false;
  readonly pool: SshPool;
  private readonly paused = new Set<string>();
  /** Hosts whose agent this driver killed: the run's cleanup starts those still down. */
  private readonly killed = new Set<string>();

  constructor(readonly plan: RemotePlan, log: Log = () => undefined) {
    this.pool = new SshPool((t) => log(`pinned the host key of ${t.name} (${t.address}:${t.port}) in ${t.knownHosts}`));
  }

  get provider() {
    return this.plan.provider;
  }
  get name() {
    return this.plan.name;
  }
  get id() {
    return `ssh-${this.plan.name}`;
  }
  get hosts(): LabHost[] {
    return this.plan.hosts;
  }

  remote(h: LabHost): RemoteHost {
    const found = this.plan.hosts.find((x) => x.name === h.name);
    if (!found) throw new HarnessError(`no host named ${h.name} in lab ${this.plan.name}`);
    return found;
  }

  api(host: LabHost, token: TokenKind | 'none' = 'harness'): NomadApi {
    void token; // ACLs are not set up on SSH labs yet: no token to send.
    return new NomadApi(`${this.remote(host).ip}:4646`, remoteGuard(this.plan), host.name);
  }

  exec(host: LabHost, argv: string[], options: ExecOptions = {}): Promise<RunResult> {
    const { ssh } = this.remote(host);
    // iptables, systemctl and the agent's files need root; sudo -n fails at once instead of prompting.
    const full = ssh.user === 'root' ? argv : ['sudo', '-n', '--', ...argv];
    return this.pool.run(ssh, full, { timeoutMs: options.timeoutMs ?? 30_000, ...(options.check === undefined ? {} : { check: options.check }), ...(options.input === undefined ? {} : { input: options.input }) });
  }

  async running(host: LabHost): Promise<boolean> {
    const [status] = serviceArgv(this.remote(host), 'status');
    return (await this.exec(host, status!, { check: false })).exitCode === 0;
  }

  async agent(host: LabHost, action: AgentAction): Promise<AgentOutcome> {
    const h = this.remote(host);
    const wasRunning = await this.running(host);
    if (action !== 'restart' && !wasRunning) return { argv: [], wasRunning };
    const argv = serviceArgv(h, action);
    for (const a of argv) await this.exec(host, a, { timeoutMs: 60_000 });
    if (action === 'pause') this.paused.add(h.name);
    if (action === 'resume') this.paused.delete(h.name);
    if (action === 'kill') this.killed.add(h.name);
    if (action === 'restart') this.killed.delete(h.name);
    if (action === 'kill') {
      const gone = await poll(async () => !(await this.running(host)), (g) => g, { what: `agent of ${h.name} gone after the kill`, timeoutMs: KILL_GRACE_MS }).then(() => true, () => false);
      return { argv, wasRunning, goneAfter: gone };
    }
    return { argv, wasRunning };
  }

  async writeAllocFile(host: LabHost, allocId: string, task: string, path: string, content: string): Promise<string> {
    const dir = `${this.remote(host).dataDir}/alloc/${allocId}/${task}`;
    const file = `${dir}/${path}`;
    await this.exec(host, ['mkdir', '-p', file.replace(/\/[^/]+$/, '')]);
    await this.exec(host, ['tee', file], { input: content });
    return `${host.name}:${file}`;
  }

  async collectLogs(dir: string): Promise<void> {
    mkdirSync(dir, { recursive: true });
    for (const h of this.plan.hosts) {
      const [argv] = serviceArgv(h, 'logs');
      const r = await this.exec(h, argv!, { check: false, timeoutMs: 60_000 }).catch((e: unknown) => ({ exitCode: -1, stdout: '', stderr: String(e) }));
      writeFileSync(join(dir, `${h.name}.log`), r.exitCode === 0 ? `${r.stdout}\n` : `(could not read the agent log over SSH: ${r.stderr.trim()})\n`);
    }
  }

  /** Continues paused agents and starts the ones this run killed (a user's cluster is left as found). */
  async resumePaused(): Promise<void> {
    for (const name of this.paused) {
      const h = this.plan.hosts.find((x) => x.name === name)!;
      for (const a of serviceArgv(h, 'resume')) await this.exec(h, a, { check: false });
    }
    this.paused.clear();
    for (const name of this.killed) {
      const h = this.plan.hosts.find((x) => x.name === name)!;
      if (!(await this.running(h))) for (const a of serviceArgv(h, 'start')) await this.exec(h, a, { check: false });
    }
    this.killed.clear();
  }

  async close(): Promise<void> {
    await this.pool.closeAll();
  }
}

export interface RemoteUpOptions {
  plan: RemotePlan;
  nomad: NomadBinary;
  /** Run the role over the hosts first (install, configure, start); false: take them as they are. */
  provision: boolean;
  persistent: boolean;
  signal: AbortSignal;
  log: Log;
  waiting?: Waiting;
  readyTimeoutMs?: number;
}

/** Variables the harness supplies under the inventory's own (a first `-i`: the user's file wins). */
export const harnessInventory = (): object => ({ all: { vars: { nomad_service_manager: 'systemd', ansible_python_interpreter: '/usr/bin/python3' } } });

async function provision(plan: RemotePlan, nomad: NomadBinary, dir: string, signal: AbortSignal, log: Log, knownHosts: string[]): Promise<number> {
  const ans = join(dir, 'ansible');
  mkdirSync(ans, { recursive: true, mode: 0o700 });
  const defaults = join(ans, 'harness-inventory.json');
  writeFileAtomic(defaults, JSON.stringify(harnessInventory(), null, 2), 0o600);
  const vars = join(ans, 'vars.json');
  // The binary under test goes to every host; its version decides the role's version-specific settings.
  writeFileAtomic(vars, JSON.stringify({ nomad_version: nomad.version, nomad_binary_src: nomad.path }), 0o600);
  log(`provisioning ${plan.hosts.length} hosts over SSH with the role (ansible-playbook -i ${plan.source})`);
  const { seconds } = await runPlaybook({
    dir: ans,
    inventories: [defaults, plan.source],
    extraVars: vars,
    // A user other than root (Vagrant's `vagrant`, an ops account) installs and runs Nomad through sudo.
    args: plan.hosts.some((h) => h.ssh.user !== 'root') ? ['--become'] : [],
    env: {
      // The keys the harness checked (or pinned) a moment ago, so Ansible's checking agrees with it;
      // ssh takes the first UserKnownHostsFile it is given, so the inventory's own still come later.
      // Connection reuse with a master that ends 5 s after its last use (Ansible's default keeps it
      // a minute past the command); no compression: it made the binary copy CPU-bound (38 s -> 17 s
      // for three hosts here).
      ANSIBLE_SSH_ARGS: `-o ControlMaster=auto -o ControlPersist=5s -o 'UserKnownHostsFile=${[...knownHosts, '~/.ssh/known_hosts'].join(' ')}'`,
    },
    timeoutMs: 900_000,
    signal,
    what: 'provisioning (ansible-playbook)',
  });
  return seconds;
}

/** Brings an SSH lab up: reach every host, provision (or check the agents run), wait until ready. */
export async function remoteLabUp(options: RemoteUpOptions): Promise<{ state: SshLabState; driver: SshDriver; provisionSeconds: number; readySeconds: number }> {
  const { plan, nomad, signal, log } = options;
  await cleanSshLeftovers(log);
  const existing = readSshState(plan.name);
  if (existing) {
    if (existing.phase === 'up' && existing.persistent) throw new UsageError(`lab ${plan.name} is already up (lab up)`, `a run brings its own SSH lab up: bring this one down first (npm run lab -- down --name ${plan.name})`);
    throw new UsageError(`lab ${plan.name} is in use by process ${existing.owner.pid} (${existing.phase})`, 'wait for it to finish, or pick another --name');
  }
  const state: SshLabState = {
    version: 1,
    plan,
    phase: 'creating',
    owner: self(),
    persistent: false,
    nomad: { path: nomad.path, version: nomad.version, source: nomad.source },
    createdAt: new Date().toISOString(),
    started: [],
    provisioned: options.provision,
  };
  writeSshState(state);
  const driver = new SshDriver(plan, log);
  log(`lab ${plan.name} (${plan.provider}: ${plan.source}): ${plan.hosts.filter((h) => h.role === 'server').length} server(s), ${plan.hosts.filter((h) => h.role === 'client').length} client(s) over SSH`);
  const before = new Map<string, boolean>();
  try {
    for (const h of plan.hosts) {
      signal.throwIfAborted();
      await driver.exec(h, ['true'], { timeoutMs: 20_000 });
    }
    for (const h of plan.hosts) before.set(h.name, await driver.running(h));
    let provisionSeconds = 0;
    if (options.provision) {
      // From here on, any agent that was not running may be one of this lab's: if provisioning stops
      // half-way, teardown stops those (stopping one that never started is a no-op).
      state.started = plan.hosts.filter((h) => !before.get(h.name)).map((h) => h.name);
      writeSshState(state);
      provisionSeconds = await provision(plan, nomad, sshLabDir(plan.name), signal, log, knownHostsFiles(plan));
    } else {
      const down = plan.hosts.filter((h) => !before.get(h.name));
      if (down.length > 0) {
        throw new HarnessError(`--no-provision: no Nomad agent runs on ${down.map((h) => h.name).join(', ')}`, { hint: 'start them (ansible/scenarios/start-all.yml) or let the harness provision (drop --no-provision)' });
      }
    }
    // Agents running now that were not before are this lab's: teardown stops them.
    state.started = [];
    for (const h of plan.hosts) if (!before.get(h.name) && (await driver.running(h))) state.started.push(h.name);
    writeSshState(state);
    const readyStart = Date.now();
    await waitRemoteReady(driver, options);
    signal.throwIfAborted();
    state.phase = 'up';
    state.persistent = options.persistent;
    writeSshState(state);
    return { state, driver, provisionSeconds, readySeconds: (Date.now() - readyStart) / 1000 };
  } catch (error) {
    // The caller gets no driver: close this one, or its sockets keep the process alive.
    await driver.close();
    throw error;
  }
}

/** Every known_hosts file the plan's hosts are checked against (Ansible must check the same keys). */
const knownHostsFiles = (plan: RemotePlan): string[] => [...new Set(plan.hosts.map((h) => h.ssh.knownHosts))];

async function waitRemoteReady(driver: SshDriver, options: RemoteUpOptions): Promise<void> {
  // Any server that answers will do: a host of an inventory may be down while the others elect.
  const apis = driver.plan.hosts.filter((h) => h.role === 'server').map((s) => driver.api(s));
  await waitForLeaderAndClients(() => observe(apis), {
    clients: driver.plan.hosts.filter((h) => h.role === 'client').map((h) => h.name),
    timeoutMs: options.readyTimeoutMs ?? 120_000,
    signal: options.signal,
    ...(options.waiting ? { waiting: options.waiting } : {}),
  });
}

/** A run's lab kept on purpose (--keep): it outlives the run until `lab down`. */
export function markSshLabKept(state: SshLabState): void {
  state.persistent = true;
  state.phase = 'up';
  writeSshState(state);
}

/** Remembers a job a run registered: teardown purges those, and only those (the cluster may be the user's). */
export function recordSshJob(name: string, jobId: string): void {
  const state = readSshState(name);
  if (!state || (state.jobs ?? []).includes(jobId)) return;
  state.jobs = [...(state.jobs ?? []), jobId];
  writeSshState(state);
}

/**
 * Heals every host and continues every agent (a killed run may have left a DROP rule or a stopped
 * agent), purges the jobs runs registered and waits for their allocations to stop, then stops the
 * agents this lab started. Forgets the lab only when every step worked; otherwise the state stays
 * (phase destroying) and the next `lab down` or run tries again. The hosts themselves stay.
 */
export async function remoteLabDown(name: string, log: Log): Promise<boolean> {
  const state = readSshState(name);
  if (!state) return true;
  state.phase = 'destroying';
  writeSshState(state);
  const driver = new SshDriver(state.plan);
  const problems: string[] = [];
  const say = (m: string) => log(`teardown ${name}: ${m}`);
  try {
    const serverIps = state.plan.hosts.filter((h) => h.role === 'server').map((h) => h.ip);
    for (const h of state.plan.hosts) {
      const left = await healFully((argv, o) => driver.exec(h, argv, o), serverIps).catch((e: unknown) => [`(${e instanceof Error ? e.message : String(e)})`]);
      if (left.length > 0) problems.push(`partition rules left on ${h.name}: ${left.join('; ')}`);
      for (const argv of serviceArgv(h, 'resume')) await driver.exec(h, argv, { check: false }).catch(() => undefined);
    }
    const jobs = state.jobs ?? [];
    if (jobs.length > 0) {
      try {
        const api = driver.api(state.plan.hosts.find((h) => h.role === 'server')!);
        await purgeJobs(api, jobs.map((ID) => ({ ID, Namespace: 'default' })), 15_000);
        say(`job(s) ${jobs.join(', ')} purged`);
      } catch (error) {
        problems.push(`jobs not purged (${error instanceof Error ? error.message : String(error)})`);
      }
    }
    // Clients first: a client that outlives its servers only logs reconnect noise.
    const order = [...state.plan.hosts].sort((a, b) => (a.role === b.role ? 0 : a.role === 'client' ? -1 : 1));
    for (const h of order.filter((x) => state.started.includes(x.name))) {
      for (const argv of serviceArgv(h, 'stop')) {
        const r = await driver.exec(h, argv, { check: false, timeoutMs: 60_000 }).catch((e: unknown) => ({ exitCode: -1, stderr: String(e) }) as RunResult);
        if (r.exitCode === 0) say(`stopped the agent on ${h.name}`);
        else problems.push(`agent on ${h.name} not stopped (${r.stderr.trim() || `exit code ${r.exitCode}`})`);
      }
    }
  } finally {
    await driver.close();
  }
  if (problems.length > 0) {
    for (const p of problems) say(`FAILED: ${p}`);
    say(`state kept in ${sshLabDir(name)}: run npm run lab -- down --name ${name} again once the hosts answer`);
    return false;
  }
  rmSync(sshLabDir(name), { recursive: true, force: true });
  return true;
}

/** SSH labs whose owner died before they were up, or while tearing down: stop what they started. */
export async function cleanSshLeftovers(log: Log): Promise<string[]> {
  const cleaned: string[] = [];
  for (const name of listSshLabs()) {
    const state = readSshState(name);
    if (state && !leftover(state)) continue;
    if (state) await remoteLabDown(name, () => undefined);
    else rmSync(sshLabDir(name), { recursive: true, force: true });
    log(`cleaned leftovers of SSH lab ${name}${state ? ` (left by process ${state.owner.pid} while ${state.phase})` : ''}`);
    cleaned.push(name);
  }
  return cleaned;
}

/** Where an SSH lab's hosts come from, as plain data: an inventory file or a Vagrant directory. */
export type RemoteSource = { kind: 'inventory'; file: string; provision: boolean } | { kind: 'vagrant'; dir: string; provision: boolean };

/** The plan of an SSH lab, read from its source (ansible-inventory, or the Vagrant topology + ssh-config). */
export async function planRemote(source: RemoteSource, name: string): Promise<RemotePlan> {
  if (source.kind === 'inventory') {
    const identity = defaultIdentity();
    return planFromInventory(await readInventory(source.file), name, resolve(source.file), { knownHosts: pinnedKnownHosts(), ...(identity ? { identityFile: identity } : {}) });
  }
  return vagrantPlan(source.dir, name);
}

/** A lab name for an inventory file when none is given: inv-<file name without extension>. */
export function inventoryLabName(file: string): string {
  const base = basename(file).replace(/\.[^.]+$/, '').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return `inv-${base || 'hosts'}`.slice(0, 32);
}


export interface RemoteHostStatus {
  name: string;
  role: string;
  datacenter: string;
  ip: string;
  ssh: string;
  manager: string;
  agent: 'running' | 'stopped' | 'unreachable';
  nodeId: string | undefined;
  status: string | undefined;
}

export interface RemoteLabStatus {
  name: string;
  provider: string;
  source: string;
  phase: string;
  persistent: boolean;
  createdAt: string;
  nomad: SshLabState['nomad'];
  nomadVersionReported: string | undefined;
  hosts: RemoteHostStatus[];
  apiError: string | undefined;
}

/** Hosts, their agents (asked over SSH) and what Nomad says of them. */
export async function remoteLabStatus(name: string, unmanaged?: RemotePlan): Promise<RemoteLabStatus | undefined> {
  // `unmanaged`: hosts no lab command brought up (the VMs of a plain `vagrant up`), shown as they are.
  const state: Pick<SshLabState, 'plan' | 'phase' | 'persistent' | 'createdAt' | 'nomad'> | undefined =
    readSshState(name) ?? (unmanaged ? { plan: unmanaged, phase: 'up', persistent: true, createdAt: '-', nomad: { path: '-', version: '?', source: 'on the hosts' } } : undefined);
  if (!state) return undefined;
  const driver = new SshDriver(state.plan);
  let nodes: NomadNodeStub[] = [];
  let leader = '';
  let apiError: string | undefined;
  try {
    const api = driver.api(state.plan.hosts.find((h) => h.role === 'server')!);
    leader = await api.leader();
    nodes = await api.nodes();
  } catch (error) {
    apiError = error instanceof Error ? error.message : String(error);
  }
  try {
    const hosts: RemoteHostStatus[] = [];
    for (const h of state.plan.hosts) {
      const agent: RemoteHostStatus['agent'] = await driver.running(h).then((up) => (up ? 'running' : 'stopped'), () => 'unreachable');
      const node = nodes.find((n) => n.Name === h.name);
      hosts.push({
        name: h.name,
        role: h.role,
        datacenter: h.datacenter,
        ip: h.ip,
        ssh: `${h.ssh.user}@${h.ssh.address}:${h.ssh.port}`,
        manager: h.manager,
        agent,
        nodeId: node?.ID,
        status: h.role === 'client' ? node?.Status : leader.startsWith(`${h.ip}:`) ? 'leader' : agent === 'running' ? 'follower' : undefined,
      });
    }
    return { name, provider: state.plan.provider, source: state.plan.source, phase: state.phase, persistent: state.persistent, createdAt: state.createdAt, nomad: state.nomad, nomadVersionReported: nodes[0]?.Version, hosts, apiError };
  } finally {
    await driver.close();
  }
}
