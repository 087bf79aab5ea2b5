// The state file of a lab: what was planned, who owns it, which phase it is in. Teardown and the
// leftover sweep work from it; resource names are deterministic, so a partial lab is still found.
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { labDir, labRoot } from '../config/paths.ts';
import { identify, isAlive, type ProcessIdentity } from '../exec/procs.ts';
import { writeFileAtomic } from '../util/files.ts';
import type { LabPlan } from './topology.ts';

export type LabPhase = 'creating' | 'up' | 'destroying';

export interface AgentRecord {
  host: string;
  pid: number;
  startTicks: number;
  configDir: string;
  logFile: string;
}

export interface LabState {
  version: 1;
  plan: LabPlan;
  phase: LabPhase;
  /**
   * The process that owns the lab. A lab left by `lab up` is persistent: it outlives its creator
   * and stays until `lab down`. Any other lab whose owner is gone is a leftover of a killed run.
   */
  owner: ProcessIdentity;
  persistent: boolean;
  nomad: { path: string; version: string; source: string };
  createdAt: string;
  agents: AgentRecord[];
  /** sshd labs: the OpenSSH server of each host (the agents are the inventory provider's). */
  sshd?: Array<{ host: string; pid: number }>;
  /** Lab root at creation time (the data, config and log directories live under it). */
  dir: string;
}

export const stateFile = (name: string): string => join(labDir(name), 'state.json');

export function readState(name: string): LabState | undefined {
  const file = stateFile(name);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

export function writeState(state: LabState): void {
  writeFileAtomic(stateFile(state.plan.name), `${JSON.stringify(state, null, 2)}\n`, 0o600);
}

export function removeLabDir(name: string): void {
  rmSync(labDir(name), { recursive: true, force: true });
}

/** Names of every lab with a directory under the lab root. */
export function listLabs(): string[] {
  const dir = join(labRoot(), 'labs');
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name);
}

export function selfIdentity(): ProcessIdentity {
  const me = identify(process.pid);
  if (!me) throw new Error('cannot read /proc/self/stat');
  return me;
}

/** Whether this very process owns the lab (pid and start time: pids are reused). */
export function ownedByThisProcess(state: LabState): boolean {
  const me = identify(process.pid);
  return me !== undefined && state.owner.pid === me.pid && state.owner.startTicks === me.startTicks;
}

/** A leftover: not persistent, or mid-teardown, and its owner is gone. */
export function isLeftover(state: LabState): boolean {
  if (isAlive(state.owner)) return false;
  return !state.persistent || state.phase !== 'up';
}
