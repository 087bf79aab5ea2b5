// Lab (root, real agents): TLS mode. `lab up --tls` makes a CA and per-agent certificates with the
// lab's nomad and runs the agents with mutual TLS: HTTPS with the CA and the CLI's certificate works
// by IP, plain HTTP gets Nomad's 400, HTTPS without a client certificate fails in the handshake, and
// `lab env` gives the nomad CLI what it needs. The spread scenario passes on a TLS lab, and with ACLs
// too; no private key (the base64 of any key file) appears in the output, the reports, the trace, the
// lab's other files, nor any process's command line while the run goes. `lab down` leaves nothing.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { labDir } from '../../harness/config/paths.ts';
import { run } from '../../harness/exec/local.ts';
import { auditLeaks } from '../../harness/lab/audit.ts';
import { hostApi } from '../../harness/lab/guard.ts';
import { readState } from '../../harness/lab/store.ts';
import { agentTlsFiles, cliTlsFiles, tlsDir } from '../../harness/lab/tls.ts';
import { isRoot, labCli, ownsLab } from './support.ts';
import { filesUnder, handshakeWithoutClientCert, httpsGet, keyMaterial, scenarioSampled } from './secrets.ts';

const name = 't-tls';
const both = 't-tls-acl';
const reports = mkdtempSync(join(tmpdir(), 'nomad-lab-tls-'));

/** Runs `scenario spread` with the flags, sampling every command line meanwhile; the lab is kept. */
function spread(lab: string, flags: string[]): ReturnType<typeof scenarioSampled> {
  return scenarioSampled(['spread', ...flags, '--keep', '--lab', lab, '--reports', join(reports, lab)]);
}

/** No base64 line of any key of the lab in the places a key must never be. */
function expectNoKeyIn(lab: string, outcome: { stdout: string; stderr: string; samples: Set<string> }): void {
  const keys = keyMaterial(lab);
  // The CA's, server1's, client1's, client2's and the CLI's key; EC keys are three base64 lines each.
  expect(keys.files).toHaveLength(5);
  expect(keys.lines.length).toBeGreaterThanOrEqual(10);
  expect(keys.lines.every((l) => l.length >= 20)).toBe(true);
  const places: Array<[string, string]> = [
    ['stdout', outcome.stdout],
    ['stderr', outcome.stderr],
  ];
  const reportFiles = filesUnder(join(reports, lab));
  expect(reportFiles.some((f) => f.endsWith('trace.ndjson'))).toBe(true);
  for (const f of reportFiles) places.push([f, readFileSync(f, 'latin1')]);
  const labFiles = filesUnder(labDir(lab)).filter((f) => !keys.files.includes(f) && !f.includes('/data/'));
  expect(labFiles.some((f) => f.endsWith('agent.log'))).toBe(true);
  expect(labFiles.some((f) => f.includes('/ansible/'))).toBe(true);
  for (const f of labFiles) places.push([f, readFileSync(f, 'latin1')]);
  expect(outcome.samples.size).toBeGreaterThan(20);
  places.push(['process command lines', [...outcome.samples].join('\n')]);
  for (const [where, text] of places) {
    for (const line of keys.lines) expect(text.includes(line), `key material in ${where}`).toBe(false);
  }
}

describe.skipIf(!isRoot)('TLS mode', () => {
  ownsLab(name);
  ownsLab(both);
  afterAll(() => rmSync(reports, { recursive: true, force: true }));

  it('lab up --tls: HTTPS with the CA and a client certificate works, plain HTTP and HTTPS without a certificate are refused; lab env drives the nomad CLI', async () => {
    const up = await labCli(['up', '--lab', name, '--tls']);
    expect(up.exitCode, up.stderr).toBe(0);
    expect(up.stderr).toMatch(/TLS: CA and 4 certificates \(region global\)/);
    const state = readState(name)!;
    expect(state.plan.tls).toBe(true);
    expect(statSync(tlsDir(name)).mode & 0o777).toBe(0o700);
    for (const f of keyMaterial(name).files) expect(statSync(f).mode & 0o777, f).toBe(0o600);
    const server = state.plan.hosts.find((h) => h.role === 'server')!;
    const client1 = state.plan.hosts.find((h) => h.name === 'client1')!;

    // The agents run what the role rendered: TLS on HTTP and RPC, mutual, names checked.
    const self = await hostApi(state.plan, server).agentSelf();
    expect(self.config['TLSConfig']).toMatchObject({
      EnableHTTP: true,
      EnableRPC: true,
      VerifyServerHostname: true,
      VerifyHTTPSClient: true,
      CertFile: agentTlsFiles(name, server).cert,
    });
    // Clients reached their servers over TLS RPC: both are ready.
    expect((await hostApi(state.plan, server).nodes()).map((n) => `${n.Name} ${n.Status}`).sort()).toEqual(['client1 ready', 'client2 ready']);

    // HTTPS by IP with the CA and the CLI's certificate (Node's own client, not the harness's): the agent's certificate names its IP.
    const cli = cliTlsFiles(name);
    const ca = readFileSync(cli.ca);
    const withCert = { ca, cert: readFileSync(cli.cert), key: readFileSync(cli.key) };
    const ok = await httpsGet(`https://${server.ip}:4646/v1/status/leader`, withCert);
    expect(ok).toEqual({ status: 200, body: `"${server.ip}:4647"` });
    expect((await httpsGet(`https://${client1.ip}:4646/v1/agent/self`, withCert)).status).toBe(200);
    // Plain HTTP: Nomad answers 400 with its own words.
    const plain = await fetch(`http://${server.ip}:4646/v1/status/leader`);
    expect(plain.status).toBe(400);
    expect(await plain.text()).toContain('Client sent an HTTP request to an HTTPS server');
    // HTTPS without a client certificate: the server's TLS 1.3 alert "certificate required".
    expect(await handshakeWithoutClientCert(server.ip, ca)).toBe('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
    // And a client that does not know the lab's CA (Node's own trust store) does not trust the agent.
    expect((await httpsGet(`https://${server.ip}:4646/v1/status/leader`, {})).error).toMatch(
      /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/,
    );

    // lab env: https, the three files as paths; the CLI with them lists the nodes, without the client certificate it is refused.
    const piped = await labCli(['env', '--lab', name]);
    expect(piped.exitCode, piped.stderr).toBe(0);
    expect(piped.stdout).toContain(`export NOMAD_ADDR=https://${server.ip}:4646`);
    expect(piped.stdout).toContain(`export NOMAD_CACERT=${cli.ca}`);
    expect(piped.stdout).toContain(`export NOMAD_CLIENT_CERT=${cli.cert}`);
    expect(piped.stdout).toContain(`export NOMAD_CLIENT_KEY=${cli.key}`);
    for (const line of keyMaterial(name).lines) expect(piped.stdout + piped.stderr).not.toContain(line);
    const env = JSON.parse((await labCli(['env', '--lab', name, '--json'])).stdout) as Record<string, string>;
    const cliEnv = { PATH: process.env['PATH']!, HOME: '/root', NOMAD_ADDR: env['NOMAD_ADDR']!, NOMAD_CACERT: env['NOMAD_CACERT']! };
    const status = await run([env['nomad']!, 'node', 'status'], {
      check: false,
      timeoutMs: 30_000,
      env: { ...cliEnv, NOMAD_CLIENT_CERT: env['NOMAD_CLIENT_CERT']!, NOMAD_CLIENT_KEY: env['NOMAD_CLIENT_KEY']! },
    });
    expect(status.exitCode, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/client1 .* ready/);
    expect(status.stdout).toMatch(/client2 .* ready/);
    // Without a client certificate (and nothing of this process's NOMAD_* passed on): refused.
    const blank = Object.fromEntries(Object.keys(process.env).flatMap((k) => (k.startsWith('NOMAD_') ? [[k, '']] : [])));
    const refused = await run([env['nomad']!, 'node', 'status'], { check: false, timeoutMs: 30_000, env: { ...blank, ...cliEnv } });
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain('certificate required');

    const down = await labCli(['down', '--lab', name]);
    expect(down.exitCode, `${down.stdout}\n${down.stderr}`).toBe(0);
    expect(existsSync(tlsDir(name))).toBe(false);
    expect(await auditLeaks(name)).toEqual([]);
  }, 170_000);

  it('spread passes on a TLS lab; no private key in the output, the reports, the trace, the lab files or any command line', async () => {
    const outcome = await spread(name, ['--tls']);
    expect(outcome.code, outcome.stderr.slice(-2000)).toBe(0);
    expect(outcome.stdout).toMatch(/^spread: PASS {2}\(Nomad [^,]+, lab t-tls with TLS, run /m);
    const [runDir] = readdirSync(join(reports, name, 'spread'));
    const dir = join(reports, name, 'spread', runDir!);
    const result = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as { lab: { tls?: boolean; acl?: boolean } };
    expect(result.lab.tls).toBe(true);
    expect(result.lab.acl).toBeUndefined();
    const trace = readFileSync(join(dir, 'trace.ndjson'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect((trace.find((e) => e['kind'] === 'run')!['run'] as { lab: { tls?: boolean } }).lab.tls).toBe(true);
    // The capture step ran the nomad CLI against the TLS lab (https, the CLI's certificate in its environment).
    const screen = trace.find((e) => e['kind'] === 'screen')!;
    expect(screen['exitCode']).toBe(0);
    expect(screen['text']).toContain('Client Status');
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toContain(' · TLS');
    expectNoKeyIn(name, outcome);

    const down = await labCli(['down', '--lab', name]);
    expect(down.exitCode, `${down.stdout}\n${down.stderr}`).toBe(0);
    expect(await auditLeaks(name)).toEqual([]);
  }, 180_000);

  it('with --tls --acl spread passes too; ACL tokens and TLS keys alike stay in the lab directory', async () => {
    const outcome = await spread(both, ['--tls', '--acl']);
    expect(outcome.code, outcome.stderr.slice(-2000)).toBe(0);
    expect(outcome.stdout).toMatch(/^spread: PASS {2}\(Nomad [^,]+, lab t-tls-acl with ACLs, TLS, run /m);
    expect(outcome.stderr).toContain('ACLs bootstrapped');
    expectNoKeyIn(both, outcome);

    const down = await labCli(['down', '--lab', both]);
    expect(down.exitCode, `${down.stdout}\n${down.stderr}`).toBe(0);
    expect(existsSync(labDir(both))).toBe(false);
    expect(await auditLeaks(both)).toEqual([]);
  }, 180_000);
});
