// Labs, whichever provider has them: the one place the commands and the scenario runner go to bring
// a lab up, find it, show it, open a shell or an environment on it, and tear it down. The lab store
// (store.ts) says which provider a lab has; the provider (provider.ts) does the work.
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { resolveLabConfig, type LabFlags } from '../config/lab-config.ts';
import { checkName } from '../config/names.ts';
import { repoRoot } from '../config/paths.ts';
import { isRoot } from '../config/user.ts';
import { isAlive } from '../exec/procs.ts';
import { resolveNomad, type NomadBinary } from '../nomad/binary.ts';
import { HarnessError, UsageError } from '../util/errors.ts';
import type { LabDriver } from './driver.ts';
import { netnsProvider } from './netns-lab.ts';
import type { DownOutcome, LabNeed, LabProvider, LabRequest, LabStatusView, LabUp, Log, UpOptions, Waiting } from './provider.ts';
import type { ShellCommand } from './shell.ts';
import { forgetRemoteLab, sshProvider } from './ssh-lab.ts';
import { nomadCliEnv, type NomadCliEnv } from './tls.ts';
import { isLeftover, listLabs, ownedByThisProcess, PROVIDERS, readLab, writeLab, type ProviderKind } from './store.ts';

export type { LabNeed, LabRequest, LabStatusView } from './provider.ts';
export { PROVIDERS, type ProviderKind } from './store.ts';
export { recordJob } from './store.ts';

const providers: Record<ProviderKind, LabProvider> = { netns: netnsProvider, inventory: sshProvider('inventory'), vagrant: sshProvider('vagrant') };
/** The provider of a kind; one whose labs need root is refused to anyone else, before it acts. */
function providerOf(kind: ProviderKind): LabProvider {
  const provider = providers[kind];
  if (provider.needsRoot && !isRoot()) {
    throw new HarnessError(`${kind} labs need root (network namespaces, iptables, the agents they start)`, {
      hint: 'run it as root (sudo npx nomad-lab ...); labs over SSH (--inventory FILE, --provider vagrant) need no root',
    });
  }
  return provider;
}

/** The lab flags every command shares (`--lab`, `--provider`, `--inventory`, ...) plus a netns topology. */
export interface LabSelection extends Omit<LabFlags, 'name'> {
  lab?: string;
  provider?: string;
  inventory?: string;
  /** `--no-provision` makes this false. */
  provision?: boolean;
}

const TOPOLOGY_FLAGS = ['servers', 'clients', 'subnet', 'clientDatacenters', 'config', 'acl', 'tls', 'sshd'] as const;
const flagName = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/**
 * Which lab the flags mean. `defaults` are the caller's (a scenario's topology and lab name): the
 * flags win over them. Hosts of an inventory or of Vagrant decide their own topology, so a topology
 * flag given with them is refused rather than silently ignored.
 */
export function labRequest(flags: LabSelection, defaults: { name?: string; topology?: Omit<LabFlags, 'name' | 'nomad'> } = {}): LabRequest {
  // The provider: named, or implied by --inventory FILE, or by the VM lab's name.
  const provider = (flags.provider ?? (flags.inventory !== undefined ? 'inventory' : flags.lab === 'vagrant' ? 'vagrant' : 'netns')) as ProviderKind;
  if (!PROVIDERS.includes(provider)) throw new UsageError(`--provider ${flags.provider} is not a provider; the providers: ${PROVIDERS.join(', ')}`);
  if (flags.inventory !== undefined && provider !== 'inventory')
    throw new UsageError(`--inventory names the hosts of the inventory provider; it does not go with --provider ${provider}`);
  if (provider === 'inventory' && flags.inventory === undefined)
    throw new UsageError('--provider inventory needs --inventory FILE (an Ansible inventory with groups servers and clients)');
  if (flags.inventory !== undefined && !existsSync(flags.inventory)) throw new UsageError(`inventory ${flags.inventory} does not exist`);
  if (flags.provision === false && provider !== 'inventory') throw new UsageError('--no-provision applies to --inventory');
  if (provider === 'netns') {
    const config = resolveLabConfig({
      ...defaults.topology,
      ...definedOnly(flags),
      ...(flags.lab !== undefined ? { name: flags.lab } : defaults.name !== undefined ? { name: defaults.name } : {}),
    });
    return { provider, name: config.spec.name, config, provision: true };
  }
  // TLS goes with any provider (the role copies the certificates to the hosts); the rest is the hosts' to decide.
  const ignored = TOPOLOGY_FLAGS.filter((k) => k !== 'tls' && flags[k] !== undefined);
  if (ignored.length > 0) {
    throw new UsageError(
      `${ignored.map(flagName).join(', ')} cannot apply to hosts from ${provider === 'vagrant' ? 'Vagrant' : 'an inventory'}`,
      provider === 'vagrant'
        ? 'set NOMAD_LAB_VM_* for vagrant up (docs/providers.md, "The VM lab")'
        : 'the inventory says which hosts are servers and clients; ACLs are not set up on SSH labs yet',
    );
  }
  // A scenario that needs TLS gets it on these hosts as on a netns lab.
  const tls = flags.tls === true || defaults.topology?.tls === true;
  if (tls && flags.provision === false) {
    throw new UsageError(
      `--no-provision takes the hosts as they are, and TLS (${flags.tls === true ? '--tls' : "the scenario's tls: true"}) needs the role to copy the lab's certificates to them`,
      'drop --no-provision',
    );
  }
  // Only the binary matters here: a lab file (NOMAD_LAB_CONFIG) describes a netns lab, not these hosts.
  const binaryEnv = process.env['NOMAD_BINARY'] === undefined ? {} : { NOMAD_BINARY: process.env['NOMAD_BINARY'] };
  const config = resolveLabConfig(flags.nomad === undefined ? {} : { nomad: flags.nomad }, binaryEnv);
  // The netns path checks --lab in resolveLabConfig; an SSH lab's name makes its directory in the lab store just the same.
  const name =
    flags.lab !== undefined
      ? checkName('lab', flags.lab, '--lab', (m) => new UsageError(m))
      : provider === 'inventory'
        ? inventoryLabName(flags.inventory!)
        : 'vagrant';
  return {
    provider,
    name,
    config,
    source: provider === 'inventory' ? resolve(flags.inventory!) : repoRoot,
    provision: flags.provision !== false,
    ...(tls ? { tls: true } : {}),
  };
}

function definedOnly(flags: LabSelection): Omit<LabFlags, 'name'> {
  const out: Record<string, unknown> = {};
  for (const k of [...TOPOLOGY_FLAGS, 'nomad'] as const) if (flags[k] !== undefined) out[k] = flags[k];
  return out as Omit<LabFlags, 'name'>;
}

/** A lab name for an inventory file when none is given: inv-<file name without extension>. */
export function inventoryLabName(file: string): string {
  const base = basename(file)
    .replace(/\.[^.]+$/, '')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `inv-${base || 'hosts'}`.slice(0, 32);
}

/**
 * Whether labs of this request's provider can run side by side (each creates hosts of its own), as
 * `matrix --parallel` needs; hosts that are there already (an inventory, the VMs) cannot be shared.
 */
export const runsSideBySide = (request: LabRequest): boolean => providers[request.provider].makesHosts;

/**
 * Refuses `--parallel n` (n > 1) where labs cannot stand side by side: hosts that are there already
 * (an inventory, the VMs) are one set, and a subnet given by flag or lab file is one /24 that every
 * lab of the batch would take (two bridges on one subnet route each other's traffic).
 */
export function checkSideBySide(request: LabRequest, parallel: number): void {
  if (parallel <= 1) return;
  if (!runsSideBySide(request)) {
    throw new UsageError(
      `--parallel ${parallel} needs labs side by side; the hosts of ${request.provider === 'inventory' ? 'an inventory' : 'the vagrant'} lab are one set`,
      'drop --parallel, or give --parallel 1 (the runs then go one after another on those hosts)',
    );
  }
  if (request.config.spec.subnet !== undefined) {
    throw new UsageError(
      `--parallel ${parallel} brings up ${parallel} labs, each on a subnet of its own; the subnet ${request.config.spec.subnet} (--subnet or the lab file) is one`,
      'drop the subnet (each lab then takes the /24 its name hashes to), or give --parallel 1',
    );
  }
}

/**
 * Refuses, before anything runs, a lab this user may not have: netns labs need root, SSH labs
 * (inventory, Vagrant) run as anyone.
 */
export function checkAccess(request: LabRequest): void {
  providerOf(request.provider);
}

/** Cleans what killed runs left, on every provider. */
export async function sweepLeftovers(log: Log): Promise<string[]> {
  const cleaned: string[] = [];
  // A user who is not root has no labs of a root-only provider in their store (labRoot is theirs).
  for (const p of Object.values(providers)) if (!p.needsRoot || isRoot()) cleaned.push(...(await p.sweepLeftovers(log)));
  return cleaned;
}

/** Every lab in the store. */
export const labNames = (): string[] => listLabs();

/**
 * `lab up`: the lab stays up after the command. On failure or a signal, what this command created is
 * torn down again (a lab owned by someone else is left alone).
 */
export async function bringUp(request: LabRequest, options: Omit<UpOptions, 'persistent'>): Promise<void> {
  const { log } = options;
  const provider = providerOf(request.provider);
  await sweepLeftovers(log);
  // Before the try: a lab of that name from another provider is not this command's to tear down.
  refuseOtherProvider(request);
  try {
    const up = await provider.up(request, { ...options, persistent: true });
    await up.driver.close();
    options.signal.throwIfAborted();
    if (!up.reused) log(up.summary);
  } catch (error) {
    const state = readLab(request.name);
    if (state && ownedByThisProcess(state)) {
      log(`tearing down lab ${request.name}`);
      // A teardown that could not finish has said so, and kept the state for another try (or --forget).
      if ((await provider.down(request.name, state, log)).ok) log(`lab ${request.name} torn down`);
    } else {
      log(`lab ${request.name}: nothing of this run to tear down (${state ? `owned by process ${state.owner.pid}` : 'no state file'})`);
    }
    throw error;
  }
}

/** A lab owned by this command, not kept (a benchmark's): the caller closes the driver and brings it down. */
export async function upOwned(request: LabRequest, options: Omit<UpOptions, 'persistent'>): Promise<LabUp> {
  await sweepLeftovers(options.log);
  refuseOtherProvider(request);
  return providerOf(request.provider).up(request, { ...options, persistent: false });
}

/**
 * One name, one lab: a name the store holds for another provider's lab is refused, or one provider
 * would write over the other's state (and its teardown would never stop what the other started).
 */
function refuseOtherProvider(request: LabRequest): void {
  const existing = readLab(request.name);
  // A leftover of a killed run is swept before the lab comes up: it does not hold the name.
  if (existing !== undefined && existing.provider !== request.provider && !isLeftover(existing)) {
    throw new UsageError(
      `lab ${request.name} on this machine is of the ${existing.provider} provider; this command asks for a ${request.provider} lab of that name`,
      `pick another --lab, or bring that one down first: nomad-lab lab down --lab ${request.name}`,
    );
  }
}

/**
 * What can be known about a run's lab before anything is created: the provider can give what the
 * scenario needs (ACLs), the name is not another provider's, and hosts that are there already are
 * enough for it. Usage errors (exit 2), before a run starts and long before any provisioning.
 */
export async function checkRunFits(request: LabRequest, need: LabNeed): Promise<void> {
  const provider = providerOf(request.provider);
  const refused = provider.refuses(need, request);
  if (refused !== undefined) throw new UsageError(refused, 'run this scenario on the netns lab (the default provider)');
  refuseOtherProvider(request);
  const unfit = await provider.unfitPlanned(request, need);
  if (unfit !== undefined) throw new UsageError(`lab ${request.name} cannot take this scenario: ${unfit}`);
}

/**
 * `lab down`: idempotent; a lab a running command owns stays unless `force`. `forget` (an SSH lab
 * whose hosts are gone): its state and its hold on the hosts go without a host being contacted.
 */
export async function bringDown(name: string, options: { force: boolean; forget?: boolean; log: Log }): Promise<DownOutcome> {
  const state = readLab(name);
  if (state && !state.persistent && isAlive(state.owner) && !options.force) {
    throw new UsageError(
      `lab ${name} belongs to a running command (process ${state.owner.pid}, ${state.phase})`,
      'stop that command (it tears its lab down), or pass --force',
    );
  }
  if (options.forget === true) {
    if (state === undefined) return { ok: true, lines: [`lab ${name} is not known on this machine; nothing to forget`] };
    if (state.provider === 'netns') {
      throw new UsageError(
        `--forget is for SSH labs (inventory, vagrant) whose hosts are gone; lab ${name} is a netns lab, on this machine`,
        `tear it down: nomad-lab lab down --lab ${name}`,
      );
    }
    return { ok: true, lines: forgetRemoteLab(state) };
  }
  // No lab of that name: the netns provider still looks for what a crashed one left, which only root can.
  if (state === undefined && !isRoot()) return { ok: true, lines: [`lab ${name} is not up; nothing to do`] };
  return providerOf(state?.provider ?? 'netns').down(name, state, options.log);
}

/** The lab's status, or a usage error when there is no such lab. */
export async function statusOf(request: LabRequest): Promise<LabStatusView> {
  const state = readLab(request.name);
  const view = await providerOf(state?.provider ?? request.provider).status(request.name, state, request);
  if (!view) throw new UsageError(`no lab named ${request.name} on this machine`, 'start one with `nomad-lab lab up`');
  return view;
}

/** How to open a shell on one host of the lab. */
export async function shellOn(request: LabRequest, host: string): Promise<ShellCommand> {
  const state = readLab(request.name);
  return providerOf(state?.provider ?? request.provider).shell(state, request, host);
}

/** What the nomad CLI needs for a lab: its address, TLS files (paths) and token, and the lab's binary. */
export interface LabEnvironment extends NomadCliEnv {
  NOMAD_TOKEN?: string;
  nomad: string;
}

/**
 * The environment the nomad CLI needs for the lab: NOMAD_ADDR of a server (https on a lab with TLS,
 * with the CA and the CLI's certificate and key as paths), on a lab with ACLs the management token
 * (the caller decides whether to show it), and the binary the lab runs (its CLI speaks the lab's
 * API version).
 */
export async function labEnvironment(request: LabRequest): Promise<LabEnvironment> {
  const state = readLab(request.name);
  if (!state || state.phase !== 'up') throw new UsageError(`no lab named ${request.name} is up on this machine`, 'start one with `nomad-lab lab up`');
  const driver = providerOf(state.provider).attach(state);
  try {
    const server = driver.hosts.find((h) => h.role === 'server');
    if (!server) throw new UsageError(`lab ${request.name} has no server`);
    const token = driver.token('management');
    return { ...nomadCliEnv(server.ip, driver.tls), ...(token === undefined ? {} : { NOMAD_TOKEN: token }), nomad: state.nomad.path };
  } finally {
    await driver.close();
  }
}

export interface RunLab {
  driver: LabDriver;
  nomad: NomadBinary;
  /** How it came up ("12.3s", "reused", ...), for the trace. */
  detail: string;
}

/**
 * The lab for one scenario run: a lab this process left up for it (`reuse`, when it still fits), or
 * a new one owned by the run. A lab kept by an earlier command is not taken over. The caller has
 * run checkRunFits (what the provider cannot give, and hosts too few, are refused there, before the run).
 */
export async function labForRun(request: LabRequest, need: LabNeed, options: Omit<UpOptions, 'persistent'> & { reuse: boolean }): Promise<RunLab> {
  const { log } = options;
  const provider = providerOf(request.provider);
  await sweepLeftovers(log);
  refuseOtherProvider(request);
  const previous = readLab(request.name);
  if (previous && ownedByThisProcess(previous)) {
    const unfit = previous.phase !== 'up' ? `it is ${previous.phase}` : provider.unfit(previous, request, need);
    if (options.reuse && unfit === undefined) {
      log(`reusing lab ${request.name} from the previous run (it fits: ${request.provider})`);
      return { driver: provider.attach(previous, log), nomad: await resolveNomad(request.config.nomad), detail: 'reused' };
    }
    const down = await provider.down(request.name, previous, log);
    if (!down.ok) throw new HarnessError(`lab ${request.name} of the previous run could not be torn down: ${down.lines.join('; ')}`);
  }
  const up = await provider.up(request, { ...options, persistent: false });
  if (up.reused) {
    await up.driver.close();
    // A lab kept by an earlier run (--keep) or `lab up` still holds that run's job and allocations.
    throw new UsageError(
      `lab ${request.name} is still up from an earlier command (lab up, or a run's --keep)`,
      `remove it first: nomad-lab lab down --lab ${request.name}`,
    );
  }
  return { driver: up.driver, nomad: up.nomad, detail: up.detail };
}

/** A driver on a lab this process owns (to collect agent logs of a lab that never came all the way up). */
export function attachOwned(name: string): LabDriver | undefined {
  const state = readLab(name);
  return state !== undefined && ownedByThisProcess(state) ? providerOf(state.provider).attach(state) : undefined;
}

/**
 * The end of a run's lab, if this process owns it: kept for a look (`keep`; never while a host is
 * still cut off), left up for the next run of the batch (`leaveUp`, the run's job purged), or torn
 * down.
 */
export async function endRunLab(
  name: string,
  fate: { keep: boolean; leaveUp: boolean; healed: boolean; clean: boolean; interrupted: boolean; jobId: string },
  log: Log,
): Promise<void> {
  const state = readLab(name);
  if (!state || !ownedByThisProcess(state)) return;
  const provider = providerOf(state.provider);
  if (fate.keep && !fate.interrupted && state.phase === 'up' && fate.healed) {
    state.persistent = true;
    writeLab(state);
    log(`lab ${name} kept up: nomad-lab lab status --lab ${name}; remove it with nomad-lab lab down --lab ${name}`);
  } else if (fate.leaveUp && fate.clean && state.phase === 'up') {
    const driver = provider.attach(state);
    const server = driver.hosts.find((h) => h.role === 'server')!;
    await driver
      .api(server)
      .stopJob(fate.jobId, 'default')
      .catch(() => undefined);
    await driver.close();
    log(`lab ${name} left up for the next run (job ${fate.jobId} purged)`);
  } else {
    const outcome = await provider.down(name, state, log);
    if (!outcome.ok) for (const l of outcome.lines) log(l);
  }
}

/** Tears down the labs among `names` this process owns and did not keep (a batch that stopped early). */
export async function downOwned(names: Iterable<string>, log: Log): Promise<void> {
  for (const name of names) {
    const state = readLab(name);
    if (state && ownedByThisProcess(state) && !state.persistent) await providerOf(state.provider).down(name, state, log);
  }
}

export type { Log, Waiting };
