// Lab (root, real agents; runs in CI): a large lab. `lab up --clients 60` renders every agent's
// configuration in one Ansible pass (render-local.yml: one host in the recap), starts the agents
// concurrently, declares the lab up only with all 60 clients ready, and `lab down` leaves nothing.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditLeaks } from '../../harness/lab/audit.ts';
import type { LabStatus } from '../../harness/lab/netns-lab.ts';
import { readState } from '../../harness/lab/store.ts';
import { isRoot, labCli, ownsLab } from './support.ts';

const name = 's2-scale';
const CLIENTS = 60;

describe.skipIf(!isRoot)('a large netns lab', () => {
  ownsLab(name);

  it(`lab up --clients ${CLIENTS}: one render pass, every client ready, then a clean teardown`, async () => {
    const up = await labCli(['up', '--lab', name, '--clients', String(CLIENTS), '--json']);
    expect(up.exitCode, up.stderr).toBe(0);
    const status = JSON.parse(up.stdout) as LabStatus;
    const clients = status.hosts.filter((h) => h.role === 'client');
    expect(clients).toHaveLength(CLIENTS);
    expect(clients.filter((h) => h.status !== 'ready').map((h) => `${h.name}=${h.status}`)).toEqual([]);
    expect(status.hosts.every((h) => h.agent === 'running' && h.netnsOk)).toBe(true);

    // The phases are recorded, the render among them; the render ran once, on one host, for all.
    const phases = /up in [\d.]+s \(network ([\d.]+)s, ansible ([\d.]+)s, agents started ([\d.]+)s, clients ready ([\d.]+)s\)/.exec(up.stderr);
    expect(phases, up.stderr).not.toBeNull();
    expect(Number(phases![2])).toBeGreaterThan(0);
    const state = readState(name)!;
    expect(state.agents.map((a) => a.host)).toEqual(state.plan.hosts.map((h) => h.name));
    const log = readFileSync(join(state.dir, 'ansible', 'ansible.log'), 'utf8');
    expect(log).toMatch(/render-local\.yml/);
    expect(log.match(/^\S+ +: ok=\d+ +changed=\d+ /gm)).toEqual([expect.stringMatching(/^server1 /)]);
    for (const h of ['server1', 'client1', `client${CLIENTS}`]) {
      expect(readFileSync(join(state.dir, 'hosts', h, 'config', 'base.hcl'), 'utf8')).toContain(`name       = "${h}"`);
    }

    const down = await labCli(['down', '--lab', name]);
    expect(down.exitCode, `${down.stdout}\n${down.stderr}`).toBe(0);
    expect(await auditLeaks(name)).toEqual([]);
  }, 170_000);
});
