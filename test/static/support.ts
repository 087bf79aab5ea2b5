// Shared by the static checks of the VM lab: tool detection, scratch directories, Ansible runs that leave nothing in ~.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { repoRoot } from '../../harness/config/paths.ts';
import { available, run, type RunResult } from '../../harness/exec/local.ts';
import { VM_ENV, VM_TOPOLOGY_ENV } from '../../harness/lab/vm-topology.ts';

export const ansibleDir = join(repoRoot, 'ansible');
export const roleDir = join(ansibleDir, 'roles', 'nomad');

/** Whether a tool is installed (`scripts/setup.sh --tests` installs them); a missing one skips, which CI counts as a failure. */
export const has = async (tool: string): Promise<boolean> => available(tool);

/** A scratch directory removed after the file's tests. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `nomad-lab-${prefix}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Every NOMAD_LAB_* variable of the VM topology set to '' (meaning "not set"), so the developer's own do not leak in. */
export function cleanVmEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { [VM_TOPOLOGY_ENV]: '' };
  for (const name of Object.values(VM_ENV)) env[name] = '';
  return { ...env, ...extra };
}

/** Ansible's environment: its state under `dir`, colours off; `config` names an ansible.cfg (none by default). */
export function ansibleEnv(dir: string, config?: string): Record<string, string> {
  mkdirSync(join(dir, 'ansible-tmp'), { recursive: true });
  return {
    ANSIBLE_HOME: dir,
    ANSIBLE_LOCAL_TEMP: join(dir, 'ansible-tmp'),
    ANSIBLE_REMOTE_TEMP: join(dir, 'ansible-tmp'),
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_FORCE_COLOR: '0',
    ANSIBLE_LOCALHOST_WARNING: 'false',
    ANSIBLE_INVENTORY_UNPARSED_WARNING: 'false',
    ANSIBLE_RETRY_FILES_ENABLED: 'false',
    // No inherited ANSIBLE_CONFIG decides (a missing file is skipped; runs start in a scratch directory).
    ANSIBLE_CONFIG: config ?? join(dir, 'no-ansible.cfg'),
  };
}

export function ansiblePlaybook(args: string[], dir: string, options: { config?: string; cwd?: string } = {}): Promise<RunResult> {
  return run(['ansible-playbook', ...args], { check: false, timeoutMs: 120_000, cwd: options.cwd ?? dir, env: ansibleEnv(dir, options.config) });
}

/** An inventory file (JSON, which Ansible's yaml inventory plugin reads) of groups servers and clients. */
export function writeInventory(dir: string, name: string, inventory: object): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(inventory, null, 2));
  return file;
}
