// Where things live: the checkout, the lab root (state, agent data, logs), the Nomad build cache.
import { homedir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Root of every lab's state and agent directories, outside the checkout: root's labs (every netns
 * lab, and SSH labs made as root) under /var/lib/nomad-lab; a user's SSH labs (inventory, Vagrant:
 * no root needed) under $XDG_STATE_HOME/nomad-lab, as the XDG base directory spec places state.
 */
export function labRoot(): string {
  const set = process.env['NOMAD_LAB_ROOT'];
  if (set !== undefined && set !== '') return set;
  if (process.getuid?.() === 0) return '/var/lib/nomad-lab';
  const state = process.env['XDG_STATE_HOME'];
  // The spec: a relative XDG_STATE_HOME is invalid and is ignored.
  return join(state !== undefined && state.startsWith('/') ? state : join(homedir(), '.local', 'state'), 'nomad-lab');
}

export function labDir(name: string): string {
  return join(labRoot(), 'labs', name);
}

export function nomadCache(): string {
  return process.env['NOMAD_LAB_CACHE'] ?? join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'nomad-lab');
}

export const ansibleDir = (): string => process.env['NOMAD_LAB_ANSIBLE_DIR'] ?? join(repoRoot, 'ansible');
