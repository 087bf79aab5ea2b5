// Unit: pure lab planning (names, addresses). Runs in CI and locally, no root needed.
import { describe, expect, it } from 'vitest';
import { cidrContains, cidrOverlaps, defaultSubnet, IFNAME_MAX, LAB_RANGE, labId, labIdOfName, planLab } from '../../harness/lab/topology.ts';
import { UsageError } from '../../harness/util/errors.ts';

const spec = { name: 'default', servers: 1, clients: 2, datacenter: 'dc1' };

describe('planLab', () => {
  it('names every resource with the lab id and keeps interface names within 15 characters', () => {
    const plan = planLab({ ...spec, servers: 9, clients: 200 });
    const names = [plan.bridge, ...plan.hosts.map((h) => h.vethHost)];
    for (const n of names) {
      expect(n.length).toBeLessThanOrEqual(IFNAME_MAX);
      expect(n.startsWith(`${plan.id}-`)).toBe(true);
      expect(labIdOfName(n)).toBe(plan.id);
    }
    expect(new Set(names).size).toBe(names.length);
    expect(new Set(plan.hosts.map((h) => h.netns)).size).toBe(plan.hosts.length);
  });

  it('puts the servers at .11 and the clients at .21 upward, all inside the subnet and the lab range', () => {
    const plan = planLab({ ...spec, subnet: '198.18.42.0/24' });
    expect(plan.hosts.map((h) => [h.name, h.role, h.ip])).toEqual([
      ['server1', 'server', '198.18.42.11'],
      ['client1', 'client', '198.18.42.21'],
      ['client2', 'client', '198.18.42.22'],
    ]);
    expect(plan.bridgeIp).toBe('198.18.42.1');
    for (const h of plan.hosts) expect(cidrContains(LAB_RANGE, h.ip)).toBe(true);
  });

  it('derives a stable subnet inside 198.18.0.0/15 from the name, different for different names', () => {
    expect(defaultSubnet('default')).toBe(defaultSubnet('default'));
    const subnets = new Set(['a', 'b', 'c', 'd', 'e', 'f'].map(defaultSubnet));
    expect(subnets.size).toBeGreaterThan(1);
    for (const s of subnets) expect(cidrOverlaps(s, LAB_RANGE)).toBe(true);
    expect(labId('default')).toMatch(/^nl[0-9a-f]{5}$/);
    expect(labId('default')).not.toBe(labId('other'));
  });

  it('rejects subnets outside the lab range, bad names and impossible counts with a usage error', () => {
    expect(() => planLab({ ...spec, subnet: '192.168.56.0/24' })).toThrow(UsageError);
    expect(() => planLab({ ...spec, subnet: '198.18.1.0/16' })).toThrow(/not a \/24/);
    expect(() => planLab({ ...spec, name: 'Bad Name' })).toThrow(/invalid lab name/);
    expect(() => planLab({ ...spec, clients: 0 })).toThrow(/clients must be/);
    expect(() => planLab({ ...spec, servers: 10 })).toThrow(/servers must be/);
  });

  it('puts clients in the datacenters given in order; servers and unlisted clients stay in the default', () => {
    const plan = planLab({ ...spec, servers: 3, clients: 4, clientDatacenters: ['dc1', 'dc2', 'dc2'] });
    expect(plan.hosts.map((h) => `${h.name}:${h.datacenter}`)).toEqual([
      'server1:dc1',
      'server2:dc1',
      'server3:dc1',
      'client1:dc1',
      'client2:dc2',
      'client3:dc2',
      'client4:dc1',
    ]);
    expect(() => planLab({ ...spec, clientDatacenters: ['dc1', 'dc2', 'dc2'] })).toThrow(/3 client datacenters given for 2 client/);
    expect(() => planLab({ ...spec, clientDatacenters: ['dc 2'] })).toThrow(/invalid datacenter name "dc 2"/);
  });
});

describe('cidr helpers', () => {
  it('tell containment and overlap', () => {
    expect(cidrContains('198.18.0.0/15', '198.19.255.254')).toBe(true);
    expect(cidrContains('198.18.0.0/15', '198.20.0.1')).toBe(false);
    expect(cidrOverlaps('198.18.0.0/15', '198.19.7.0/24')).toBe(true);
    expect(cidrOverlaps('10.0.0.0/8', '198.19.7.0/24')).toBe(false);
    expect(cidrOverlaps('0.0.0.0/0', '198.19.7.0/24')).toBe(true);
  });
});
