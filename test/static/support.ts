// Shared by the static checks of the VM lab: tool detection, scratch directories, Ansible runs that leave nothing in ~.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { repoRoot } from '../../harness/config/paths.ts';
import { available, run, type RunResult } from '../../harness/exec/local.ts';

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

/**
 * The developer's own NOMAD_LAB_* variables set to '' (which vagrant/topology.rb reads as "not set"), so none leaks into
 * a Vagrantfile or topology run (an old name such as NOMAD_LAB_SERVERS would even stop it); then `extra`.
 */
export function cleanVmEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of Object.keys(process.env)) if (name.startsWith('NOMAD_LAB_')) env[name] = '';
  return { ...env, ...extra };
}

/** What test/static/vagrantfile-probe.rb records: every setting and call of a Vagrantfile, as data. */
export interface Recorded {
  settings: Record<string, unknown>;
  calls: Array<{ call: string; args: unknown[]; options: Record<string, unknown>; block: Recorded | null }>;
}

/** The Vagrantfile loaded by test/static/vagrantfile-probe.rb against a stand-in for Vagrant (`env` on top of cleanVmEnv). */
export async function probeVagrantfile(
  env: Record<string, string> = {},
  vagrantfile = join(repoRoot, 'Vagrantfile'),
): Promise<RunResult & { recorded?: Recorded }> {
  const r = await run(['ruby', join(repoRoot, 'test', 'static', 'vagrantfile-probe.rb'), vagrantfile], { check: false, cwd: tmpdir(), env: cleanVmEnv(env) });
  return r.exitCode === 0 ? { ...r, recorded: JSON.parse(r.stdout) as Recorded } : r;
}

export const vmOf = (r: Recorded): Recorded => r.settings['vm'] as Recorded;
export const callsOf = (r: Recorded, name: string): Recorded['calls'] => vmOf(r).calls.filter((c) => c.call === name);

/** The settings of the Vagrantfile's one `ansible` provisioner (in the last machine), and that machine's name. */
export function ansibleProvisioner(r: Recorded): { machine: string; settings: Record<string, unknown> } {
  const runs = callsOf(r, 'define').flatMap((m) =>
    callsOf(m.block!, 'provision')
      .filter((p) => p.options['type'] === 'ansible')
      .map((p) => ({ machine: m.args[0] as string, settings: p.block!.settings })),
  );
  if (runs.length !== 1) throw new Error(`expected one ansible provisioner, found ${runs.length}`);
  return runs[0]!;
}

/** `ruby vagrant/topology.rb`: the topology the Vagrantfile computes, as JSON (the parts read here). */
export async function rubyTopology(
  env: Record<string, string> = {},
): Promise<{ hosts: Array<{ name: string; role: string; index: number; ip: string; datacenter: string }> } & Record<string, unknown>> {
  const r = await run(['ruby', join(repoRoot, 'vagrant', 'topology.rb')], { check: false, cwd: tmpdir(), env: cleanVmEnv(env) });
  if (r.exitCode !== 0) throw new Error(`ruby vagrant/topology.rb: ${r.stderr}`);
  return JSON.parse(r.stdout) as never;
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

/** The variables a role-rendering inventory runs with on this machine (no SSH, agents not started: supervised). */
export const localRoleVars = {
  ansible_connection: 'local',
  ansible_python_interpreter: '/usr/bin/python3',
  nomad_version: '1.6.0',
  nomad_service_manager: 'supervised',
  nomad_server_addrs: ['192.0.2.11'],
} as const;
