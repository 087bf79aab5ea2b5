// The vagrant provider: the VMs `vagrant up` made from vagrant/topology.yaml, reached with the SSH
// settings `vagrant ssh-config` prints. Vagrant's own provisioning ran the role (systemd).
import { join } from 'node:path';
import { labRoot, repoRoot } from '../config/paths.ts';
import { run } from '../exec/local.ts';
import { HarnessError, UsageError } from '../util/errors.ts';
import type { RemoteHost, RemotePlan } from './inventory.ts';
import { loadVmTopology, type VmTopology } from './vm-topology.ts';

export interface SshConfigEntry {
  host: string;
  hostName: string;
  port: number;
  user: string;
  identityFile: string;
}

/** Parses `vagrant ssh-config` (OpenSSH client config blocks); pure. */
export function parseSshConfig(text: string): SshConfigEntry[] {
  const entries: SshConfigEntry[] = [];
  let current: Partial<SshConfigEntry> | undefined;
  const finish = () => {
    if (current?.host && current.hostName && current.user && current.identityFile) {
      entries.push({ host: current.host, hostName: current.hostName, port: current.port ?? 22, user: current.user, identityFile: current.identityFile });
    }
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    const value = m[2]!.replace(/^"(.*)"$/, '$1');
    if (key === 'host') {
      finish();
      current = { host: value };
    } else if (current) {
      if (key === 'hostname') current.hostName = value;
      else if (key === 'port') current.port = Number(value);
      else if (key === 'user') current.user = value;
      else if (key === 'identityfile' && current.identityFile === undefined) current.identityFile = value;
    }
  }
  finish();
  return entries;
}

/** Host keys of the VMs, pinned on first use (Vagrant itself turns host key checking off). */
export const vagrantKnownHosts = (): string => join(labRoot(), 'vagrant_known_hosts');

/** The SSH lab of the VMs (pure): topology for names, roles and addresses, ssh-config for the way in. */
export function planFromVagrant(topology: VmTopology, sshConfig: SshConfigEntry[], name: string, dir: string): RemotePlan {
  const hosts: RemoteHost[] = topology.hosts.map((h) => {
    const ssh = sshConfig.find((e) => e.host === h.name);
    if (!ssh) throw new UsageError(`vagrant ssh-config has no machine ${h.name}`, 'bring the VMs up first: vagrant up (same NOMAD_LAB_* settings as now)');
    return {
      name: h.name,
      role: h.role,
      index: h.index,
      datacenter: h.datacenter,
      ip: h.ip,
      ssh: { name: h.name, address: ssh.hostName, port: ssh.port, user: ssh.user, identityFile: ssh.identityFile, knownHosts: vagrantKnownHosts() },
      manager: 'systemd',
      service: 'nomad',
      binary: '/usr/local/bin/nomad',
      dataDir: '/opt/nomad/data',
      configDir: '/etc/nomad.d',
      pidFile: '/opt/nomad/agent.pid',
      logFile: '/opt/nomad/agent.log',
    };
  });
  return { provider: 'vagrant', name, source: dir, hosts };
}

/** Reads the topology and asks Vagrant how to reach each VM (`vagrant ssh-config`, in the repo root). */
export async function vagrantPlan(dir: string = repoRoot, name = 'vagrant'): Promise<RemotePlan> {
  const topology = loadVmTopology();
  const argv = ['vagrant', 'ssh-config'];
  const r = await run(argv, { cwd: dir, check: false, timeoutMs: 120_000 }).catch((cause: unknown) => {
    throw new HarnessError('vagrant is not installed here', { host: 'local', command: argv, cause, hint: 'install Vagrant and VirtualBox (README, "The VM lab"), then vagrant up' });
  });
  if (r.exitCode !== 0) {
    // Vagrant's message is a paragraph; its first sentence says what is wrong.
    const said = (r.stderr || r.stdout).replace(/\s+/g, ' ').trim();
    const first = /^(.*?[.!])(\s|$)/.exec(said)?.[1] ?? said;
    throw new HarnessError(`vagrant ssh-config failed: ${first.slice(0, 400)}`, { host: 'local', command: argv, hint: 'are the VMs up? run `vagrant up` in the repository root (README, "The VM lab"), then `vagrant status`' });
  }
  return planFromVagrant(topology, parseSshConfig(r.stdout), name, dir);
}
