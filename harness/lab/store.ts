// The lab store: one directory per lab, <lab root>/labs/<name>/, whose state.json says which
// provider made the lab, what was planned, who owns it and which phase it is in. Every provider
// keeps its labs here; teardown and the leftover sweep work from it (resource names are
// deterministic, so a partial netns lab is still found).
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { labDir, labRoot } from '../config/paths.ts';
import { identify, isAlive, type ProcessIdentity } from '../exec/procs.ts';
import { writeFileAtomic } from '../util/files.ts';
import type { RemotePlan } from './inventory.ts';
import type { LabPlan } from './topology.ts';

/** Who provides a lab's hosts: namespaces on this machine, an Ansible inventory, or Vagrant's VMs. */
export type ProviderKind = 'netns' | 'inventory' | 'vagrant';
export const PROVIDERS: readonly ProviderKind[] = ['netns', 'inventory', 'vagrant'];

export type LabPhase = 'creating' | 'up' | 'destroying';

export interface AgentRecord {
  host: string;
  pid: number;
  startTicks: number;
  configDir: string;
  logFile: string;
}

interface StoredBase {
  version: 1;
  provider: ProviderKind;
  phase: LabPhase;
  /**
   * The process that owns the lab. A lab left by `lab up` (or a run's --keep) is persistent: it
   * outlives its creator and stays until `lab down`. Any other lab whose owner is gone is a leftover
   * of a killed run.
   */
  owner: ProcessIdentity;
  persistent: boolean;
  nomad: { path: string; version: string; source: string };
  createdAt: string;
  /** Jobs runs registered on this lab (an SSH lab's teardown purges these only). */
  jobs?: string[];
}

/** A lab of network namespaces on this machine (the netns provider). */
export interface LabState extends StoredBase {
  provider: 'netns';
  plan: LabPlan;
  agents: AgentRecord[];
  /** sshd labs: the OpenSSH server of each host (the agents are the inventory provider's). */
  sshd?: Array<{ host: string; pid: number }>;
  /** Lab root at creation time (the data, config and log directories live under it). */
  dir: string;
}

/** A lab of hosts reached over SSH (the inventory and vagrant providers). */
export interface SshLabState extends StoredBase {
  provider: 'inventory' | 'vagrant';
  plan: RemotePlan;
  /** Hosts whose agent this lab started (provisioning or a restart): the ones teardown stops. */
  started: string[];
  provisioned: boolean;
}

export type StoredLab = LabState | SshLabState;

export const stateFile = (name: string): string => join(labDir(name), 'state.json');

/** Any lab's state, whichever provider made it; undefined when there is none (or it is unreadable). */
export function readLab(name: string): StoredLab | undefined {
  adoptOldSshLabs();
  const file = stateFile(name);
  if (!existsSync(file)) return undefined;
  try {
    const state = JSON.parse(readFileSync(file, 'utf8')) as StoredLab;
    // States written before the provider field: a netns lab has agents, an SSH lab's plan says.
    if ((state as { provider?: ProviderKind }).provider === undefined) {
      (state as { provider: ProviderKind }).provider = 'agents' in state ? 'netns' : (state.plan as RemotePlan).provider;
    }
    return state;
  } catch {
    return undefined;
  }
}

/** A netns lab's state (undefined for a lab of another provider). */
export function readState(name: string): LabState | undefined {
  const state = readLab(name);
  return state?.provider === 'netns' ? state : undefined;
}

export function writeLab(state: StoredLab): void {
  mkdirSync(labDir(state.plan.name), { recursive: true, mode: 0o700 });
  writeFileAtomic(stateFile(state.plan.name), `${JSON.stringify(state, null, 2)}\n`, 0o600);
}

export const writeState: (state: LabState) => void = writeLab;

export function removeLabDir(name: string): void {
  rmSync(labDir(name), { recursive: true, force: true });
}

/** Names of every lab with a directory under the lab root, whichever provider made it. */
export function listLabs(): string[] {
  adoptOldSshLabs();
  const dir = join(labRoot(), 'labs');
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name);
}

/**
 * SSH labs of earlier versions lived under <lab root>/ssh-labs/: moved into the one store, so a lab
 * a killed run of an older version left is still found and cleaned.
 */
function adoptOldSshLabs(): void {
  const old = join(labRoot(), 'ssh-labs');
  if (!existsSync(old)) return;
  for (const d of readdirSync(old, { withFileTypes: true }).filter((x) => x.isDirectory())) {
    if (existsSync(labDir(d.name))) continue;
    mkdirSync(join(labRoot(), 'labs'), { recursive: true, mode: 0o700 });
    renameSync(join(old, d.name), labDir(d.name));
  }
  if (readdirSync(old).length === 0) rmSync(old, { recursive: true, force: true });
}

export function selfIdentity(): ProcessIdentity {
  const me = identify(process.pid);
  if (!me) throw new Error('cannot read /proc/self/stat');
  return me;
}

/** Whether this very process owns the lab (pid and start time: pids are reused). */
export function ownedByThisProcess(state: StoredLab): boolean {
  const me = identify(process.pid);
  return me !== undefined && state.owner.pid === me.pid && state.owner.startTicks === me.startTicks;
}

/** A leftover: not persistent, or mid-teardown, and its owner is gone. */
export function isLeftover(state: StoredLab): boolean {
  if (isAlive(state.owner)) return false;
  return !state.persistent || state.phase !== 'up';
}

/** Remembers a job a run registered (an SSH lab's teardown purges those, and only those). */
export function recordJob(name: string, jobId: string): void {
  const state = readLab(name);
  if (!state || (state.jobs ?? []).includes(jobId)) return;
  state.jobs = [...(state.jobs ?? []), jobId];
  writeLab(state);
}
