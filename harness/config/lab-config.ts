// The lab a command runs: lab file, then environment, then flags, resolved once with defaults.
import { existsSync } from 'node:fs';
import schema from './schema/lab.schema.json' with { type: 'json' };
import { InvalidFileError, loadUserDocument } from './user-files.ts';
import { checkName, showValue } from './names.ts';
import { LAB_RANGE, parseCidr, type LabSpec } from '../lab/topology.ts';
import { UsageError } from '../util/errors.ts';

export type AgentVars = Record<string, string | number | boolean | unknown[] | Record<string, unknown>>;

export interface LabFile {
  name?: string;
  provider?: 'netns';
  servers?: number;
  clients?: number;
  subnet?: string;
  datacenter?: string;
  clientDatacenters?: string[];
  acl?: boolean;
  tls?: boolean;
  nomad?: string;
  agentVars?: AgentVars;
}

export interface LabFlags {
  config?: string;
  name?: string;
  servers?: string;
  clients?: string;
  subnet?: string;
  /** Comma-separated datacenter per client, in order: `dc1,dc2,dc2`. */
  clientDatacenters?: string;
  /** ACLs on (`--acl`); a lab file can also say `acl: true`. */
  acl?: boolean;
  /** TLS on (`--tls`); a lab file can also say `tls: true`. */
  tls?: boolean;
  /** `--sshd`: an OpenSSH server per host instead of agents (the inventory provider's test lab). */
  sshd?: boolean;
  nomad?: string;
}

export interface LabConfig {
  spec: LabSpec;
  /** Explicit Nomad binary (flag, env or lab file), if any. */
  nomad: { path: string; source: 'flag' | 'env' | 'file' } | undefined;
  agentVars: AgentVars;
  configFile: string | undefined;
}

export const DEFAULTS = { name: 'default', servers: 1, clients: 2, datacenter: 'dc1' } as const;

function count(what: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw new UsageError(`--${what} expects a whole number, got ${showValue(raw)}`);
  return Number(raw);
}

export function resolveLabConfig(flags: LabFlags, env: NodeJS.ProcessEnv = process.env): LabConfig {
  const configFile = flags.config ?? env['NOMAD_LAB_CONFIG'];
  let file: LabFile = {};
  let lineOf: (pointer: string) => number = () => 1;
  if (configFile !== undefined) {
    if (!existsSync(configFile)) throw new UsageError(`lab file ${configFile} does not exist`);
    ({ data: file, lineOf } = loadUserDocument<LabFile>(configFile, schema));
  }
  // What the file says that its schema cannot check, on the line it says it.
  const fileProblem = (pointer: string, message: string) => new InvalidFileError([{ file: configFile ?? '', line: lineOf(pointer), pointer, message }]);
  // Names from flags and the environment meet the same rule as the lab file's (names.ts); the file's are checked by its schema.
  const usage = (message: string) => new UsageError(message);
  const name =
    flags.name !== undefined
      ? checkName('lab', flags.name, '--lab', usage)
      : env['NOMAD_LAB_NAME'] // set and not empty (an empty one is unset, as for NOMAD_BINARY)
        ? checkName('lab', env['NOMAD_LAB_NAME'], 'NOMAD_LAB_NAME', usage)
        : (file.name ?? DEFAULTS.name);
  const spec: LabSpec = {
    name,
    servers: count('servers', flags.servers) ?? file.servers ?? DEFAULTS.servers,
    clients: count('clients', flags.clients) ?? file.clients ?? DEFAULTS.clients,
    datacenter: file.datacenter ?? DEFAULTS.datacenter,
  };
  const dcs =
    flags.clientDatacenters !== undefined
      ? flags.clientDatacenters.split(',').map((d) => checkName('datacenter', d.trim(), '--client-datacenters', usage))
      : file.clientDatacenters;
  if (dcs !== undefined && dcs.length > 0) spec.clientDatacenters = dcs;
  if (
    flags.clientDatacenters === undefined &&
    flags.clients === undefined &&
    file.clientDatacenters !== undefined &&
    file.clientDatacenters.length > spec.clients
  )
    throw fileProblem(
      '/clientDatacenters',
      `has ${file.clientDatacenters.length} datacenters for ${spec.clients} client(s)${file.clients === undefined ? ' (the default)' : ''}: give at most one per client, in order (client1 first)`,
    );
  if (flags.acl === true || file.acl === true) spec.acl = true;
  if (flags.sshd === true) spec.sshd = true;
  if (spec.sshd === true && spec.acl === true)
    throw new UsageError('--sshd with ACLs: the inventory provider does not set up ACLs yet', 'drop --acl (or acl: true in the lab file)');
  if (flags.tls === true || file.tls === true) spec.tls = true;
  if (spec.sshd === true && spec.tls === true)
    throw new UsageError(
      '--sshd with TLS: an sshd lab runs no agents of its own; ask for TLS on the inventory lab over its hosts (lab up --inventory <its inventory.json> --tls)',
      'drop --tls (or tls: true in the lab file)',
    );
  // The schema's pattern says 198.18-19.x.0/24; an x over 255 is caught here, on the file's line.
  if (file.subnet !== undefined && parseCidr(file.subnet) === undefined)
    throw fileProblem('/subnet', `${JSON.stringify(file.subnet)} is not a /24 inside ${LAB_RANGE}`);
  const subnet = flags.subnet ?? file.subnet;
  if (subnet !== undefined) spec.subnet = subnet;
  const nomad =
    flags.nomad !== undefined
      ? { path: flags.nomad, source: 'flag' as const }
      : env['NOMAD_BINARY']
        ? { path: env['NOMAD_BINARY'], source: 'env' as const }
        : file.nomad !== undefined
          ? { path: file.nomad, source: 'file' as const }
          : undefined;
  return { spec, nomad, agentVars: file.agentVars ?? {}, configFile };
}
