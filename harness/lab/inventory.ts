// Existing hosts from an Ansible inventory (any format Ansible reads): `ansible-inventory --list`
// turns it into JSON, and a pure function turns that into the plan of an SSH lab.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { invokingUser } from '../config/user.ts';
import { run } from '../exec/local.ts';
import type { SshTarget } from '../exec/ssh.ts';
import { checkName, escapeControls } from '../config/names.ts';
import { yamlKeyLines } from '../config/user-files.ts';
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
  /** The inventory's nomad_region, when it sets one (the role's default is global): a TLS lab's certificates name it. */
  region?: string;
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
  /**
   * Mutual TLS (`--tls`): the harness made the lab's certificates and the role copied each host's to
   * it; absent on labs without it (and on labs made before SSH labs had it).
   */
  tls?: boolean;
}

/** Where readInventory keeps the inventory file's text on the list it returns (a symbol: no group can be named so). */
export const INVENTORY_TEXT: unique symbol = Symbol('inventory text');

/** What `ansible-inventory --list` prints (the parts read here), and the file's text for the lines of messages. */
export interface InventoryList {
  _meta?: { hostvars?: Record<string, Record<string, unknown>> };
  [INVENTORY_TEXT]?: string;
  [group: string]: { hosts?: string[]; children?: string[] } | InventoryList['_meta'];
}

/** Hosts of a group, through its child groups, in inventory order, each once. */
export function groupHosts(list: InventoryList, group: string, seen = new Set<string>()): string[] {
  if (seen.has(group)) return [];
  seen.add(group);
  const g = (Object.hasOwn(list, group) ? list[group] : undefined) as { hosts?: unknown; children?: unknown } | undefined;
  // ansible-inventory prints lists of names; anything else is read as none rather than taken apart.
  const names = (x: unknown): string[] => (Array.isArray(x) ? x.filter((n): n is string => typeof n === 'string') : []);
  const hosts = names(g?.hosts);
  for (const child of names(g?.children)) hosts.push(...groupHosts(list, child, seen));
  return [...new Set(hosts)];
}

const usage = (message: string) => new UsageError(message);

/** `~/x` as Ansible and ssh read it: the home of the user running the harness (under sudo, SUDO_USER's). */
const expandHome = (path: string): string => (path === '~' || path.startsWith('~/') ? join(invokingUser().home, path.slice(1)) : path);

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
  /**
   * known_hosts file for hosts that set no nomad_lab_known_hosts: the harness's own (Vagrant's VMs);
   * undefined: the files ssh itself reads (~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts).
   */
  knownHosts?: string;
  /** Hosts the harness made: an unknown host key is pinned into `knownHosts` (never into a file the inventory names). */
  pinOnFirstUse?: boolean;
  /** Private key when the inventory names none (the first of ~/.ssh/id_ed25519, id_rsa that exists). */
  identityFile?: string;
  /** The user's SSH agent is there (SSH_AUTH_SOCK): a host needs no key file. */
  agent?: boolean;
}

/** The group names a lab's servers and clients may be in: the role's own, and the ones Nomad's own examples use. */
export const SERVER_GROUPS = ['servers', 'nomad_servers'] as const;
export const CLIENT_GROUPS = ['clients', 'nomad_clients'] as const;

/** Hosts of any of the groups, in group then inventory order, each once. */
const hostsOfGroups = (list: InventoryList, groups: readonly string[]): string[] => [...new Set(groups.flatMap((g) => groupHosts(list, g)))];

/**
 * The SSH lab of an inventory (pure). Every refusal names the line of the inventory it is about,
 * `<file>:<line>: inventory host x: ...` (the host's line, or 1), when readInventory attached the
 * file's text; the names follow config/names.ts.
 */
export function planFromInventory(list: InventoryList, name: string, source: string, defaults: InventoryDefaults): RemotePlan {
  const where: { host?: string } = {};
  try {
    return planHosts(list, name, source, defaults, where);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    const line = where.host === undefined ? 1 : (inventoryLocator(list[INVENTORY_TEXT] ?? '')(where.host) ?? 1);
    throw new UsageError(`${source}:${line}: ${escapeControls(error.message)}`, error.hint);
  }
}

/** The SSH lab of an inventory (pure): groups `servers` and `clients` (or `nomad_servers`, `nomad_clients`), addresses from variables only. */
function planHosts(list: InventoryList, name: string, source: string, defaults: InventoryDefaults, where: { host?: string }): RemotePlan {
  const serverNames = hostsOfGroups(list, SERVER_GROUPS);
  const clientNames = hostsOfGroups(list, CLIENT_GROUPS);
  if (serverNames.length === 0 || clientNames.length === 0) {
    throw new UsageError(
      `inventory ${source} needs hosts in group "servers" (or "nomad_servers") and in group "clients" (or "nomad_clients") (found ${serverNames.length} and ${clientNames.length})`,
      'see ansible/scenarios/README.md for an example inventory',
    );
  }
  // Host names reach log file names, SSH targets and Nomad node names: checked before any message shows them.
  for (const host of [...serverNames, ...clientNames]) checkName('host', (where.host = host), 'inventory host', usage);
  where.host = undefined;
  const both = serverNames.filter((h) => clientNames.includes(h));
  if (both.length > 0) throw new UsageError(`inventory ${source}: ${both.join(', ')} in both servers and clients`, 'a lab host is a server or a client');
  const hostvars = list._meta?.hostvars ?? {};
  const hosts: RemoteHost[] = [];
  const place = (names: string[], role: Role) =>
    names.forEach((hostName, i) => {
      where.host = hostName;
      const v = (Object.hasOwn(hostvars, hostName) ? hostvars[hostName] : undefined) ?? {};
      for (const [key, kind] of [
        ['nomad_datacenter', 'datacenter'],
        ['nomad_region', 'region'],
      ] as const) {
        const value = text(v, key, hostName);
        if (value !== undefined) checkName(kind, value, `inventory host ${hostName}: ${key}`, usage);
      }
      const ip = text(v, 'nomad_advertise_addr', hostName) ?? text(v, 'nomad_bind_addr', hostName);
      if (ip === undefined || !IPV4.test(ip)) {
        throw new UsageError(
          `inventory host ${hostName}: set nomad_bind_addr to the IPv4 address Nomad should use${ip ? ` (got ${ip})` : ''}`,
          "addresses come from the inventory, never from facts (a VM's first NIC is NAT)",
        );
      }
      const region = text(v, 'nomad_region', hostName);
      const dataDir = text(v, 'nomad_data_dir', hostName) ?? '/opt/nomad/data';
      const parent = dataDir.replace(/\/[^/]+\/?$/, '') || '/';
      const identityFile = text(v, 'ansible_ssh_private_key_file', hostName) ?? text(v, 'ansible_private_key_file', hostName) ?? defaults.identityFile;
      if (identityFile === undefined && defaults.agent !== true)
        throw new UsageError(
          `inventory host ${hostName}: no SSH key, and no SSH agent (SSH_AUTH_SOCK is not set)`,
          'set ansible_ssh_private_key_file, or run with your SSH agent (sudo --preserve-env=SSH_AUTH_SOCK ...); the harness connects with a key, never a password',
        );
      const namedKnownHosts = text(v, 'nomad_lab_known_hosts', hostName);
      const knownHosts = namedKnownHosts ?? defaults.knownHosts;
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
        ...(region === undefined ? {} : { region }),
        ip,
        ssh: {
          name: hostName,
          address: text(v, 'ansible_host', hostName) ?? hostName,
          port,
          user: text(v, 'ansible_user', hostName) ?? text(v, 'ansible_ssh_user', hostName) ?? 'root',
          ...(identityFile === undefined ? {} : { identityFile: resolve(expandHome(identityFile)) }),
          ...(knownHosts === undefined ? {} : { knownHosts: resolve(expandHome(knownHosts)) }),
          // Pinned on first use only into the harness's own file, never into one the inventory names.
          ...(namedKnownHosts === undefined && defaults.pinOnFirstUse === true && knownHosts !== undefined ? { pinOnFirstUse: true } : {}),
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
  where.host = hosts.filter((h) => h.ip === dup[0])[1]?.name;
  if (dup.length > 0) throw new UsageError(`inventory ${source}: address ${dup[0]} is used by two hosts`);
  return { provider: 'inventory', name, source, hosts };
}

/** The first default private key that exists, as OpenSSH would try it. */
export function defaultIdentity(): string | undefined {
  return ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => join(invokingUser().home, '.ssh', f)).find((f) => existsSync(f));
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
    const list = JSON.parse(r.stdout) as InventoryList;
    // The text, for the lines of planFromInventory's messages (not there for a directory or a script).
    try {
      list[INVENTORY_TEXT] = readFileSync(file, 'utf8');
    } catch {
      // No lines then: messages say line 1.
    }
    return list;
  } catch (cause) {
    throw new HarnessError(`ansible-inventory printed no JSON for ${file}`, { host: 'local', command: argv, cause });
  }
}

/**
 * The line of a host in an inventory's text (pure), for messages: the first line that names it as a
 * host, in YAML (a key below some group's `hosts:`) or INI (the first word of a line of a group's
 * section). Undefined when the text does not name it (a host range, a script, a plugin's inventory).
 */
export function inventoryLocator(text: string): (host: string) => number | undefined {
  let index: Map<string, number> | undefined;
  const build = (): Map<string, number> => {
    const first = new Map<string, number>();
    const keys = yamlKeyLines(text);
    if (keys !== undefined) {
      for (const { path, line } of keys) {
        const host = path.at(-1)!;
        if (path.at(-2) === 'hosts' && line < (first.get(host) ?? Infinity)) first.set(host, line);
      }
      return first;
    }
    let section = '';
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
      const header = /^\[([^\]]*)\]/.exec(line);
      if (header) {
        section = header[1]!;
        return;
      }
      // Lines of [group:vars] and [group:children] name variables and groups, not hosts.
      if (section.endsWith(':vars') || section.endsWith(':children')) return;
      const word = line.split(/\s+/)[0]!;
      // `host:port` names the host `host`.
      for (const host of [word, word.replace(/:\d+$/, '')]) if (!first.has(host)) first.set(host, i + 1);
    });
    return first;
  };
  return (host) => (index ??= build()).get(host);
}
