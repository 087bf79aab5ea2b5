// The lab store: one directory per lab, <lab root>/labs/<name>/, whose state.json says which
// provider made the lab, what was planned, who owns it and which phase it is in. Every provider
// keeps its labs here; teardown and the leftover sweep work from it (resource names are
// deterministic, so a partial netns lab is still found).
import { existsSync, linkSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { labDir, labRoot } from '../config/paths.ts';
import { identify, isAlive, type ProcessIdentity } from '../exec/procs.ts';
import { HarnessError } from '../util/errors.ts';
import { writeFileAtomic } from '../util/files.ts';
import { pause } from '../util/poll.ts';
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

/** The store's lock: held while a command looks at the other labs and writes its own lab's state. */
export const storeLockFile = (): string => join(labRoot(), 'labs', '.lock');

/** Who holds the store's lock (what the lock file says); undefined when it is gone or unreadable. */
function lockHolder(file: string): { text: string; owner: (ProcessIdentity & { what?: string }) | undefined } | undefined {
  try {
    const text = readFileSync(file, 'utf8');
    try {
      return { text, owner: JSON.parse(text) as ProcessIdentity & { what?: string } };
    } catch {
      return { text, owner: undefined };
    }
  } catch {
    return undefined;
  }
}

/**
 * Runs `fn` holding the store's lock, so that a check over every lab's state and the write of this
 * lab's state are one step: of two commands started at once, the second sees the first one's lab.
 * The lock is a file made whole with link(2), which fails when the file exists: exactly one command
 * gets it, the others wait their turn (a few milliseconds: `fn` only reads and writes state files).
 * It names its owner (pid and start time); a lock whose owner is gone (killed while it held it) is
 * removed, and an owner releases only a lock that still names it. What is left: a command that finds
 * a dead owner's lock could, in the microseconds between reading it and removing it, remove the lock
 * another command has just taken; that needs a command killed inside its few milliseconds and two
 * others starting at that very moment.
 */
export async function withStoreLock<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 15_000): Promise<T> {
  const file = storeLockFile();
  mkdirSync(join(labRoot(), 'labs'), { recursive: true, mode: 0o700 });
  // A nonce: two calls of one process (same pid) must not take each other's lock for their own.
  const nonce = randomUUID();
  const mine = JSON.stringify({ ...selfIdentity(), what, nonce });
  const tmp = `${file}.${nonce}.tmp`;
  writeFileSync(tmp, mine, { mode: 0o600 });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        linkSync(tmp, file);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const held = lockHolder(file);
      if (held === undefined) continue;
      if (held.owner === undefined || !isAlive(held.owner)) {
        // Removed only if it still holds what was read: a lock taken since then stays.
        if (lockHolder(file)?.text === held.text) rmSync(file, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new HarnessError(`the lab store is locked by process ${held.owner.pid} (${held.owner.what ?? 'unknown'}) for ${timeoutMs / 1000}s`, {
          host: 'local',
          hint: `if that process hangs, stop it; the lock is ${file}`,
        });
      }
      await pause(20);
    }
  } finally {
    rmSync(tmp, { force: true });
  }
  try {
    return await fn();
  } finally {
    if (lockHolder(file)?.text === mine) rmSync(file, { force: true });
  }
}
