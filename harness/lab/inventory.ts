// Existing hosts from an Ansible inventory (any format Ansible reads): `ansible-inventory --list`
// turns it into JSON, and a pure function turns that into the plan of an SSH lab.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { run } from '../exec/local.ts';
import type { SshTarget } from '../exec/ssh.ts';
import { HarnessError, UsageError } from '../util/errors.ts';
import type { Role } from './topology.ts';

export type ServiceManager = 'systemd' | 'daemon';

/** A lab host reached over SSH, with what the harness needs to run faults and find logs there. */
export interface RemoteHost {
  /** Inventory host name, also the Nomad node name (the role's nomad_node_name default). */
  name: string;
  role: Role;
  index: number;
  datacenter: string;
  /** The address Nomad advertises: what the API is reached on and what partitions drop. */
  ip: string;
  ssh: SshTarget;
  manager: ServiceManager;
  /** systemd unit name (without .service). */
  service: string;
  /** The nomad binary on the host. */
  binary: string;
  dataDir: string;
  configDir: string;
  /** start-stop-daemon's pid file and the agent's output (daemon manager). */
  pidFile: string;
  logFile: string;
}

export interface RemotePlan {
  provider: 'inventory' | 'vagrant';
  name: string;
  /** What the hosts came from: the inventory file, or the Vagrant directory. */
  source: string;
  hosts: RemoteHost[];
}

/** What `ansible-inventory --list` prints (the parts read here). */
export interface InventoryList {
  _meta?: { hostvars?: Record<string, Record<string, unknown>> };
  [group: string]: { hosts?: string[]; children?: string[] } | InventoryList['_meta'];
}

/** Hosts of a group, through its child groups, in inventory order, each once. */
export function groupHosts(list: InventoryList, group: string, seen = new Set<string>()): string[] {
  if (seen.has(group)) return [];
  seen.add(group);
  const g = list[group] as { hosts?: string[]; children?: string[] } | undefined;
  const hosts = [...(g?.hosts ?? [])];
  for (const child of g?.children ?? []) hosts.push(...groupHosts(list, child, seen));
  return [...new Set(hosts)];
}

/** `~/x` as Ansible and ssh read it: the home directory of the user running the harness. */
const expandHome = (path: string): string => (path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path);

function text(vars: Record<string, unknown>, key: string, host: string): string | undefined {
  const v = vars[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' && typeof v !== 'number') throw new UsageError(`inventory host ${host}: ${key} must be a string, got ${JSON.stringify(v)}`);
  const s = String(v);
  // The harness reads the inventory as data; it does not run Jinja (Ansible renders it on the hosts).
  if (s.includes('{{'))
    throw new UsageError(`inventory host ${host}: ${key} is a template (${s})`, 'give the harness literal values for addresses, directories and keys');
  return s;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export interface InventoryDefaults {
  /** known_hosts the harness pins host keys in, unless a host sets nomad_lab_known_hosts. */
  knownHosts: string;
  /** Private key when the inventory names none (the first of ~/.ssh/id_ed25519, id_rsa that exists). */
  identityFile?: string;
}

/** The SSH lab of an inventory (pure): groups `servers` and `clients`, addresses from variables only. */
export function planFromInventory(list: InventoryList, name: string, source: string, defaults: InventoryDefaults): RemotePlan {
  const serverNames = groupHosts(list, 'servers');
  const clientNames = groupHosts(list, 'clients');
  if (serverNames.length === 0 || clientNames.length === 0) {
    throw new UsageError(
      `inventory ${source} needs hosts in group "servers" and in group "clients" (found ${serverNames.length} and ${clientNames.length})`,
      'see ansible/scenarios/README.md for an example inventory',
    );
  }
  const both = serverNames.filter((h) => clientNames.includes(h));
  if (both.length > 0) throw new UsageError(`inventory ${source}: ${both.join(', ')} in both servers and clients`, 'a lab host is a server or a client');
  const hostvars = list._meta?.hostvars ?? {};
  const hosts: RemoteHost[] = [];
  const place = (names: string[], role: Role) =>
    names.forEach((hostName, i) => {
      const v = hostvars[hostName] ?? {};
      const ip = text(v, 'nomad_advertise_addr', hostName) ?? text(v, 'nomad_bind_addr', hostName);
      if (ip === undefined || !IPV4.test(ip)) {
        throw new UsageError(
          `inventory host ${hostName}: set nomad_bind_addr to the IPv4 address Nomad should use${ip ? ` (got ${ip})` : ''}`,
          "addresses come from the inventory, never from facts (a VM's first NIC is NAT)",
        );
      }
      const dataDir = text(v, 'nomad_data_dir', hostName) ?? '/opt/nomad/data';
      const parent = dataDir.replace(/\/[^/]+\/?$/, '') || '/';
      const identityFile = text(v, 'ansible_ssh_private_key_file', hostName) ?? text(v, 'ansible_private_key_file', hostName) ?? defaults.identityFile;
      if (identityFile === undefined)
        throw new UsageError(`inventory host ${hostName}: no SSH key`, 'set ansible_ssh_private_key_file (the harness connects with a key, never a password)');
      const manager = text(v, 'nomad_service_manager', hostName) ?? 'systemd';
      if (manager !== 'systemd' && manager !== 'daemon') {
        throw new UsageError(
          `inventory host ${hostName}: nomad_service_manager is ${manager}`,
          'on existing hosts use systemd (the default) or daemon (no systemd)',
        );
      }
      const port = Number(text(v, 'ansible_port', hostName) ?? text(v, 'ansible_ssh_port', hostName) ?? 22);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`inventory host ${hostName}: bad ansible_port ${port}`);
      const binDir = text(v, 'nomad_bin_dir', hostName) ?? '/usr/local/bin';
      hosts.push({
        name: hostName,
        role,
        index: i + 1,
        datacenter: text(v, 'nomad_datacenter', hostName) ?? 'dc1',
        ip,
        ssh: {
          name: hostName,
          address: text(v, 'ansible_host', hostName) ?? hostName,
          port,
          user: text(v, 'ansible_user', hostName) ?? text(v, 'ansible_ssh_user', hostName) ?? 'root',
          identityFile: resolve(expandHome(identityFile)),
          knownHosts: resolve(expandHome(text(v, 'nomad_lab_known_hosts', hostName) ?? defaults.knownHosts)),
        },
        manager,
        service: text(v, 'nomad_service_name', hostName) ?? 'nomad',
        binary: `${binDir.replace(/\/$/, '')}/nomad`,
        dataDir,
        configDir: text(v, 'nomad_config_dir', hostName) ?? '/etc/nomad.d',
        pidFile: text(v, 'nomad_pid_file', hostName) ?? `${parent}/agent.pid`,
        logFile: text(v, 'nomad_log_file', hostName) ?? `${parent}/agent.log`,
      });
    });
  place(serverNames, 'server');
  place(clientNames, 'client');
  const dup = hosts.map((h) => h.ip).filter((ip, i, all) => all.indexOf(ip) !== i);
  if (dup.length > 0) throw new UsageError(`inventory ${source}: address ${dup[0]} is used by two hosts`);
  return { provider: 'inventory', name, source, hosts };
}

/** The first default private key that exists, as OpenSSH would try it. */
export function defaultIdentity(): string | undefined {
  return ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => join(homedir(), '.ssh', f)).find((f) => existsSync(f));
}

/** Runs `ansible-inventory --list` on a file: every format and plugin Ansible knows, resolved by Ansible. */
export async function readInventory(file: string): Promise<InventoryList> {
  if (!existsSync(file)) throw new UsageError(`inventory ${file} does not exist`);
  const argv = ['ansible-inventory', '-i', file, '--list'];
  const r = await run(argv, {
    check: false,
    timeoutMs: 60_000,
    env: { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_INVENTORY_UNPARSED_FAILED: 'True' } as Record<string, string>,
  });
  if (r.exitCode !== 0) {
    const why = (r.stderr || r.stdout).replace(/\s+/g, ' ').trim();
    throw new HarnessError(`ansible-inventory could not read ${file}: ${why.slice(0, 600)}`, {
      host: 'local',
      command: argv,
      hint: 'check it with: ansible-inventory -i <file> --graph',
    });
  }
  try {
    return JSON.parse(r.stdout) as InventoryList;
  } catch (cause) {
    throw new HarnessError(`ansible-inventory printed no JSON for ${file}`, { host: 'local', command: argv, cause });
  }
}
