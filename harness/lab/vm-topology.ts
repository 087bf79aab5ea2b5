// The VM lab's topology (pure): vagrant/topology.yaml + NOMAD_LAB_* -> hosts, VM settings, Ansible groups and vars.
// vagrant/topology.rb computes the same for the Vagrantfile; test/static checks that both agree.
import { isAbsolute, join } from 'node:path';
import schema from '../config/schema/vm-topology.schema.json' with { type: 'json' };
import { repoRoot } from '../config/paths.ts';
import { loadUserFile } from '../config/user-files.ts';
import { UsageError } from '../util/errors.ts';

export type VmProvider = 'virtualbox' | 'libvirt';

/** vagrant/topology.yaml as written (every key optional). */
export interface VmTopologyFile {
  subnet?: string;
  servers?: number;
  clients?: number;
  datacenter?: string;
  clientDatacenters?: string[];
  box?: string;
  memory?: number;
  cpus?: number;
  provider?: VmProvider;
  nomadVersion?: string;
  nomadBinary?: string | null;
  docker?: boolean;
}

export interface VmHost {
  /** VM name, Ansible inventory name and Nomad node name: server1, client2. */
  name: string;
  role: 'server' | 'client';
  index: number;
  ip: string;
  datacenter: string;
}

/** Host vars the Vagrantfile gives each machine: addresses from the topology, never from facts. */
export interface VmHostVars {
  nomad_bind_addr: string;
  nomad_datacenter: string;
}

export interface VmExtraVars {
  nomad_service_manager: 'systemd';
  nomad_version: string;
  nomad_server_addrs: string[];
  nomad_docker_enabled: boolean;
  nomad_binary_src?: string;
}

export interface VmTopology {
  subnet: string;
  datacenter: string;
  hosts: VmHost[];
  box: string;
  memory: number;
  cpus: number;
  provider: VmProvider;
  nomadVersion: string;
  nomadBinary?: string;
  docker: boolean;
  ansible: {
    /** Inventory groups; `all:vars` stays in the generated inventory, so the fault playbooks know the service manager. */
    groups: { servers: string[]; clients: string[]; 'all:vars': { nomad_service_manager: 'systemd' } };
    hostVars: Record<string, VmHostVars>;
    /** Passed with --extra-vars on `vagrant up` / `vagrant provision`. */
    extraVars: VmExtraVars;
  };
}

/** Defaults for keys a topology file leaves out (the committed file states each of them). */
export const VM_DEFAULTS = {
  subnet: '192.168.56.0/24',
  servers: 1,
  clients: 2,
  datacenter: 'dc1',
  box: 'debian/bookworm64',
  memory: 1024,
  cpus: 1,
  provider: 'virtualbox',
  nomadVersion: '1.6.0',
  docker: false,
} as const;

/** The environment variables that override the file, by the key they override. */
export const VM_ENV = {
  subnet: 'NOMAD_LAB_SUBNET',
  servers: 'NOMAD_LAB_SERVERS',
  clients: 'NOMAD_LAB_CLIENTS',
  datacenter: 'NOMAD_LAB_DATACENTER',
  clientDatacenters: 'NOMAD_LAB_CLIENT_DATACENTERS',
  box: 'NOMAD_LAB_BOX',
  memory: 'NOMAD_LAB_MEMORY',
  cpus: 'NOMAD_LAB_CPUS',
  provider: 'NOMAD_LAB_PROVIDER',
  nomadVersion: 'NOMAD_LAB_NOMAD_VERSION',
  nomadBinary: 'NOMAD_LAB_NOMAD_BINARY',
  docker: 'NOMAD_LAB_DOCKER',
} as const;

/** Names another topology file instead of vagrant/topology.yaml. */
export const VM_TOPOLOGY_ENV = 'NOMAD_LAB_TOPOLOGY';

const DATACENTER = /^[A-Za-z0-9_-]{1,64}$/;
const VERSION = /^\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$/;
const SUBNET = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.0\/24$/;
const WHOLE = /^\d+$/;
const BOOLEAN: Record<string, boolean> = { true: true, yes: true, on: true, '1': true, false: false, no: false, off: false, '0': false };

type Key = keyof typeof VM_ENV;

/** The topology file the Vagrantfile reads: NOMAD_LAB_TOPOLOGY, else vagrant/topology.yaml. */
export function vmTopologyFile(env: NodeJS.ProcessEnv = process.env): string {
  const given = env[VM_TOPOLOGY_ENV];
  return given !== undefined && given !== '' ? given : join(repoRoot, 'vagrant', 'topology.yaml');
}

/** Reads and validates the topology file (default: vmTopologyFile(env); file:line problems), then applies the environment. */
export function loadVmTopology(file?: string, env: NodeJS.ProcessEnv = process.env): VmTopology {
  return computeVmTopology(loadUserFile<VmTopologyFile>(file ?? vmTopologyFile(env), schema), env);
}

/** File data + environment -> the computed topology. Pure; vagrant/topology.rb is its twin. */
export function computeVmTopology(data: VmTopologyFile, env: NodeJS.ProcessEnv = {}): VmTopology {
  const fromEnv = (key: Key): string | undefined => {
    const v = env[VM_ENV[key]];
    return v === undefined || v === '' ? undefined : v;
  };
  const source = (key: Key) => (fromEnv(key) !== undefined ? VM_ENV[key] : 'the topology file');
  const bad = (key: Key, expected: string, got: unknown, hint?: string): never => {
    throw new UsageError(`${key} must be ${expected}, got ${JSON.stringify(got)} (from ${source(key)})`, hint ?? `fix or unset ${VM_ENV[key]}, or edit the topology file`);
  };
  const whole = (key: Key, fallback: number, min: number, max: number): number => {
    const raw = fromEnv(key);
    const value: unknown = raw !== undefined ? (WHOLE.test(raw) ? Number(raw) : raw) : (data[key] ?? fallback);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) return bad(key, `a whole number from ${min} to ${max}`, raw ?? value);
    return value;
  };
  const text = (key: Key, fallback: string | undefined): string | undefined => {
    const raw = fromEnv(key);
    // null and '' mean "not set": the default applies.
    const value: unknown = raw ?? data[key] ?? fallback;
    if (value !== undefined && typeof value !== 'string') return bad(key, 'a string', value);
    return value === '' ? fallback : value;
  };

  const subnet = text('subnet', VM_DEFAULTS.subnet)!;
  const octets = SUBNET.exec(subnet)?.slice(1, 4).map(Number);
  if (!octets || octets.some((o) => o > 255)) bad('subnet', 'a /24 written a.b.c.0/24', subnet, 'the VirtualBox default range is 192.168.56.0/21, e.g. 192.168.56.0/24');
  const servers = whole('servers', VM_DEFAULTS.servers, 1, 9);
  const clients = whole('clients', VM_DEFAULTS.clients, 1, 200);
  const datacenter = text('datacenter', VM_DEFAULTS.datacenter)!;
  if (!DATACENTER.test(datacenter)) bad('datacenter', 'a datacenter name (letters, digits, "-" and "_")', datacenter);
  const dcRaw = fromEnv('clientDatacenters');
  const clientDatacenters: unknown = dcRaw !== undefined ? dcRaw.split(',').map((d) => d.trim()) : (data.clientDatacenters ?? []);
  if (!Array.isArray(clientDatacenters)) return bad('clientDatacenters', 'a list of datacenter names', clientDatacenters);
  for (const dc of clientDatacenters) {
    if (typeof dc !== 'string' || !DATACENTER.test(dc)) bad('clientDatacenters', 'datacenter names (letters, digits, "-" and "_"), one per client', dc);
  }
  if (clientDatacenters.length > clients) {
    bad('clientDatacenters', `at most ${clients} datacenter name(s), one per client`, clientDatacenters, 'give the datacenters in client order, client1 first; unlisted clients use datacenter');
  }
  const box = text('box', VM_DEFAULTS.box)!;
  const memory = whole('memory', VM_DEFAULTS.memory, 512, 65536);
  const cpus = whole('cpus', VM_DEFAULTS.cpus, 1, 64);
  const provider = text('provider', VM_DEFAULTS.provider)!;
  if (provider !== 'virtualbox' && provider !== 'libvirt') bad('provider', 'virtualbox or libvirt', provider);
  const nomadVersion = text('nomadVersion', VM_DEFAULTS.nomadVersion)!;
  if (!VERSION.test(nomadVersion)) bad('nomadVersion', 'a version x.y.z', nomadVersion);
  const nomadBinary = text('nomadBinary', undefined);
  if (nomadBinary !== undefined && !isAbsolute(nomadBinary)) bad('nomadBinary', 'an absolute path', nomadBinary, 'e.g. NOMAD_LAB_NOMAD_BINARY=$PWD/bin/nomad');
  const dockerRaw = fromEnv('docker');
  const docker: unknown = dockerRaw !== undefined ? (Object.hasOwn(BOOLEAN, dockerRaw.toLowerCase()) ? BOOLEAN[dockerRaw.toLowerCase()] : dockerRaw) : (data.docker ?? VM_DEFAULTS.docker);
  if (typeof docker !== 'boolean') return bad('docker', 'true or false', docker);

  const at = (last: number) => `${octets![0]}.${octets![1]}.${octets![2]}.${last}`;
  const hosts: VmHost[] = [];
  // As in the seed's Vagrant lab (server 192.168.56.11): servers at .11 upward, clients at .21 upward.
  for (let i = 1; i <= servers; i++) hosts.push({ name: `server${i}`, role: 'server', index: i, ip: at(10 + i), datacenter });
  for (let i = 1; i <= clients; i++) {
    hosts.push({ name: `client${i}`, role: 'client', index: i, ip: at(20 + i), datacenter: (clientDatacenters[i - 1] as string | undefined) ?? datacenter });
  }
  const names = (role: VmHost['role']) => hosts.filter((h) => h.role === role).map((h) => h.name);
  const extraVars: VmExtraVars = {
    nomad_service_manager: 'systemd',
    nomad_version: nomadVersion,
    nomad_server_addrs: hosts.filter((h) => h.role === 'server').map((h) => h.ip),
    nomad_docker_enabled: docker,
    ...(nomadBinary !== undefined ? { nomad_binary_src: nomadBinary } : {}),
  };
  return {
    subnet,
    datacenter,
    hosts,
    box,
    memory,
    cpus,
    provider: provider as VmProvider,
    nomadVersion,
    ...(nomadBinary !== undefined ? { nomadBinary } : {}),
    docker,
    ansible: {
      groups: { servers: names('server'), clients: names('client'), 'all:vars': { nomad_service_manager: 'systemd' } },
      hostVars: Object.fromEntries(hosts.map((h) => [h.name, { nomad_bind_addr: h.ip, nomad_datacenter: h.datacenter }])),
      extraVars,
    },
  };
}
