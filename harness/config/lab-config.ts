// The lab a command runs: lab file, then environment, then flags, resolved once with defaults.
import { existsSync } from 'node:fs';
import schema from './schema/lab.schema.json' with { type: 'json' };
import { loadUserFile } from './user-files.ts';
import type { LabSpec } from '../lab/topology.ts';
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
  if (!/^\d+$/.test(raw)) throw new UsageError(`--${what} expects a whole number, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

export function resolveLabConfig(flags: LabFlags, env: NodeJS.ProcessEnv = process.env): LabConfig {
  const configFile = flags.config ?? env['NOMAD_LAB_CONFIG'];
  let file: LabFile = {};
  if (configFile !== undefined) {
    if (!existsSync(configFile)) throw new UsageError(`lab file ${configFile} does not exist`);
    file = loadUserFile<LabFile>(configFile, schema);
  }
  const spec: LabSpec = {
    name: flags.name ?? env['NOMAD_LAB_NAME'] ?? file.name ?? DEFAULTS.name,
    servers: count('servers', flags.servers) ?? file.servers ?? DEFAULTS.servers,
    clients: count('clients', flags.clients) ?? file.clients ?? DEFAULTS.clients,
    datacenter: file.datacenter ?? DEFAULTS.datacenter,
  };
  const dcs = flags.clientDatacenters !== undefined ? flags.clientDatacenters.split(',').map((d) => d.trim()) : file.clientDatacenters;
  if (dcs !== undefined && dcs.length > 0) spec.clientDatacenters = dcs;
  if (flags.acl === true || file.acl === true) spec.acl = true;
  if (flags.sshd === true) spec.sshd = true;
  if (spec.sshd === true && spec.acl === true)
    throw new UsageError('--sshd with ACLs: the inventory provider does not set up ACLs yet', 'drop --acl (or acl: true in the lab file)');
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
