// Runs the repo's Ansible role against a lab: writes the inventory from the plan (addresses from
// the plan, never from facts) and runs ansible-playbook. The role renders every agent's config.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentVars } from '../config/lab-config.ts';
import { ansibleDir } from '../config/paths.ts';
import { run } from '../exec/local.ts';
import { HarnessError } from '../util/errors.ts';
import { writeFileAtomic } from '../util/files.ts';
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
export function netnsInventory(plan: LabPlan, labDirectory: string, nomadVersion: string): object {
  const hostVars = (h: HostPlan) => {
    const d = hostDirs(labDirectory, h);
    return {
      nomad_bind_addr: h.ip,
      nomad_network_interface: h.ifname,
      nomad_datacenter: h.datacenter,
      nomad_data_dir: d.dataDir,
      nomad_config_dir: d.configDir,
      lab_netns: h.netns,
    };
  };
  const group = (role: 'server' | 'client') =>
    Object.fromEntries(plan.hosts.filter((h) => h.role === role).map((h) => [h.name, hostVars(h)]));
  return {
    all: {
      vars: {
        ansible_connection: 'local',
        ansible_python_interpreter: '/usr/bin/python3',
        nomad_version: nomadVersion,
        nomad_service_manager: 'supervised',
        nomad_server_addrs: servers(plan).map((s) => s.ip),
        nomad_acl_enabled: plan.acl,
        lab_id: plan.id,
      },
      children: { servers: { hosts: group('server') }, clients: { hosts: group('client') } },
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
  mkdirSync(join(dir, 'tmp'), { recursive: true, mode: 0o700 });
  const inventory = join(dir, 'inventory.json');
  writeFileAtomic(inventory, JSON.stringify(netnsInventory(plan, labDirectory, nomadVersion), null, 2), 0o600);
  const extraVars = join(dir, 'agent-vars.json');
  writeFileAtomic(extraVars, JSON.stringify(agentVars), 0o600);
  const roles = ansibleDir();
  const argv = ['ansible-playbook', '-i', inventory, '-e', `@${extraVars}`, join(roles, 'site.yml')];
  const started = Date.now();
  const result = await run(argv, {
    host: 'local',
    check: false,
    timeoutMs: 300_000,
    ...(signal ? { signal } : {}),
    env: {
      ANSIBLE_CONFIG: join(roles, 'ansible.cfg'),
      ANSIBLE_ROLES_PATH: join(roles, 'roles'),
      // Keep Ansible's own state inside the lab directory; nothing lands in ~/.ansible.
      ANSIBLE_HOME: dir,
      ANSIBLE_LOCAL_TEMP: join(dir, 'tmp'),
      ANSIBLE_REMOTE_TEMP: join(dir, 'tmp'),
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_FORCE_COLOR: '0',
    },
  });
  writeFileSync(join(dir, 'ansible.log'), `$ ${argv.join(' ')}\n${result.stdout}\n${result.stderr}\n`);
  if (result.exitCode !== 0) {
    const failed = `${result.stdout}\n${result.stderr}`.split('\n').filter((l) => /fatal:|FAILED|ERROR/.test(l)).slice(0, 8).join('\n    ');
    throw new HarnessError(`ansible-playbook failed (exit code ${result.exitCode}):\n    ${failed || result.stderr.trim().slice(-800)}`, {
      host: 'local',
      command: argv,
      hint: `full output: ${join(dir, 'ansible.log')}`,
    });
  }
  return { seconds: (Date.now() - started) / 1000 };
}
