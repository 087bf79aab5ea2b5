// Pure planning of a netns lab: lab id, interface and namespace names, addresses. No effects here.
import { createHash } from 'node:crypto';
import { isName, nameProblem, showValue } from '../config/names.ts';
import { UsageError } from '../util/errors.ts';

/** Every lab address lies in this range; the root namespace holds an unreachable route for it. */
export const LAB_RANGE = '198.18.0.0/15';
/** Names of every lab resource start with this, then the hashed lab id. */
export const NAME_PREFIX = 'nl';
/** Linux limit on interface names (IFNAMSIZ - 1). */
export const IFNAME_MAX = 15;

/** Clients at .21 to .254 of the lab's /24: the most its addresses allow. */
export const MAX_ADDRESSABLE_CLIENTS = 254 - 20;
/**
 * The bound on clients (flags, lab files, scenarios): below what the /24 allows, because each agent
 * takes some 66 MiB and 200 of them already fill 13 GiB; 100 clients come up in about 30 s on 2 cores.
 */
export const MAX_CLIENTS = 200;

export type Role = 'server' | 'client';

export interface LabSpec {
  /** Human name of the lab; hashed into the id that prefixes every resource. */
  name: string;
  servers: number;
  clients: number;
  /** A /24 inside LAB_RANGE; derived from the name when absent. */
  subnet?: string;
  /** Datacenter of the servers, and of every client not named in clientDatacenters. */
  datacenter: string;
  /** Datacenter per client, in order (client1 first); shorter lists leave the rest in `datacenter`. */
  clientDatacenters?: string[];
  /** Nomad ACLs on: bootstrapped when the servers are up; the harness then uses a scoped token. */
  acl?: boolean;
  /**
   * TLS on HTTP and RPC (mutual: agents verify each other's names, HTTPS callers must show a
   * certificate of the lab's CA); the certificates are made with the lab's nomad binary (lab/tls.ts).
   */
  tls?: boolean;
  /**
   * An SSH-reachable lab: each host runs an OpenSSH server in its namespace and no agent; the
   * inventory provider provisions and runs Nomad over SSH (`lab up --sshd`).
   */
  sshd?: boolean;
}

export interface HostPlan {
  /** Lab host name, also the Nomad node name: server1, client2. */
  name: string;
  role: Role;
  index: number;
  datacenter: string;
  netns: string;
  /** Root-namespace end of the host's veth pair (attached to the bridge). */
  vethHost: string;
  /** Interface name inside the namespace. */
  ifname: string;
  ip: string;
}

export interface LabPlan {
  id: string;
  name: string;
  subnet: string;
  prefixLength: number;
  bridge: string;
  bridgeIp: string;
  /** Tag put on root-namespace iptables rules so teardown and audits find them. */
  ruleTag: string;
  /** ACLs on (see LabSpec.acl). */
  acl: boolean;
  /** TLS on (see LabSpec.tls); absent on labs without it (and on labs made before it existed). */
  tls?: boolean;
  /** SSH-reachable hosts without agents (see LabSpec.sshd); absent on labs made before it existed. */
  sshd?: boolean;
  hosts: HostPlan[];
}

export function labId(name: string): string {
  return NAME_PREFIX + createHash('sha256').update(name).digest('hex').slice(0, 5);
}

/** A /24 from the lab range chosen by the name's hash: 198.18.0.0/24 ... 198.19.255.0/24. */
export function defaultSubnet(name: string): string {
  const h = parseInt(createHash('sha256').update(`subnet:${name}`).digest('hex').slice(0, 4), 16) % 512;
  return `198.${18 + Math.floor(h / 256)}.${h % 256}.0/24`;
}

export function parseIpv4(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

export function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

export function parseCidr(cidr: string): { base: number; prefixLength: number } | undefined {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr);
  if (!m) return undefined;
  const base = parseIpv4(m[1]!);
  const prefixLength = Number(m[2]);
  if (base === undefined || prefixLength > 32) return undefined;
  return { base, prefixLength };
}

export function cidrContains(cidr: string, ip: string): boolean {
  const c = parseCidr(cidr);
  const n = parseIpv4(ip);
  if (!c || n === undefined) return false;
  const mask = c.prefixLength === 0 ? 0 : (~0 << (32 - c.prefixLength)) >>> 0;
  return (n & mask) >>> 0 === (c.base & mask) >>> 0;
}

/** Whether two CIDRs share any address. */
export function cidrOverlaps(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  if (!x || !y) return false;
  const len = Math.min(x.prefixLength, y.prefixLength);
  const mask = len === 0 ? 0 : (~0 << (32 - len)) >>> 0;
  return (x.base & mask) >>> 0 === (y.base & mask) >>> 0;
}

export function planLab(spec: LabSpec): LabPlan {
  // Names follow config/names.ts, as in the lab and scenario files; a spec can also come from code and flags.
  if (!isName('lab', spec.name)) throw new UsageError(`invalid lab name ${showValue(spec.name)}: ${nameProblem('lab', spec.name)}`);
  if (!Number.isInteger(spec.servers) || spec.servers < 1 || spec.servers > 9) {
    throw new UsageError(`servers must be a whole number from 1 to 9, got ${spec.servers}`);
  }
  if (!Number.isInteger(spec.clients) || spec.clients < 1 || spec.clients > MAX_CLIENTS) {
    throw new UsageError(
      `clients must be a whole number from 1 to ${MAX_CLIENTS}, got ${spec.clients}`,
      `a lab is one /24 with clients from .21 up (${MAX_ADDRESSABLE_CLIENTS} addresses); ${MAX_CLIENTS} agents take about 13 GiB (some 66 MiB each)`,
    );
  }
  const dcs = spec.clientDatacenters ?? [];
  if (dcs.length > spec.clients)
    throw new UsageError(
      `${dcs.length} client datacenters given for ${spec.clients} client(s)`,
      'give at most one datacenter per client, in order (client1 first)',
    );
  for (const dc of [spec.datacenter, ...dcs]) {
    if (!isName('datacenter', dc)) throw new UsageError(`invalid datacenter name ${showValue(dc)}: ${nameProblem('datacenter', dc)}`);
  }
  const subnet = spec.subnet ?? defaultSubnet(spec.name);
  const c = parseCidr(subnet);
  if (!c || c.prefixLength !== 24 || (c.base & 255) !== 0 || !cidrContains(LAB_RANGE, formatIpv4(c.base))) {
    throw new UsageError(
      `subnet ${showValue(subnet)} is not a /24 inside ${LAB_RANGE}`,
      'pick one like 198.18.42.0/24; the lab range is reserved for benchmarks (RFC 2544) and routed nowhere',
    );
  }
  const id = labId(spec.name);
  const at = (last: number) => formatIpv4(c.base + last);
  const hosts: HostPlan[] = [];
  // Servers at .11 and up, as in the seed's Vagrant lab (192.168.56.11); clients at .21 and up.
  for (let i = 1; i <= spec.servers; i++) hosts.push(host(id, 'server', i, at(10 + i), spec.datacenter));
  for (let i = 1; i <= spec.clients; i++) hosts.push(host(id, 'client', i, at(20 + i), dcs[i - 1] ?? spec.datacenter));
  const plan: LabPlan = {
    id,
    name: spec.name,
    subnet,
    prefixLength: 24,
    bridge: `${id}-br`,
    bridgeIp: at(1),
    ruleTag: `nomad-lab:${id}`,
    acl: spec.acl === true,
    ...(spec.tls === true ? { tls: true } : {}),
    ...(spec.sshd === true ? { sshd: true } : {}),
    hosts,
  };
  for (const n of [plan.bridge, ...hosts.map((h) => h.vethHost)]) {
    if (n.length > IFNAME_MAX) throw new Error(`interface name ${n} is longer than ${IFNAME_MAX}`);
  }
  return plan;
}

function host(id: string, role: Role, index: number, ip: string, datacenter: string): HostPlan {
  const short = `${role === 'server' ? 's' : 'c'}${index}`;
  return {
    name: `${role}${index}`,
    role,
    index,
    datacenter,
    netns: `${id}-${short}`,
    vethHost: `${id}-${short}`,
    ifname: 'eth0',
    ip,
  };
}

export const servers = (plan: LabPlan): HostPlan[] => plan.hosts.filter((h) => h.role === 'server');
export const clients = (plan: LabPlan): HostPlan[] => plan.hosts.filter((h) => h.role === 'client');

/** Whether a resource name (namespace, link) belongs to some nomad-lab lab, and to which id. */
export function labIdOfName(name: string): string | undefined {
  return new RegExp(`^(${NAME_PREFIX}[0-9a-f]{5})-`).exec(name)?.[1];
}
