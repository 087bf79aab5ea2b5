// TLS of a lab: a CA, a certificate per agent (its lab address and the name Nomad checks with
// verify_server_hostname, server.<region>.nomad or client.<region>.nomad, in it) and one for the
// harness and the nomad CLI, all made by the lab's own nomad binary (`nomad tls ca create`, `nomad
// tls cert create`) in the lab's directory on this machine (mode 0700, keys 0600, removed with the
// lab). A netns lab's agents read them there; on an SSH lab the role copies each host's own to it. A
// private key is only ever named by its path: never on a command line, in a log, the trace or a report.
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { nameProblem, showValue } from '../config/names.ts';
import { labDir } from '../config/paths.ts';
import { run } from '../exec/local.ts';
import { HarnessError, UsageError } from '../util/errors.ts';
import { inRange } from '../util/versions.ts';
import type { HostPlan, LabPlan, Role } from './topology.ts';

/** The files a TLS party needs: the lab's CA, its own certificate, and its key (paths). */
export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

export const tlsDir = (labName: string): string => join(labDir(labName), 'tls');

/** The CA's certificate and key, in the lab's tls directory. */
export const caFiles = (labName: string): { cert: string; key: string } => ({
  cert: join(tlsDir(labName), 'ca.pem'),
  key: join(tlsDir(labName), 'ca-key.pem'),
});

/**
 * Where one party's files live: a directory of its own (`nomad tls cert create` names its files by
 * role and region only, so two agents' certificates cannot share one), under fixed names whatever
 * the release called them.
 */
export function partyFiles(labName: string, party: string): TlsFiles {
  const dir = join(tlsDir(labName), party);
  return { ca: caFiles(labName).cert, cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
}

/** An agent's files (the host's name is its directory). */
export const agentTlsFiles = (labName: string, host: Pick<HostPlan, 'name'>): TlsFiles => partyFiles(labName, host.name);

/** The files the harness and the nomad CLI present (a `-cli` certificate: client authentication only). */
export const cliTlsFiles = (labName: string): TlsFiles => partyFiles(labName, 'cli');

/** The harness's TLS files for a lab, or undefined on a lab without TLS. */
export const labTls = (plan: Pick<LabPlan, 'name' | 'tls'>): TlsFiles | undefined => (plan.tls === true ? cliTlsFiles(plan.name) : undefined);

/**
 * The region the agents run in (the role's nomad_region, which a lab file's agentVars may set): the
 * certificates must name it, or agents with verify_server_hostname refuse each other.
 */
export function labRegion(agentVars: Record<string, unknown>): string {
  const region = agentVars['nomad_region'] ?? 'global';
  const problem = nameProblem('region', region);
  if (problem !== undefined) throw new UsageError(`agentVars.nomad_region ${showValue(region)}: ${problem}`);
  return region as string;
}

/**
 * `nomad tls cert create` for one party (pure). The region flag changed: 1.5 reads only
 * -cluster-region (its -region is the API client's and does not reach the certificate); 1.6 reads
 * -cluster-region first, then -region (documented; -cluster-region deprecated); later releases
 * dropped -cluster-region. So -cluster-region before 1.6, -region from 1.6 on.
 */
export function certCreateArgv(
  nomad: string,
  nomadVersion: string,
  kind: Role | 'cli',
  region: string,
  ca: { cert: string; key: string },
  ip?: string,
): string[] {
  const regionFlag = inRange(nomadVersion, '<1.6.0') ? '-cluster-region' : '-region';
  return [
    nomad,
    'tls',
    'cert',
    'create',
    `-${kind}`,
    regionFlag,
    region,
    ...(ip === undefined ? [] : ['-additional-ipaddress', ip]),
    '-ca',
    ca.cert,
    '-key',
    ca.key,
  ];
}

/** `nomad tls ca create` (pure): the default CA (domain nomad), written into the working directory. */
export const caCreateArgv = (nomad: string): string[] => [nomad, 'tls', 'ca', 'create'];

/** The nomad CLI's variables for a lab's API: the address, and on a lab with TLS the files (paths, never their contents). */
export interface NomadCliEnv {
  NOMAD_ADDR: string;
  NOMAD_CACERT?: string;
  NOMAD_CLIENT_CERT?: string;
  NOMAD_CLIENT_KEY?: string;
}

/**
 * The nomad CLI's environment for a lab's API address: NOMAD_ADDR, and on a lab with TLS the CA and
 * the client certificate and key as paths (pure).
 */
export function nomadCliEnv(ip: string, tls: TlsFiles | undefined): NomadCliEnv {
  if (tls === undefined) return { NOMAD_ADDR: `http://${ip}:4646` };
  return { NOMAD_ADDR: `https://${ip}:4646`, NOMAD_CACERT: tls.ca, NOMAD_CLIENT_CERT: tls.cert, NOMAD_CLIENT_KEY: tls.key };
}

/** The Ansible variables that point an agent at its TLS files (pure). */
export function tlsHostVars(labName: string, host: Pick<HostPlan, 'name'>): Record<string, string> {
  const files = agentTlsFiles(labName, host);
  return { nomad_tls_ca_file: files.ca, nomad_tls_cert_file: files.cert, nomad_tls_key_file: files.key };
}

/**
 * Runs one `nomad tls` command in `cwd` (an empty directory: the command refuses to overwrite) and
 * moves the two files it wrote to `target`. Its output names only file paths; a failure shows it.
 */
async function create(argv: string[], cwd: string, target: { cert: string; key: string }, signal?: AbortSignal): Promise<void> {
  // No NOMAD_* of the caller's environment reaches it: from 1.6 NOMAD_REGION would pick the certificate's region.
  const env = Object.fromEntries(Object.keys(process.env).flatMap((k) => (k.startsWith('NOMAD_') ? [[k, '']] : [])));
  const r = await run(argv, { cwd, env, check: false, timeoutMs: 30_000, ...(signal ? { signal } : {}) });
  if (r.exitCode !== 0) {
    const why = (r.stderr || r.stdout).trim().split('\n').slice(-4).join('\n    ');
    throw new HarnessError(`${argv.slice(1, 4).join(' ')} failed (exit code ${r.exitCode}): ${why}`, {
      host: 'local',
      command: argv,
      hint: '`nomad tls` exists from Nomad 1.4 on; pass a binary that has it (--nomad), or drop --tls',
    });
  }
  const written = readdirSync(cwd).filter((f) => f.endsWith('.pem'));
  const key = written.filter((f) => f.endsWith('-key.pem'));
  const cert = written.filter((f) => !f.endsWith('-key.pem'));
  if (key.length !== 1 || cert.length !== 1) {
    throw new HarnessError(`${argv.slice(1, 4).join(' ')} wrote ${written.join(', ') || 'no .pem file'} in ${cwd}; expected one certificate and one key`, {
      host: 'local',
      command: argv,
    });
  }
  renameSync(join(cwd, key[0]!), target.key);
  chmodSync(target.key, 0o600);
  renameSync(join(cwd, cert[0]!), target.cert);
  chmodSync(target.cert, 0o644);
}

/** What the certificates are made for: the lab (its directory) and its agents, each with the address its certificate names. */
export interface TlsParties {
  name: string;
  hosts: ReadonlyArray<Pick<HostPlan, 'name' | 'role' | 'ip'>>;
}

/**
 * Makes the lab's CA and every certificate (idempotent only in that it starts over: whatever an
 * earlier attempt left in the tls directory is removed first). The hosts are a netns lab's, or an
 * SSH lab's (each with the address it advertises, which the harness connects to).
 */
export async function makeCertificates(
  plan: TlsParties,
  nomad: { path: string; version: string },
  region: string,
  options: { signal?: AbortSignal; log: (message: string) => void },
): Promise<void> {
  const dir = tlsDir(plan.name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const ca = caFiles(plan.name);
  const scratch = join(dir, 'ca.tmp');
  mkdirSync(scratch, { mode: 0o700 });
  await create(caCreateArgv(nomad.path), scratch, ca, options.signal);
  rmSync(scratch, { recursive: true, force: true });
  const parties: Array<{ name: string; kind: Role | 'cli'; ip?: string }> = [
    ...plan.hosts.map((h) => ({ name: h.name, kind: h.role, ip: h.ip })),
    { name: 'cli', kind: 'cli' as const },
  ];
  for (const party of parties) {
    options.signal?.throwIfAborted();
    const files = partyFiles(plan.name, party.name);
    const partyDir = join(dir, party.name);
    mkdirSync(partyDir, { mode: 0o700 });
    await create(certCreateArgv(nomad.path, nomad.version, party.kind, region, ca, party.ip), partyDir, files, options.signal);
  }
  for (const f of [ca.key, ...parties.map((p) => partyFiles(plan.name, p.name).key)]) {
    if (!existsSync(f)) throw new HarnessError(`TLS key ${f} is missing after it was made`, { host: 'local' });
  }
  options.log(`TLS: CA and ${parties.length} certificates (region ${region}) in ${dir} (mode 0700, keys 0600)`);
}
