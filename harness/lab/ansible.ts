// Runs the repo's Ansible role against a lab: writes the inventory from the plan (addresses from
// the plan, never from facts) and runs ansible-playbook. The role renders every agent's config.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentVars } from '../config/lab-config.ts';
import { ansibleDir } from '../config/paths.ts';
import { run } from '../exec/local.ts';
import { HarnessError } from '../util/errors.ts';
import { writeFileAtomic } from '../util/files.ts';
import { tlsHostVars } from './tls.ts';
import { servers, type HostPlan, type LabPlan } from './topology.ts';

export interface HostDirs {
  root: string;
  configDir: string;
  dataDir: string;
  logFile: string;
  pidFile: string;
}

/** Per-host directories: each agent gets its own parent (Nomad puts alloc mounts beside data_dir). */
export function hostDirs(labDirectory: string, host: HostPlan): HostDirs {
  const root = join(labDirectory, 'hosts', host.name);
  return {
    root,
    configDir: join(root, 'config'),
    dataDir: join(root, 'data'),
    logFile: join(root, 'agent.log'),
    pidFile: join(root, 'agent.pid'),
  };
}

/** The inventory as plain data (pure): groups servers and clients, connection local. */
/** What the role needs of a netns lab host (pure): its address and interface, datacenter, directories. */
export function labHostVars(labDirectory: string, h: HostPlan): Record<string, string> {
  const d = hostDirs(labDirectory, h);
  return {
    nomad_bind_addr: h.ip,
    nomad_network_interface: h.ifname,
    nomad_datacenter: h.datacenter,
    nomad_data_dir: d.dataDir,
    nomad_config_dir: d.configDir,
  };
}

/** Inventory groups `servers` and `clients` of a plan, each host with its variables. */
export function inventoryGroups(plan: LabPlan, hostVars: (h: HostPlan) => object): object {
  const group = (role: 'server' | 'client') => ({ hosts: Object.fromEntries(plan.hosts.filter((h) => h.role === role).map((h) => [h.name, hostVars(h)])) });
  return { servers: group('server'), clients: group('client') };
}

export function netnsInventory(plan: LabPlan, labDirectory: string, nomadVersion: string): object {
  return {
    all: {
      vars: {
        ansible_connection: 'local',
        ansible_python_interpreter: '/usr/bin/python3',
        nomad_version: nomadVersion,
        nomad_service_manager: 'supervised',
        nomad_server_addrs: servers(plan).map((s) => s.ip),
        nomad_acl_enabled: plan.acl,
        nomad_tls_enabled: plan.tls === true,
        lab_id: plan.id,
      },
      // With TLS each agent points at its own certificate in the lab directory (the hosts share this machine's files).
      children: inventoryGroups(plan, (h) => ({
        ...labHostVars(labDirectory, h),
        lab_netns: h.netns,
        ...(plan.tls === true ? tlsHostVars(plan.name, h) : {}),
      })),
    },
  };
}

export async function renderAgentConfig(
  plan: LabPlan,
  labDirectory: string,
  nomadVersion: string,
  agentVars: AgentVars,
  signal?: AbortSignal,
): Promise<{ seconds: number }> {
  const dir = join(labDirectory, 'ansible');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const inventory = join(dir, 'inventory.json');
  writeFileAtomic(inventory, JSON.stringify(netnsInventory(plan, labDirectory, nomadVersion), null, 2), 0o600);
  const extraVars = join(dir, 'agent-vars.json');
  writeFileAtomic(extraVars, JSON.stringify(agentVars), 0o600);
  // The hosts are this machine (connection local): their temp files stay in the lab directory too.
  const env = { ANSIBLE_REMOTE_TEMP: join(dir, 'tmp') };
  // render-local.yml, not site.yml: the same role and templates, rendered for every host in one pass on
  // the first host and written in one module run. site.yml's pass per host cost about 0.6 s a host
  // here (50 clients: 32 s), nearly all of it Ansible's per-task, per-host overhead and a Python process
  // per module run; in one pass 100 hosts take a few seconds (docs/providers.md, large labs).
  return runPlaybook({
    dir,
    inventories: [inventory],
    extraVars,
    env,
    playbook: NETNS_PLAYBOOK,
    timeoutMs: 300_000,
    what: 'ansible-playbook',
    ...(signal ? { signal } : {}),
  });
}

/** The playbook the netns provider renders its agents' configuration with (ansible/render-local.yml). */
export const NETNS_PLAYBOOK = 'render-local.yml';

export interface PlaybookOptions {
  /** Ansible's own state, temp files and the run's log (ansible.log) go here; nothing in ~/.ansible. */
  dir: string;
  /** In order: a later inventory's variables win over an earlier one's at the same level. */
  inventories: string[];
  /** A JSON file of extra variables. */
  extraVars: string;
  /** The playbook in the Ansible directory; site.yml unless given. */
  playbook?: string;
  /** More ansible-playbook arguments (e.g. --become). */
  args?: string[];
  /** More environment (e.g. ANSIBLE_SSH_ARGS for hosts over SSH). */
  env?: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal;
  /** How a failure is named: "ansible-playbook", "provisioning". */
  what: string;
}

/** Runs one of the repo's playbooks (site.yml unless told) with its role; the output goes to <dir>/ansible.log, failures name their lines. */
export async function runPlaybook(options: PlaybookOptions): Promise<{ seconds: number }> {
  const { dir } = options;
  mkdirSync(join(dir, 'tmp'), { recursive: true, mode: 0o700 });
  const roles = ansibleDir();
  const argv = [
    'ansible-playbook',
    ...options.inventories.flatMap((i) => ['-i', i]),
    ...(options.args ?? []),
    '-e',
    `@${options.extraVars}`,
    join(roles, options.playbook ?? 'site.yml'),
  ];
  const started = Date.now();
  const result = await run(argv, {
    host: 'local',
    check: false,
    timeoutMs: options.timeoutMs,
    ...(options.signal ? { signal: options.signal } : {}),
    env: {
      ANSIBLE_CONFIG: join(roles, 'ansible.cfg'),
      ANSIBLE_ROLES_PATH: join(roles, 'roles'),
      // Keep Ansible's own state inside the lab directory; nothing lands in ~/.ansible.
      ANSIBLE_HOME: dir,
      ANSIBLE_LOCAL_TEMP: join(dir, 'tmp'),
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_FORCE_COLOR: '0',
      // An inventory Ansible cannot parse is an error, not a warning and an empty lab.
      ANSIBLE_INVENTORY_UNPARSED_FAILED: 'True',
      ...(options.env ?? {}),
    },
  });
  writeFileSync(join(dir, 'ansible.log'), `$ ${argv.join(' ')}\n${result.stdout}\n${result.stderr}\n`);
  if (result.exitCode !== 0) {
    const failed = `${result.stdout}\n${result.stderr}`
      .split('\n')
      .filter((l) => /fatal:|FAILED|ERROR|UNREACHABLE/.test(l))
      .slice(0, 8)
      .join('\n    ');
    throw new HarnessError(`${options.what} failed (exit code ${result.exitCode}):\n    ${failed || result.stderr.trim().slice(-800)}`, {
      host: 'local',
      command: argv,
      hint: `full output: ${join(dir, 'ansible.log')}`,
    });
  }
  return { seconds: (Date.now() - started) / 1000 };
}
