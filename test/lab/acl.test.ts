// Lab (root, real agents): the edge scenario (3 servers, clients in dc1/dc2/dc2, ACLs on: bootstrapped
// by the harness, which then uses a scoped token) passes, with its service-discovery, HTTP and
// refusal probes; the tokens live only in the lab directory (0600) and appear nowhere else:
// not in the output, the reports, the agent logs, the Ansible files, nor any process's command line
// while the run goes. The API refuses the same calls without a token, and the harness token cannot
// manage ACLs. `lab down` removes the tokens with the lab.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { labDir, repoRoot } from '../../harness/config/paths.ts';
import { aclDir, tokenFile } from '../../harness/lab/acl.ts';
import { auditLeaks } from '../../harness/lab/audit.ts';
import { readState } from '../../harness/lab/store.ts';
import { filesUnder, scenarioSampled } from './secrets.ts';
import { isRoot, labCli, ownsLab } from './support.ts';

const name = 't-acl';
const reports = mkdtempSync(join(tmpdir(), 'nomad-lab-acl-'));

describe.skipIf(!isRoot)('ACL mode', () => {
  ownsLab(name);
  afterAll(() => rmSync(reports, { recursive: true, force: true }));

  it('edge passes with ACLs on; no token leaks; unauthenticated calls are refused; tokens go with the lab', async () => {
    // Every process's command line is sampled while the run goes.
    const { code, stdout, stderr, samples } = await scenarioSampled(['edge', '--keep', '--lab', name, '--reports', reports]);
    expect(code, stderr.slice(-2000)).toBe(0);
    expect(stdout).toMatch(/^edge: PASS/m);
    // The edge probes held: discovery through nomadService, the cut-off frontend serving, refusals.
    for (const probe of [
      "probe: the frontend serves the backend's address it found with nomadService",
      'probe: the cut-off frontend still answers inside its own network',
      'probe: without a token the API refuses /v1/nodes, /v1/jobs, /v1/allocations, /v1/service/edge-frontend',
    ]) {
      expect(stdout).toContain(`  ok   ${probe}`);
    }
    const [runDir] = readdirSync(join(reports, 'edge'));
    const result = JSON.parse(readFileSync(join(reports, 'edge', runDir!, 'result.json'), 'utf8')) as { checks: Array<{ check: string; detail: string }> };
    expect(result.checks.find((c) => c.check.startsWith('probe: the frontend serves'))?.detail).toMatch(
      /HTTP 200, body "edge frontend [0-9a-f-]+\\nbackend at 198\.1[89]\.\d+\.21:\d+/,
    );

    const management = readFileSync(tokenFile(name, 'management'), 'utf8').trim();
    const harness = readFileSync(tokenFile(name, 'harness'), 'utf8').trim();
    expect(management).toMatch(/^[0-9a-f-]{36}$/);
    expect(harness).toMatch(/^[0-9a-f-]{36}$/);
    expect(harness).not.toBe(management);
    expect(statSync(aclDir(name)).mode & 0o777).toBe(0o700);
    for (const kind of ['management', 'harness'] as const) expect(statSync(tokenFile(name, kind)).mode & 0o777).toBe(0o600);

    // Nowhere else: output, reports, every file of the lab but the token files, command lines.
    const places: Array<[string, string]> = [
      ['stdout', stdout],
      ['stderr', stderr],
    ];
    for (const f of filesUnder(reports)) places.push([f, readFileSync(f, 'latin1')]);
    const tokens = [tokenFile(name, 'management'), tokenFile(name, 'harness')];
    const labFiles = filesUnder(labDir(name)).filter((f) => !tokens.includes(f) && !f.includes('/data/'));
    expect(labFiles.some((f) => f.endsWith('agent.log'))).toBe(true);
    expect(labFiles.some((f) => f.includes('/ansible/'))).toBe(true);
    for (const f of labFiles) places.push([f, readFileSync(f, 'latin1')]);
    expect(samples.size).toBeGreaterThan(20);
    places.push(['process command lines', [...samples].join('\n')]);
    for (const [where, text] of places) {
      expect(text.includes(management), `management token in ${where}`).toBe(false);
      expect(text.includes(harness), `harness token in ${where}`).toBe(false);
    }

    // The security check: the same calls without a token are refused; the harness token cannot manage ACLs.
    const server = readState(name)!.plan.hosts.find((h) => h.role === 'server')!;
    const call = (path: string, token?: string, method = 'GET', body?: unknown) =>
      fetch(`http://${server.ip}:4646${path}`, {
        method,
        headers: token ? { 'x-nomad-token': token } : {},
        ...(body ? { body: JSON.stringify(body) } : {}),
      }).then((r) => r.status);
    for (const path of ['/v1/nodes', '/v1/jobs', '/v1/allocations', '/v1/agent/self']) {
      expect(await call(path), `${path} without a token`).toBe(403);
      expect(await call(path, harness), `${path} with the harness token`).toBe(200);
    }
    expect(await call('/v1/acl/policy/extra', harness, 'POST', { Name: 'extra', Rules: 'node { policy = "write" }' })).toBe(403);
    expect(await call('/v1/acl/tokens', harness)).toBe(403);
    expect(await call('/v1/acl/tokens', management)).toBe(200);

    // lab env: NOMAD_ADDR always; the management token only to a terminal or when asked (stdout is a pipe here).
    const piped = await labCli(['env', '--lab', name]);
    expect(piped.exitCode, piped.stderr).toBe(0);
    expect(piped.stdout).toContain(`export NOMAD_ADDR=http://${server.ip}:4646`);
    expect(piped.stdout.includes(management)).toBe(false);
    expect(piped.stderr).toContain('NOMAD_TOKEN not printed to a pipe');
    const asked = await labCli(['env', '--lab', name, '--token', '--json']);
    const env = JSON.parse(asked.stdout) as Record<string, string>;
    expect(env['NOMAD_TOKEN']).toBe(management);
    expect(await call('/v1/acl/tokens', env['NOMAD_TOKEN'])).toBe(200);

    const down = await labCli(['down', '--lab', name]);
    expect(down.exitCode, `${down.stdout}\n${down.stderr}`).toBe(0);
    expect(existsSync(aclDir(name))).toBe(false);
    expect(await auditLeaks(name)).toEqual([]);
  }, 170_000);
});
