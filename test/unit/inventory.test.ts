// Unit: the inventory the harness hands to the Ansible role: addresses from the plan, never facts.
import { describe, expect, it } from 'vitest';
import { netnsInventory } from '../../harness/lab/ansible.ts';
import { planLab } from '../../harness/lab/topology.ts';

describe('netnsInventory', () => {
  it('groups hosts into servers and clients with their lab addresses, directories and interface', () => {
    const plan = planLab({ name: 'inv', servers: 3, clients: 2, datacenter: 'dc1', subnet: '198.18.9.0/24' });
    const inv = netnsInventory(plan, '/var/lib/nomad-lab/labs/inv', '1.6.0') as {
      all: { vars: Record<string, unknown>; children: Record<string, { hosts: Record<string, Record<string, string>> }> };
    };
    expect(inv.all.vars['nomad_server_addrs']).toEqual(['198.18.9.11', '198.18.9.12', '198.18.9.13']);
    expect(inv.all.vars['nomad_version']).toBe('1.6.0');
    expect(Object.keys(inv.all.children['servers']!.hosts)).toEqual(['server1', 'server2', 'server3']);
    expect(inv.all.children['clients']!.hosts['client2']).toMatchObject({
      nomad_bind_addr: '198.18.9.22',
      nomad_network_interface: 'eth0',
      nomad_data_dir: '/var/lib/nomad-lab/labs/inv/hosts/client2/data',
      nomad_config_dir: '/var/lib/nomad-lab/labs/inv/hosts/client2/config',
    });
  });
});
