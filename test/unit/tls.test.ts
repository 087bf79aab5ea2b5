// Unit: a lab's TLS (harness/lab/tls.ts and where it is threaded through): the `nomad tls` argv per
// release, the CLI's environment, the role's variables, the plan and lab file, SSH labs taking it
// (the rest of theirs in ssh-tls.test.ts), the shell and capture environments, the summary line. Then, with the pinned nomad binary
// (no agent): the certificates it makes, and the API client (nomad/api.ts over nomad/http.ts)
// against a local HTTPS server that demands a client certificate, as an agent with
// verify_https_client does.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveLabConfig } from '../../harness/config/lab-config.ts';
import { netnsInventory } from '../../harness/lab/ansible.ts';
import { checkRunFits, labRequest } from '../../harness/lab/labs.ts';
import { shellCommandFor } from '../../harness/lab/shell.ts';
import type { LabState } from '../../harness/lab/store.ts';
import { agentTlsFiles, caCreateArgv, certCreateArgv, cliTlsFiles, labRegion, labTls, makeCertificates, nomadCliEnv, tlsDir } from '../../harness/lab/tls.ts';
import { planLab } from '../../harness/lab/topology.ts';
import { NomadApi } from '../../harness/nomad/api.ts';
import { pinnedBinaryPath } from '../../harness/nomad/binary.ts';
import { formatSummary } from '../../harness/report/terminal.ts';
import type { RunResult } from '../../harness/report/result.ts';
import { captureEnv } from '../../harness/scenario/capture.ts';
import { UsageError } from '../../harness/util/errors.ts';

const spec = { name: 't-unit-tls', servers: 1, clients: 2, datacenter: 'dc1', subnet: '198.19.202.0/24' };
const plan = planLab({ ...spec, tls: true });
const plain = planLab(spec);

describe('nomad tls argv', () => {
  const ca = { cert: '/lab/tls/ca.pem', key: '/lab/tls/ca-key.pem' };

  it('names the region with -cluster-region before 1.6 (1.5 ignores -region for the certificate), -region from 1.6 on', () => {
    expect(certCreateArgv('/bin/nomad', '1.5.3', 'server', 'global', ca, '198.19.202.11')).toEqual([
      '/bin/nomad',
      'tls',
      'cert',
      'create',
      '-server',
      '-cluster-region',
      'global',
      '-additional-ipaddress',
      '198.19.202.11',
      '-ca',
      '/lab/tls/ca.pem',
      '-key',
      '/lab/tls/ca-key.pem',
    ]);
    for (const v of ['1.6.0', '1.6.3', '1.10.5', '2.0.1']) expect(certCreateArgv('/bin/nomad', v, 'client', 'edge', ca, '198.19.202.21')).toContain('-region');
    expect(certCreateArgv('/bin/nomad', '1.6.0', 'client', 'edge', ca, '198.19.202.21')).not.toContain('-cluster-region');
  });

  it("an agent's certificate carries its address; the CLI's none; keys are named by path only", () => {
    const cli = certCreateArgv('/bin/nomad', '1.6.0', 'cli', 'global', ca);
    expect(cli).not.toContain('-additional-ipaddress');
    expect(cli.slice(4, 5)).toEqual(['-cli']);
    expect(cli.slice(-4)).toEqual(['-ca', ca.cert, '-key', ca.key]);
    expect(caCreateArgv('/bin/nomad')).toEqual(['/bin/nomad', 'tls', 'ca', 'create']);
  });

  it('the region comes from the role variable a lab file may set, and must be a region name', () => {
    expect(labRegion({})).toBe('global');
    expect(labRegion({ nomad_region: 'edge-1' })).toBe('edge-1');
    expect(() => labRegion({ nomad_region: 'a b' })).toThrow(UsageError);
    expect(() => labRegion({ nomad_region: 7 })).toThrow(/agentVars\.nomad_region "?7"?: a region name is/);
  });
});

describe('the CLI environment of a lab', () => {
  it('plain: NOMAD_ADDR over http only; TLS: https and the three files as paths', () => {
    expect(nomadCliEnv('198.19.202.11', undefined)).toEqual({ NOMAD_ADDR: 'http://198.19.202.11:4646' });
    const files = labTls(plan)!;
    expect(nomadCliEnv('198.19.202.11', files)).toEqual({
      NOMAD_ADDR: 'https://198.19.202.11:4646',
      NOMAD_CACERT: join(tlsDir('t-unit-tls'), 'ca.pem'),
      NOMAD_CLIENT_CERT: join(tlsDir('t-unit-tls'), 'cli', 'cert.pem'),
      NOMAD_CLIENT_KEY: join(tlsDir('t-unit-tls'), 'cli', 'key.pem'),
    });
    expect(labTls(plain)).toBeUndefined();
    expect(agentTlsFiles('t-unit-tls', { name: 'client2' }).key).toBe(join(tlsDir('t-unit-tls'), 'client2', 'key.pem'));
  });

  const state = (p = plan) =>
    ({
      version: 1,
      provider: 'netns',
      plan: p,
      phase: 'up',
      persistent: true,
      agents: [],
      nomad: { path: '/opt/nomad/nomad', version: '1.6.0', source: 'flag' },
    }) as unknown as LabState;

  it('lab shell on a TLS lab gets https and the files; on a plain lab none of them', () => {
    const env = shellCommandFor(state(), 'client1', {}, undefined).env;
    expect(env['NOMAD_ADDR']).toBe('https://198.19.202.21:4646');
    expect(env['NOMAD_CACERT']).toBe(cliTlsFiles('t-unit-tls').ca);
    expect(env['NOMAD_CLIENT_CERT']).toBe(cliTlsFiles('t-unit-tls').cert);
    expect(env['NOMAD_CLIENT_KEY']).toBe(cliTlsFiles('t-unit-tls').key);
    const none = shellCommandFor(state(plain), 'client1', {}, undefined).env;
    expect(none['NOMAD_ADDR']).toBe('http://198.19.202.21:4646');
    expect(Object.keys(none).filter((k) => k.startsWith('NOMAD_C'))).toEqual([]);
  });

  it('a capture on a TLS lab gets the files in its environment, and the harness NOMAD_* still stay out', () => {
    const files = labTls(plan)!;
    const env = captureEnv('https://198.19.202.11:4646', undefined, { PATH: '/bin', NOMAD_CLIENT_KEY: '/elsewhere' }, files);
    expect(env).toEqual({
      PATH: '/bin',
      TERM: 'xterm-256color',
      NOMAD_ADDR: 'https://198.19.202.11:4646',
      NOMAD_CACERT: files.ca,
      NOMAD_CLIENT_CERT: files.cert,
      NOMAD_CLIENT_KEY: files.key,
    });
  });
});

describe('TLS threaded through plan, lab file, role variables and providers', () => {
  it('the plan says tls only when on: a plain lab plans exactly as before', () => {
    expect(plan.tls).toBe(true);
    expect('tls' in plain).toBe(false);
  });

  it('--tls and `tls: true` in a lab file turn it on; with --sshd it is refused', () => {
    expect(resolveLabConfig({ name: 'a', tls: true }, {}).spec.tls).toBe(true);
    expect(resolveLabConfig({ name: 'a' }, {}).spec.tls).toBeUndefined();
    const dir = mkdtempSync(join(tmpdir(), 'nomad-lab-unit-tls-'));
    try {
      const file = join(dir, 'lab.yaml');
      writeFileSync(file, 'name: tls-file\ntls: true\n');
      expect(resolveLabConfig({ config: file }, {}).spec).toMatchObject({ name: 'tls-file', tls: true });
      writeFileSync(file, 'tls: "yes"\n');
      expect(() => resolveLabConfig({ config: file }, {})).toThrow(/tls/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => resolveLabConfig({ name: 'ssh', sshd: true, tls: true }, {})).toThrow(/--sshd with TLS/);
  });

  it('the role gets tls on and each agent its own files; a plain lab gets tls off and no files', () => {
    const inv = netnsInventory(plan, '/lab', '1.6.0') as {
      all: { vars: Record<string, unknown>; children: Record<string, { hosts: Record<string, Record<string, string>> }> };
    };
    expect(inv.all.vars['nomad_tls_enabled']).toBe(true);
    expect(inv.all.children['servers']!.hosts['server1']).toMatchObject({
      nomad_tls_ca_file: join(tlsDir('t-unit-tls'), 'ca.pem'),
      nomad_tls_cert_file: join(tlsDir('t-unit-tls'), 'server1', 'cert.pem'),
      nomad_tls_key_file: join(tlsDir('t-unit-tls'), 'server1', 'key.pem'),
    });
    expect(inv.all.children['clients']!.hosts['client2']!['nomad_tls_cert_file']).toBe(join(tlsDir('t-unit-tls'), 'client2', 'cert.pem'));
    const off = netnsInventory(plain, '/lab', '1.6.0') as typeof inv;
    expect(off.all.vars['nomad_tls_enabled']).toBe(false);
    expect(Object.keys(off.all.children['servers']!.hosts['server1']!).filter((k) => k.startsWith('nomad_tls'))).toEqual([]);
  });

  it('an SSH lab takes --tls (the role copies the certificates), not with --no-provision; ACLs stay refused before anything runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nomad-lab-unit-tls-'));
    try {
      const inventory = join(dir, 'hosts.yaml');
      writeFileSync(inventory, 'servers:\n  hosts:\n    s1:\nclients:\n  hosts:\n    c1:\n');
      expect(labRequest({ inventory, tls: true })).toMatchObject({ provider: 'inventory', tls: true, provision: true });
      expect(labRequest({ inventory }).tls).toBeUndefined();
      expect(() => labRequest({ inventory, tls: true, provision: false })).toThrow(/--no-provision takes the hosts as they are, and TLS \(--tls\)/);
      await expect(checkRunFits(labRequest({ inventory, tls: true, lab: 'inv-tls' }), { servers: 1, clients: 1, acl: true, tls: true })).rejects.toThrow(
        /ACLs are not set up on SSH labs \(inventory, vagrant\) yet/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the summary line says the lab ran with ACLs and TLS', () => {
    const result = {
      scenario: 'spread',
      verdict: 'pass',
      runId: 'r1',
      nomad: { version: '1.6.0' },
      checks: [],
      timings: [],
      lab: { name: 't-tls', tls: true },
    };
    expect(formatSummary(result as unknown as RunResult, '/r').split('\n')[0]).toContain('(Nomad 1.6.0, lab t-tls with TLS, run r1)');
    const both = { ...result, lab: { name: 't-tls-acl', acl: true, tls: true } };
    expect(formatSummary(both as unknown as RunResult, '/r').split('\n')[0]).toContain('lab t-tls-acl with ACLs, TLS,');
  });
});

const nomad = process.env['NOMAD_BINARY'] || pinnedBinaryPath();
/** The binary's version (it decides the region flag): the pinned 1.6 release, or the one given. */
const nomadVersion = () => /Nomad v(\d+\.\d+\.\d+)/.exec(execFileSync(nomad, ['version']).toString())![1]!;

describe.skipIf(!existsSync(nomad))('certificates from nomad tls, and HTTPS with a client certificate', () => {
  const root = mkdtempSync(join(tmpdir(), 'nomad-lab-unit-tls-root-'));
  const before = process.env['NOMAD_LAB_ROOT'];
  let server: Server;
  let port = 0;
  const logged: string[] = [];

  beforeAll(async () => {
    process.env['NOMAD_LAB_ROOT'] = root;
    await makeCertificates(plan, { path: nomad, version: nomadVersion() }, 'global', { log: (m) => logged.push(m) });
    // server1's certificate names 127.0.0.1 (as every agent certificate does), so a local server can stand in for the agent.
    const files = agentTlsFiles(plan.name, { name: 'server1' });
    server = createServer(
      { ca: readFileSync(files.ca), cert: readFileSync(files.cert), key: readFileSync(files.key), requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(req.url));
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  }, 60_000);

  afterAll(() => {
    server?.close();
    if (before === undefined) delete process.env['NOMAD_LAB_ROOT'];
    else process.env['NOMAD_LAB_ROOT'] = before;
    rmSync(root, { recursive: true, force: true });
  });

  it('makes a CA and a certificate per agent with its address and region name, and one for the CLI; directory 0700, keys 0600', () => {
    expect(statSync(tlsDir(plan.name)).mode & 0o777).toBe(0o700);
    for (const party of ['server1', 'client1', 'client2', 'cli']) {
      const files = agentTlsFiles(plan.name, { name: party });
      expect(statSync(files.key).mode & 0o777, party).toBe(0o600);
      expect(statSync(join(tlsDir(plan.name), party)).mode & 0o777).toBe(0o700);
      const cert = new X509Certificate(readFileSync(files.cert));
      expect(cert.verify(new X509Certificate(readFileSync(files.ca)).publicKey), party).toBe(true);
    }
    expect(statSync(join(tlsDir(plan.name), 'ca-key.pem')).mode & 0o777).toBe(0o600);
    const server1 = new X509Certificate(readFileSync(agentTlsFiles(plan.name, { name: 'server1' }).cert));
    expect(server1.subjectAltName).toContain('DNS:server.global.nomad');
    expect(server1.subjectAltName).toContain('IP Address:198.19.202.11');
    expect(server1.checkIP('198.19.202.11')).toBe('198.19.202.11');
    const client2 = new X509Certificate(readFileSync(agentTlsFiles(plan.name, { name: 'client2' }).cert));
    expect(client2.subjectAltName).toContain('DNS:client.global.nomad');
    expect(client2.checkIP('198.19.202.22')).toBe('198.19.202.22');
    expect(client2.checkIP('198.19.202.21')).toBeUndefined();
    expect(new X509Certificate(readFileSync(cliTlsFiles(plan.name).cert)).subject).toContain('cli.global.nomad');
    // Nothing but the certificates and keys, and no scratch directory left.
    expect(logged.join('\n')).toMatch(/TLS: CA and 4 certificates \(region global\)/);
    expect(existsSync(join(tlsDir(plan.name), 'ca.tmp'))).toBe(false);
  });

  it('the API client speaks HTTPS with the CA and the CLI certificate; the guard still decides first', async () => {
    const api = new NomadApi(`127.0.0.1:${port}`, () => undefined, 'server1', undefined, cliTlsFiles(plan.name));
    expect(api.baseUrl).toBe(`https://127.0.0.1:${port}`);
    expect(await api.get('/v1/status/leader')).toBe('/v1/status/leader');
    const guarded = new NomadApi(
      `127.0.0.1:${port}`,
      () => {
        throw new Error('refusing to contact 127.0.0.1: test guard');
      },
      'server1',
      undefined,
      cliTlsFiles(plan.name),
    );
    await expect(guarded.get('/v1/status/leader')).rejects.toThrow(/test guard/);
  });

  it('plain HTTP to the TLS server fails; with a CA that did not sign the agent, the client refuses', async () => {
    const noClient = new NomadApi(`127.0.0.1:${port}`, () => undefined, 'server1');
    await expect(noClient.get('/v1/status/leader')).rejects.toThrow(/GET http:\/\/127\.0\.0\.1:\d+\/v1\/status\/leader failed/);
    const other = mkdtempSync(join(tmpdir(), 'nomad-lab-unit-tls-other-'));
    try {
      // A CA of another lab: the agent's certificate does not chain to it.
      execFileSync(nomad, ['tls', 'ca', 'create'], { cwd: other, stdio: 'ignore' });
      const files = { ...cliTlsFiles(plan.name), ca: join(other, 'nomad-agent-ca.pem') };
      const stranger = new NomadApi(`127.0.0.1:${port}`, () => undefined, 'server1', undefined, files);
      await expect(stranger.get('/v1/status/leader')).rejects.toThrow(/unable to verify|self[- ]signed|certificate/i);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('a missing TLS file is an error that names the file, never its contents', async () => {
    const files = { ...cliTlsFiles(plan.name), key: join(root, 'gone-key.pem') };
    const api = new NomadApi(`127.0.0.1:${port}`, () => undefined, 'server1', undefined, files);
    await expect(api.get('/v1/status/leader')).rejects.toThrow(/cannot read the lab's TLS files: .*gone-key\.pem/);
  });

  it('certificates made again (a lab of the same name brought up again) are the ones used next', async () => {
    const api = () => new NomadApi(`127.0.0.1:${port}`, () => undefined, 'server1', undefined, cliTlsFiles(plan.name));
    expect(await api().get('/v1/x')).toBe('/v1/x');
    await makeCertificates(plan, { path: nomad, version: nomadVersion() }, 'global', { log: () => undefined });
    // The server still trusts only the first CA: the new CLI certificate must be refused, which it is only if the new files are read.
    await expect(api().get('/v1/x')).rejects.toThrow(/failed/);
  });
});
