// Labs of hosts reached over SSH (the inventory and vagrant providers): provision with the repo's
// role (or take the hosts as they are), wait for a leader and ready clients, run faults and read
// logs over SSH, stop what the lab started. State in the lab store (store.ts); the provider (sshProvider) is at the end.
import { invokingUser } from '../config/user.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { labDir } from '../config/paths.ts';
import { isLeftover, listLabs, readLab, removeLabDir, selfIdentity, withStoreLock, writeLab, type SshLabState } from './store.ts';
export type { SshLabState } from './store.ts';
import type { RunResult } from '../exec/local.ts';
import { knownHostsFiles, SshPool, type SshTarget } from '../exec/ssh.ts';
import { isAlive, type ProcessIdentity } from '../exec/procs.ts';
import { NomadApi, type NomadNodeStub, type TargetGuard } from '../nomad/api.ts';
import type { NomadBinary } from '../nomad/binary.ts';
import { HarnessError, showCommand, UsageError } from '../util/errors.ts';
import { writeFileAtomic } from '../util/files.ts';
import type { TokenKind } from './acl.ts';
import { awaitCleanupLeader, KILL_GRACE_MS, type AgentAction, type AgentOutcome, type ExecOptions, type LabDriver, type LabHost } from './driver.ts';
import { pollUntil } from '../util/poll.ts';
import { cidrContains } from './topology.ts';
import { defaultIdentity, planFromInventory, readInventory, type RemoteHost, type RemotePlan } from './inventory.ts';
import { vagrantPlan } from './vagrant.ts';
import { runPlaybook } from './ansible.ts';
import { serviceArgv } from './service.ts';
import { observe, purgeJobs, waitForLeaderAndClients } from './cluster.ts';
import { healFully } from '../faults/partition.ts';
import { clearLinkFaults } from '../faults/link-apply.ts';
import { repoRoot } from '../config/paths.ts';
import { resolveNomad } from '../nomad/binary.ts';
import type { LabNeed, LabProvider, LabRequest } from './provider.ts';
import { sshShellFor } from './shell.ts';
import { labTls, makeCertificates, tlsDir, type TlsFiles } from './tls.ts';
import { formatRemoteStatus } from './status-text.ts';
import type { StoredLab } from './store.ts';

type Log = (message: string) => void;
type Waiting = (what: string, elapsedMs: number, deadlineMs: number, detail: string) => void;

/** An SSH lab's state (undefined for a lab of another provider). */
export function readSshState(name: string): SshLabState | undefined {
  const state = readLab(name);
  return state !== undefined && state.provider !== 'netns' ? state : undefined;
}

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

  constructor(
    readonly plan: RemotePlan,
    log: Log = () => undefined,
  ) {
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

  /** On a lab with TLS: the lab's CA and the CLI's certificate and key, on this machine (paths). */
  get tls(): TlsFiles | undefined {
    return labTls(this.plan);
  }

  api(host: LabHost, token: TokenKind | 'none' = 'harness'): NomadApi {
    void token; // ACLs are not set up on SSH labs yet: no token to send.
    // On a lab with TLS, HTTPS to the address the host's certificate names, with the CLI's certificate.
    return new NomadApi(`${this.remote(host).ip}:4646`, remoteGuard(this.plan), host.name, undefined, this.tls);
  }

  token(): string | undefined {
    return undefined; // ACLs are not set up on SSH labs yet.
  }

  exec(host: LabHost, argv: string[], options: ExecOptions = {}): Promise<RunResult> {
    const { ssh } = this.remote(host);
    // iptables, systemctl and the agent's files need root; sudo -n fails at once instead of prompting.
    const full = ssh.user === 'root' ? argv : ['sudo', '-n', '--', ...argv];
    return this.pool.run(ssh, full, {
      timeoutMs: options.timeoutMs ?? 30_000,
      ...(options.check === undefined ? {} : { check: options.check }),
      ...(options.input === undefined ? {} : { input: options.input }),
    });
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
      // A host that does not answer over SSH right then counts as "not shown gone".
      const gone = await pollUntil(async () => !(await this.running(host)), { timeoutMs: KILL_GRACE_MS }).catch(() => false);
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

  /**
   * Continues paused agents and starts the ones this run killed (a user's cluster is left as found);
   * after starting servers, waits for them to agree on a leader, as the netns driver does.
   */
  async resumePaused(log: (line: string) => void = () => undefined): Promise<void> {
    for (const name of this.paused) {
      const h = this.plan.hosts.find((x) => x.name === name)!;
      for (const a of serviceArgv(h, 'resume')) await this.exec(h, a, { check: false });
    }
    this.paused.clear();
    const restarted: LabHost[] = [];
    for (const name of this.killed) {
      const h = this.plan.hosts.find((x) => x.name === name)!;
      if (await this.running(h)) continue;
      // A start that fails is said here, with its host and command, not 30 s later as "no leader".
      for (const a of serviceArgv(h, 'start')) {
        const r = await this.exec(h, a, { check: false }).catch((e: unknown) => ({ exitCode: -1, stdout: '', stderr: String(e) }));
        if (r.exitCode !== 0) log(`cleanup: ${h.name}: ${showCommand(a)} exited ${r.exitCode}: ${r.stderr.trim() || '(no stderr)'}`);
      }
      if (h.role === 'server') restarted.push(h);
    }
    this.killed.clear();
    if (restarted.length > 0) await awaitCleanupLeader(this.plan.hosts, restarted, (h) => this.api(h), log);
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

/**
 * Variables the harness supplies under the inventory's own (a first `-i`: the user's file wins), and
 * per host the key file the harness itself connects with (the inventory's, `~` expanded as the
 * harness does, or the invoking user's default key): under sudo Ansible's ssh, running as root,
 * would otherwise look for keys in root's ~/.ssh.
 */
export function harnessInventory(plan: RemotePlan): object {
  const hosts = Object.fromEntries(
    plan.hosts.filter((h) => h.ssh.identityFile !== undefined).map((h) => [h.name, { ansible_ssh_private_key_file: h.ssh.identityFile }]),
  );
  // The servers clients dial, from the plan, for an inventory that does not say (Vagrant's passes them as extra vars of its own run only).
  const servers = plan.hosts.filter((h) => h.role === 'server').map((h) => h.ip);
  return { all: { vars: { nomad_service_manager: 'systemd', ansible_python_interpreter: '/usr/bin/python3', nomad_server_addrs: servers }, hosts } };
}

/**
 * The role's extra variables for a provisioning run (pure): the binary under test and its version;
 * on a lab with TLS, TLS on and where the lab's certificates are on this machine (the role copies
 * the CA's certificate and each host's own certificate and key to the host). Extra variables win
 * over the inventory's: `--tls` turns TLS on whatever the inventory says.
 */
export function provisionVars(plan: RemotePlan, nomad: Pick<NomadBinary, 'path' | 'version'>): Record<string, unknown> {
  return {
    nomad_version: nomad.version,
    nomad_binary_src: nomad.path,
    ...(plan.tls === true ? { nomad_tls_enabled: true, nomad_tls_src_dir: tlsDir(plan.name) } : {}),
  };
}

/**
 * The region a TLS lab's certificates name (pure): the inventory's nomad_region, or the role's
 * default, global. One for the lab: Nomad checks that a server's certificate names
 * server.<region>.nomad, and the harness runs one cluster.
 */
export function remoteRegion(plan: RemotePlan): string {
  const regions = [...new Set(plan.hosts.map((h) => h.region ?? 'global'))];
  if (regions.length > 1) {
    throw new UsageError(
      `lab ${plan.name} (${plan.source}) with TLS: its hosts are in more than one region (${plan.hosts.map((h) => `${h.name}: ${h.region ?? 'global'}`).join(', ')}); the lab's certificates name one`,
      'set one nomad_region for every host of the inventory (or none: global)',
    );
  }
  return regions[0] ?? 'global';
}

async function provision(plan: RemotePlan, nomad: NomadBinary, dir: string, signal: AbortSignal, log: Log, knownHosts: string[]): Promise<number> {
  const ans = join(dir, 'ansible');
  mkdirSync(ans, { recursive: true, mode: 0o700 });
  const defaults = join(ans, 'harness-inventory.json');
  writeFileAtomic(defaults, JSON.stringify(harnessInventory(plan), null, 2), 0o600);
  const vars = join(ans, 'vars.json');
  // The binary under test goes to every host; its version decides the role's version-specific settings.
  // With TLS, where the certificates are (paths only: the role reads the files, no key passes through a variable).
  writeFileAtomic(vars, JSON.stringify(provisionVars(plan, nomad)), 0o600);
  log(`provisioning ${plan.hosts.length} hosts over SSH with the role (ansible-playbook -i ${plan.source})`);
  const { seconds } = await runPlaybook({
    dir: ans,
    inventories: [defaults, plan.source],
    extraVars: vars,
    // A user other than root (Vagrant's `vagrant`, an ops account) installs and runs Nomad through sudo.
    args: plan.hosts.some((h) => h.ssh.user !== 'root') ? ['--become'] : [],
    env: {
      // Under sudo, `~` in the inventory (a key file) is the user's, as it is for the harness.
      ...(invokingUser().viaSudo ? { HOME: invokingUser().home } : {}),
      // The known_hosts files the harness checked the keys in a moment ago (the inventory's or the
      // user's own, as `ssh -G` names them), so Ansible's checking agrees with it; ssh takes the first
      // UserKnownHostsFile it is given, so an inventory's own ssh arguments come later.
      // Connection reuse with a master that ends 5 s after its last use (Ansible's default keeps it
      // a minute past the command); no compression: it made the binary copy CPU-bound (38 s -> 17 s
      // for three hosts here).
      ANSIBLE_SSH_ARGS: `-o ControlMaster=auto -o ControlPersist=5s -o 'UserKnownHostsFile=${knownHosts.map((f) => (/\s/.test(f) ? `"${f}"` : f)).join(' ')}'`,
    },
    timeoutMs: 900_000,
    signal,
    what: 'provisioning (ansible-playbook)',
  });
  return seconds;
}

/** Brings an SSH lab up: reach every host, provision (or check the agents run), wait until ready. */
export async function remoteLabUp(
  options: RemoteUpOptions,
): Promise<{ state: SshLabState; driver: SshDriver; provisionSeconds: number; readySeconds: number }> {
  const { plan, nomad, signal, log } = options;
  if (plan.tls === true && !options.provision) {
    throw new UsageError(
      `lab ${plan.name} with TLS needs provisioning: the role copies the lab's certificates to the hosts`,
      'drop --no-provision, or --tls (hosts taken as they are keep the TLS they have)',
    );
  }
  // A region the certificates cannot name is the inventory's mistake: said before anything is done.
  const region = plan.tls === true ? remoteRegion(plan) : undefined;
  await cleanSshLeftovers(log);
  const state: SshLabState = {
    version: 1,
    provider: plan.provider,
    plan,
    phase: 'creating',
    owner: selfIdentity(),
    persistent: false,
    nomad: { path: nomad.path, version: nomad.version, source: nomad.source },
    createdAt: new Date().toISOString(),
    started: [],
    provisioned: options.provision,
  };
  // One step under the store's lock: no lab of this name, no other lab on these hosts, then this
  // lab's state, which holds the hosts from now on (two commands started at once: one is refused).
  await withStoreLock(`lab up ${plan.name}`, () => {
    const existing = readSshState(plan.name);
    if (existing) {
      if (existing.phase === 'up' && existing.persistent)
        throw new UsageError(
          `lab ${plan.name} is already up (lab up)`,
          `a run brings its own SSH lab up: bring this one down first (nomad-lab lab down --lab ${plan.name})`,
        );
      throw new UsageError(`lab ${plan.name} is in use by process ${existing.owner.pid} (${existing.phase})`, 'wait for it to finish, or pick another --lab');
    }
    const others = listLabs()
      .filter((n) => n !== plan.name)
      .flatMap((n) => readSshState(n) ?? []);
    const held = hostsHeldByOthers(plan, others, isAlive);
    if (held)
      throw new UsageError(heldMessage(plan.name, held), `bring that lab down first: nomad-lab lab down --lab ${held.lab} (its hosts are gone: add --forget)`);
    writeLab(state);
  });
  const driver = new SshDriver(plan, log);
  log(
    `lab ${plan.name} (${plan.provider}: ${plan.source}): ${plan.hosts.filter((h) => h.role === 'server').length} server(s), ${plan.hosts.filter((h) => h.role === 'client').length} client(s) over SSH${plan.tls === true ? ', with TLS' : ''}`,
  );
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
      writeLab(state);
      // The certificates are made here, in the lab's directory (removed with the lab); the role copies each host's.
      if (region !== undefined) await makeCertificates(plan, nomad, region, { signal, log });
      provisionSeconds = await provision(plan, nomad, labDir(plan.name), signal, log, await userKnownHostsFiles(plan));
    } else {
      const down = plan.hosts.filter((h) => !before.get(h.name));
      if (down.length > 0) {
        throw new HarnessError(`--no-provision: no Nomad agent runs on ${down.map((h) => h.name).join(', ')}`, {
          hint: 'start them (ansible/scenarios/start-all.yml) or let the harness provision (drop --no-provision)',
        });
      }
    }
    // Agents running now that were not before are this lab's: teardown stops them.
    state.started = [];
    for (const h of plan.hosts) if (!before.get(h.name) && (await driver.running(h))) state.started.push(h.name);
    writeLab(state);
    const readyStart = Date.now();
    await waitRemoteReady(driver, options);
    signal.throwIfAborted();
    state.phase = 'up';
    state.persistent = options.persistent;
    writeLab(state);
    return { state, driver, provisionSeconds, readySeconds: (Date.now() - readyStart) / 1000 };
  } catch (error) {
    // The caller gets no driver: close this one, or its sockets keep the process alive.
    await driver.close();
    throw error;
  }
}

/** Every user known_hosts file the plan's hosts are checked against (Ansible must check the same keys). */
async function userKnownHostsFiles(plan: RemotePlan): Promise<string[]> {
  const files: string[] = [];
  for (const h of plan.hosts) files.push(...(await knownHostsFiles(h.ssh)).user);
  return [...new Set(files)];
}

/** A lab that holds some of the hosts another lab would use. */
export interface HostsHeld {
  lab: string;
  provider: SshLabState['provider'];
  phase: SshLabState['phase'];
  persistent: boolean;
  owner: ProcessIdentity;
  ownerAlive: boolean;
  /** What both labs would use: "198.18.1.11:22 (SSH of server1)", "198.18.1.11:4646 (Nomad on server1)". */
  shared: string[];
}

/** What a lab's hosts are on the network: each SSH endpoint, and each Nomad HTTP address, by how a message names it. */
function endpoints(plan: RemotePlan): Map<string, string> {
  const out = new Map<string, string>();
  for (const h of plan.hosts) {
    out.set(`${h.ssh.address}:${h.ssh.port}`, `SSH of ${h.name}`);
    out.set(`${h.ip}:4646`, `Nomad on ${h.name}`);
  }
  return out;
}

/**
 * The first other SSH lab whose hosts overlap this plan's (pure): the same SSH address:port, or the
 * same Nomad address. Any state counts, also one whose teardown failed: until it is down (or
 * forgotten), its agents and rules may still be on those hosts.
 */
export function hostsHeldByOthers(plan: RemotePlan, others: SshLabState[], alive: (owner: ProcessIdentity) => boolean): HostsHeld | undefined {
  const mine = endpoints(plan);
  for (const other of others) {
    if (other.plan.name === plan.name) continue;
    const shared = [...endpoints(other.plan).keys()].filter((e) => mine.has(e)).map((e) => `${e} (${mine.get(e)})`);
    if (shared.length === 0) continue;
    return {
      lab: other.plan.name,
      provider: other.provider,
      phase: other.phase,
      persistent: other.persistent,
      owner: other.owner,
      ownerAlive: alive(other.owner),
      shared,
    };
  }
  return undefined;
}

/** Why a lab cannot come up on hosts another holds: that lab, and whose it is. */
export function heldMessage(name: string, held: HostsHeld): string {
  const whose =
    held.phase === 'up' && held.persistent
      ? `it is up, kept by \`lab up\` or a run's --keep (process ${held.owner.pid}${held.ownerAlive ? ', still running' : ', ended'})`
      : held.ownerAlive
        ? `it belongs to process ${held.owner.pid}, which is running (${held.phase})`
        : `its process ${held.owner.pid} ended while it was ${held.phase}, and its teardown did not finish`;
  return `lab ${name} would use hosts that lab ${held.lab} (${held.provider}) holds: ${held.shared.join(', ')}; ${whose}`;
}

/** Plain HTTP to an agent with TLS on: what Nomad answers (400), which no wait can change. */
class ServesHttpsOnly extends HarnessError {}

/**
 * Nomad's answer to plain HTTP on an agent with TLS on, as a usage of the wrong lab: hosts taken as
 * they are (the VMs, --no-provision) may still run the TLS a `--tls` lab gave them. Undefined for
 * any other error.
 */
export function httpsOnlyError(plan: RemotePlan, error: unknown): HarnessError | undefined {
  if (plan.tls === true || !(error instanceof Error) || !error.message.includes('Client sent an HTTP request to an HTTPS server')) return undefined;
  return new ServesHttpsOnly(`lab ${plan.name}: the agents serve HTTPS only (TLS on), and this lab is without TLS: ${error.message}`, {
    hint:
      plan.provider === 'vagrant'
        ? 'a --tls lab left TLS on in the VMs: run with --tls, or turn it off with `vagrant provision`'
        : 'run with --tls, or let the harness provision (without --no-provision the role renders the agents without TLS)',
  });
}

async function waitRemoteReady(driver: SshDriver, options: RemoteUpOptions): Promise<void> {
  // Any server that answers will do: a host of an inventory may be down while the others elect.
  const apis = driver.plan.hosts.filter((h) => h.role === 'server').map((s) => driver.api(s));
  await waitForLeaderAndClients(
    () =>
      observe(apis).catch((error: unknown) => {
        throw httpsOnlyError(driver.plan, error) ?? error;
      }),
    {
      clients: driver.plan.hosts.filter((h) => h.role === 'client').map((h) => h.name),
      timeoutMs: options.readyTimeoutMs ?? 120_000,
      signal: options.signal,
      ...(options.waiting ? { waiting: options.waiting } : {}),
      fatal: (error) => error instanceof ServesHttpsOnly,
    },
  );
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
  writeLab(state);
  const driver = new SshDriver(state.plan);
  const problems: string[] = [];
  const say = (m: string) => log(`teardown ${name}: ${m}`);
  try {
    const serverIps = state.plan.hosts.filter((h) => h.role === 'server').map((h) => h.ip);
    for (const h of state.plan.hosts) {
      const left = await healFully((argv, o) => driver.exec(h, argv, o), serverIps).catch((e: unknown) => [`(${e instanceof Error ? e.message : String(e)})`]);
      if (left.length > 0) problems.push(`partition rules left on ${h.name}: ${left.join('; ')}`);
      // Loss rules (by their comment) and delay qdiscs (by their handle) a run's link profile left.
      const links = await clearLinkFaults((argv, o) => driver.exec(h, argv, o)).catch((e: unknown) => [`(${e instanceof Error ? e.message : String(e)})`]);
      if (links.length > 0) problems.push(`link faults left on ${h.name}: ${links.join('; ')}`);
      for (const argv of serviceArgv(h, 'resume')) await driver.exec(h, argv, { check: false }).catch(() => undefined);
    }
    const jobs = state.jobs ?? [];
    if (jobs.length > 0) {
      try {
        const api = driver.api(state.plan.hosts.find((h) => h.role === 'server')!);
        await purgeJobs(
          api,
          jobs.map((ID) => ({ ID, Namespace: 'default' })),
          15_000,
        );
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
    say(
      `state kept in ${labDir(name)}: run nomad-lab lab down --lab ${name} again once the hosts answer; if they are gone for good: nomad-lab lab down --forget --lab ${name}`,
    );
    return false;
  }
  removeLabDir(name);
  return true;
}

/**
 * `lab down --forget`: the lab's state (and so its hold on the hosts) is removed without contacting a
 * host, for hosts that are gone. Returns what that leaves undone on them, should they come back.
 */
export function forgetRemoteLab(state: SshLabState): string[] {
  const { plan } = state;
  const started = plan.hosts.filter((h) => state.started.includes(h.name));
  const lines = [
    `lab ${plan.name} forgotten without contacting its hosts (${plan.source}); its hosts are free for another lab`,
    'not cleaned on the hosts, should they come back:',
    ...started.map((h) => `  the agent this lab started on ${h.name} (${h.ssh.address}) may still run: ${showCommand(serviceArgv(h, 'stop').at(-1)!)}`),
    `  DROP rules of a partition, loss rules and delay qdiscs of a link profile, and paused agents a run may have left: ansible-playbook -i ${plan.source} ansible/scenarios/heal.yml, and SIGCONT to the agents`,
    ...((state.jobs ?? []).length > 0 ? [`  jobs runs registered: ${state.jobs!.join(', ')} (nomad job stop -purge)`] : []),
    ...(plan.tls === true
      ? [`  the lab's TLS files the role copied, in <nomad_config_dir>/tls on each host (${plan.hosts.map((h) => `${h.name}: ${h.configDir}/tls`).join(', ')})`]
      : []),
  ];
  removeLabDir(plan.name);
  return lines;
}

/** SSH labs whose owner died before they were up, or while tearing down: stop what they started. */
export async function cleanSshLeftovers(log: Log, kind?: SshLabState['provider']): Promise<string[]> {
  const cleaned: string[] = [];
  for (const name of listLabs()) {
    const state = readSshState(name);
    if (!state || !isLeftover(state) || (kind !== undefined && state.provider !== kind)) continue;
    if (await remoteLabDown(name, () => undefined)) {
      log(`cleaned leftovers of SSH lab ${name} (left by process ${state.owner.pid} while ${state.phase})`);
      cleaned.push(name);
    } else {
      log(
        `could not clean the leftovers of SSH lab ${name} (left by process ${state.owner.pid} while ${state.phase}): its hosts did not all answer; if they are gone: nomad-lab lab down --forget --lab ${name}`,
      );
    }
  }
  return cleaned;
}

/** Where an SSH lab's hosts come from, as plain data: an inventory file or a Vagrant directory. */
export type RemoteSource = { kind: 'inventory'; file: string; provision: boolean } | { kind: 'vagrant'; dir: string; provision: boolean };

/** The plan of an SSH lab, read from its source (ansible-inventory, or the Vagrant topology + ssh-config). */
export async function planRemote(source: RemoteSource, name: string): Promise<RemotePlan> {
  if (source.kind === 'inventory') {
    const identity = defaultIdentity();
    // No known_hosts of the harness's own: the inventory names one, or the user's own files apply.
    return planFromInventory(await readInventory(source.file), name, resolve(source.file), {
      ...(identity ? { identityFile: identity } : {}),
      agent: (process.env['SSH_AUTH_SOCK'] ?? '') !== '',
    });
  }
  return vagrantPlan(source.dir, name);
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
  /** Mutual TLS on (the API was asked over HTTPS with the lab's CLI certificate). */
  tls: boolean;
  hosts: RemoteHostStatus[];
  apiError: string | undefined;
}

/** Hosts, their agents (asked over SSH) and what Nomad says of them. */
export async function remoteLabStatus(name: string, unmanaged?: RemotePlan): Promise<RemoteLabStatus | undefined> {
  // `unmanaged`: hosts no lab command brought up (the VMs of a plain `vagrant up`), shown as they are.
  const state: Pick<SshLabState, 'plan' | 'phase' | 'persistent' | 'createdAt' | 'nomad'> | undefined =
    readSshState(name) ??
    (unmanaged ? { plan: unmanaged, phase: 'up', persistent: true, createdAt: '-', nomad: { path: '-', version: '?', source: 'on the hosts' } } : undefined);
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
      const agent: RemoteHostStatus['agent'] = await driver.running(h).then(
        (up) => (up ? 'running' : 'stopped'),
        () => 'unreachable',
      );
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
    return {
      name,
      provider: state.plan.provider,
      source: state.plan.source,
      phase: state.phase,
      persistent: state.persistent,
      createdAt: state.createdAt,
      nomad: state.nomad,
      nomadVersionReported: nodes[0]?.Version,
      tls: state.plan.tls === true,
      hosts,
      apiError,
    };
  } finally {
    await driver.close();
  }
}

/** Where a request's hosts come from. */
function sourceOf(request: LabRequest): RemoteSource {
  if (request.provider === 'inventory') return { kind: 'inventory', file: request.source ?? '', provision: request.provision };
  // Vagrant's own provisioning ran the role; the harness runs it again only to give the VMs a TLS lab's certificates.
  return { kind: 'vagrant', dir: request.source ?? repoRoot, provision: request.tls === true };
}

/** The plan of a request's lab: its hosts, and TLS when asked for. */
async function requestPlan(request: LabRequest): Promise<RemotePlan> {
  const plan = await planRemote(sourceOf(request), request.name);
  return request.tls === true ? { ...plan, tls: true } : plan;
}

function sshState(state: StoredLab): SshLabState {
  if (state.provider === 'netns') throw new HarnessError(`lab ${state.plan.name} is a netns lab, not an SSH lab`);
  return state;
}

/** The VMs of a plain `vagrant up`: a lab no command of the harness brought up, shown as they are. */
async function unmanaged(kind: SshLabState['provider'], request: LabRequest | undefined): Promise<RemotePlan | undefined> {
  return kind === 'vagrant' && request !== undefined ? planRemote(sourceOf(request), request.name) : undefined;
}

/** Hosts that are there already must be enough for the scenario: why not, or undefined. */
function tooFewHosts(plan: RemotePlan, need: LabNeed): string | undefined {
  const have = { servers: plan.hosts.filter((h) => h.role === 'server').length, clients: plan.hosts.filter((h) => h.role === 'client').length };
  if (have.clients >= need.clients && have.servers >= need.servers) return undefined;
  return `it needs ${need.servers} server(s) and ${need.clients} client(s); ${plan.source} has ${have.servers} and ${have.clients}`;
}

/** The inventory and vagrant providers: hosts reached over SSH, provisioned with the role (or taken as they are). */
export function sshProvider(kind: SshLabState['provider']): LabProvider {
  return {
    kind,
    makesHosts: false,
    needsRoot: false,
    async up(request, options) {
      const source = sourceOf(request);
      const plan = await requestPlan(request);
      const nomad = await resolveNomad(request.config.nomad);
      const up = await remoteLabUp({
        plan,
        nomad,
        provision: source.provision,
        persistent: options.persistent,
        signal: options.signal,
        log: options.log,
        ...(options.waiting ? { waiting: options.waiting } : {}),
      });
      const detail = `${up.provisionSeconds.toFixed(1)}s provisioning, ${up.readySeconds.toFixed(1)}s to ready`;
      return {
        driver: up.driver,
        nomad,
        reused: false,
        detail,
        phases: [
          ['provisioning', up.provisionSeconds],
          ['agents to ready', up.readySeconds],
        ],
        summary: `lab ${plan.name} up (${detail})`,
      };
    },
    attach: (state, log) => new SshDriver(sshState(state).plan, log),
    async down(name, state, log) {
      if (state === undefined) return { ok: true, lines: [`lab ${name} is not up; nothing to do`] };
      const ok = await remoteLabDown(name, log);
      return ok
        ? {
            ok,
            lines: [
              `lab ${name} is down: hosts healed, its jobs purged, agents it started stopped (${sshState(state).started.join(', ') || 'none'}); the hosts stay`,
            ],
          }
        : { ok, lines: [] };
    },
    async status(name, state, request) {
      const status = await remoteLabStatus(name, state === undefined ? await unmanaged(kind, request) : undefined);
      if (!status) return undefined;
      const ready = status.phase === 'up' && status.hosts.every((h) => h.agent === 'running' && (h.role !== 'client' || h.status === 'ready'));
      return { text: formatRemoteStatus(status), json: status, ready };
    },
    unfit: (state, request, need) =>
      (sshState(state).plan.tls === true) !== (request.tls === true)
        ? `it runs ${sshState(state).plan.tls === true ? 'with' : 'without'} TLS`
        : tooFewHosts(sshState(state).plan, need),
    unfitPlanned: async (request, need) => tooFewHosts(await planRemote(sourceOf(request), request.name), need),
    refuses: (need, request) =>
      need.acl
        ? 'ACLs are not set up on SSH labs (inventory, vagrant) yet'
        : need.tls === true && request.tls !== true
          ? 'this run needs TLS and its SSH lab is asked for without it: add --tls'
          : undefined,
    async shell(state, request, host) {
      // The same known_hosts files the harness reads, as `ssh -G` names them (user config included).
      const files = async (plan: RemotePlan) => {
        const h = plan.hosts.find((x) => x.name === host);
        return h === undefined ? undefined : knownHostsFiles(h.ssh);
      };
      if (state !== undefined) return sshShellFor(sshState(state), host, await files(sshState(state).plan));
      const vms = await unmanaged(kind, request);
      if (vms === undefined)
        throw new UsageError(`no lab named ${request.name} on this machine`, `bring it up with nomad-lab lab up --inventory FILE --lab ${request.name}`);
      return sshShellFor({ plan: vms, phase: 'up' }, host, await files(vms));
    },
    sweepLeftovers: (log) => cleanSshLeftovers(log, kind),
  };
}
