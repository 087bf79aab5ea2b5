// Where things live: the checkout, the lab root (state, agent data, logs), the Nomad build cache.
import { homedir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Root of every lab's state and agent directories; outside the checkout, root-owned. */
export function labRoot(): string {
  return process.env['NOMAD_LAB_ROOT'] ?? '/var/lib/nomad-lab';
}

export function labDir(name: string): string {
  return join(labRoot(), 'labs', name);
}

export function nomadCache(): string {
  return process.env['NOMAD_LAB_CACHE'] ?? join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'nomad-lab');
}

export const ansibleDir = (): string => process.env['NOMAD_LAB_ANSIBLE_DIR'] ?? join(repoRoot, 'ansible');
