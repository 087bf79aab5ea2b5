// Lab (root, real agents; runs in CI): `lab up` -> status -> `lab down`, then the leak audit.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ansibleDir } from '../../harness/config/paths.ts';
import { run } from '../../harness/exec/local.ts';
import { auditLeaks } from '../../harness/lab/audit.ts';
import type { LabStatus } from '../../harness/lab/netns-lab.ts';
import { isOurUnreachable, routes, taggedRules } from '../../harness/lab/network.ts';
import { readState } from '../../harness/lab/store.ts';
import { NomadApi } from '../../harness/nomad/api.ts';
import { resolveNomad } from '../../harness/nomad/binary.ts';
import { labGuard } from '../../harness/lab/guard.ts';
import { isRoot, labCli, ownsLab } from './support.ts';

const name = 't-life';

describe.skipIf(!isRoot)('netns lab lifecycle', () => {
  ownsLab(name);

  it('lab up brings 1 server and 2 ready clients, each agent in its own namespace, running the chosen Nomad', async () => {
    const up = await labCli(['up', '--lab', name, '--json']);
    expect(up.exitCode, up.stderr).toBe(0);
    const status = JSON.parse(up.stdout) as LabStatus;
    expect(status.hosts.map((h) => [h.name, h.role, h.agent])).toEqual([
      ['server1', 'server', 'running'],
      ['client1', 'client', 'running'],
      ['client2', 'client', 'running'],
    ]);
    expect(status.hosts.filter((h) => h.role === 'client').map((h) => h.status)).toEqual(['ready', 'ready']);
    expect(status.hosts.find((h) => h.role === 'server')?.leader).toBe(true);

    // Each agent lives in the namespace planned for it, as `ip netns identify` tells.
    const identified = await Promise.all(status.hosts.map(async (h) => (await run(['ip', 'netns', 'identify', String(h.pid)])).stdout.trim()));
    expect(identified).toEqual(status.hosts.map((h) => h.netns));
    expect(new Set(identified).size).toBe(3);

    // The binary is the one the harness resolves, and it says so at every run.
    const nomad = await resolveNomad(undefined);
    expect(status.nomadVersionReported).toBe(nomad.version);
    expect(up.stderr).toContain(`nomad: ${nomad.path}`);

    // While the lab exists: the tagged FORWARD rule and the unreachable route for the whole range.
    const state = readState(name)!;
    expect((await taggedRules(state.plan.ruleTag)).length).toBe(1);
    expect((await routes()).some(isOurUnreachable)).toBe(true);
  }, 150_000);

  it('runs the agents with the timers of the Ansible role defaults', async () => {
    const state = readState(name)!;
    const server = state.plan.hosts[0]!;
    const self = await new NomadApi(`${server.ip}:4646`, labGuard(state.plan), server.name).agentSelf();
    const defaults = readFileSync(join(ansibleDir(), 'roles', 'nomad', 'defaults', 'main.yml'), 'utf8');
    const seconds = (key: string) => Number(new RegExp(`^${key}: (\\d+)s$`, 'm').exec(defaults)?.[1]) * 1e9;
    expect(self.config.Server?.['MinHeartbeatTTL']).toBe(seconds('nomad_min_heartbeat_ttl'));
    expect(self.config.Server?.['HeartbeatGrace']).toBe(seconds('nomad_heartbeat_grace'));
    expect(self.config.Server?.['FailoverHeartbeatTTL']).toBe(seconds('nomad_failover_heartbeat_ttl'));
    expect(self.config.Telemetry?.['CollectionInterval']).toBe('1s');
    expect(self.config.Telemetry?.['PrometheusMetrics']).toBe(true);
  }, 30_000);

  it('lab status shows the same lab and exits 0 while it is healthy', async () => {
    const status = await labCli(['status', '--lab', name]);
    expect(status.exitCode, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/client1\s+client\s+dc1\s+198\.\d+\.\d+\.21\s+nl[0-9a-f]{5}-c1\s+\d+\s+running\s+[0-9a-f]{8}\s+ready/);
    expect(status.stdout).toMatch(/server1\s+server\s+.*leader/);
  }, 30_000);

  it('lab down leaves nothing behind, and a second down is a no-op', async () => {
    const down = await labCli(['down', '--lab', name]);
    expect(down.exitCode, `${down.stdout}\n${down.stderr}`).toBe(0);
    expect(await auditLeaks(name)).toEqual([]);
    const again = await labCli(['down', '--lab', name]);
    expect(again.exitCode).toBe(0);
    expect(again.stderr).toContain('is not up; nothing to do');
    const status = await labCli(['status', '--lab', name]);
    expect(status.exitCode).toBe(2);
    expect(status.stderr).toContain(`no lab named ${name}`);
  }, 60_000);
});
