// Lab (root, real agents; runs in CI): the agents run what the Ansible role renders. A changed role
// default shows up in the running agent's /v1/agent/self.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ansibleDir } from '../../harness/config/paths.ts';
import { auditLeaks } from '../../harness/lab/audit.ts';
import { labGuard } from '../../harness/lab/guard.ts';
import { readState } from '../../harness/lab/store.ts';
import { NomadApi } from '../../harness/nomad/api.ts';
import { isRoot, labCli, ownsLab } from './support.ts';

const name = 't-role';

describe.skipIf(!isRoot)('Ansible role renders the agent configuration', () => {
  ownsLab(name);

  const copy = mkdtempSync(join(tmpdir(), 'nomad-lab-ansible-'));
  afterAll(async () => {
    rmSync(copy, { recursive: true, force: true });
  }, 60_000);

  it('a changed default in roles/nomad/defaults/main.yml reaches the running server and clients', async () => {
    cpSync(ansibleDir(), copy, { recursive: true });
    const defaultsFile = join(copy, 'roles', 'nomad', 'defaults', 'main.yml');
    const original = readFileSync(defaultsFile, 'utf8');
    const changed = original.replace(/^nomad_heartbeat_grace: .*$/m, 'nomad_heartbeat_grace: 7s').replace(/^nomad_log_level: .*$/m, 'nomad_log_level: DEBUG');
    expect(changed).not.toBe(original);
    writeFileSync(defaultsFile, changed);

    const up = await labCli(['up', '--lab', name], { NOMAD_LAB_ANSIBLE_DIR: copy });
    expect(up.exitCode, up.stderr).toBe(0);
    const { plan } = readState(name)!;
    const self = (ip: string, host: string) => new NomadApi(`${ip}:4646`, labGuard(plan), host).agentSelf();
    const server = await self(plan.hosts[0]!.ip, 'server1');
    expect(server.config.Server?.['HeartbeatGrace']).toBe(7e9);
    expect(server.config.LogLevel).toBe('DEBUG');
    const client = await self(plan.hosts[1]!.ip, 'client1');
    expect(client.config.LogLevel).toBe('DEBUG');

    const down = await labCli(['down', '--lab', name]);
    expect(down.exitCode, `${down.stdout}\n${down.stderr}`).toBe(0);
    expect(await auditLeaks(name)).toEqual([]);
  }, 150_000);
});
