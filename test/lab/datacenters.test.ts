// Lab (root, real agents): a lab of three servers and three clients in two datacenters, the shape of
// the edge tutorial (servers and one client on-prem in dc1, two clients at the edge in dc2). Nomad
// itself must report each client in its planned datacenter, and the three servers must elect one
// leader; `lab status` shows the datacenter column.
import { describe, expect, it } from 'vitest';
import { auditLeaks } from '../../harness/lab/audit.ts';
import type { LabStatus } from '../../harness/lab/netns-lab.ts';
import { isRoot, labCli, ownsLab } from './support.ts';

const name = 't-dc';

describe.skipIf(!isRoot)('a lab in two datacenters', () => {
  ownsLab(name);

  it('3 servers + clients in dc1, dc2, dc2: Nomad reports the planned datacenters, one leader, then a clean teardown', async () => {
    const up = await labCli(['up', '--lab', name, '--servers', '3', '--clients', '3', '--client-datacenters', 'dc1,dc2,dc2', '--json']);
    expect(up.exitCode, up.stderr).toBe(0);
    const status = JSON.parse(up.stdout) as LabStatus;
    const clients = status.hosts.filter((h) => h.role === 'client');
    expect(clients.map((h) => [h.name, h.status, h.nodeDatacenter])).toEqual([
      ['client1', 'ready', 'dc1'],
      ['client2', 'ready', 'dc2'],
      ['client3', 'ready', 'dc2'],
    ]);
    const servers = status.hosts.filter((h) => h.role === 'server');
    expect(servers.map((h) => h.datacenter)).toEqual(['dc1', 'dc1', 'dc1']);
    expect(servers.filter((h) => h.leader)).toHaveLength(1);
    expect(servers.filter((h) => !h.leader).map((h) => h.status)).toEqual(['follower', 'follower']);

    const text = await labCli(['status', '--lab', name]);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toMatch(/^HOST\s+ROLE\s+DC\s+ADDRESS/m);
    expect(text.stdout).toMatch(/^client3\s+client\s+dc2\s+/m);
    expect(text.stdout).not.toContain('Nomad says');

    const down = await labCli(['down', '--lab', name]);
    expect(down.exitCode, `${down.stdout}\n${down.stderr}`).toBe(0);
    expect(await auditLeaks(name)).toEqual([]);
  }, 170_000);
});
