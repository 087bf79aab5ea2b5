// Static: the inventory Vagrant's `ansible` provisioner writes for this Vagrantfile, made without VMs by Vagrant's own
// provisioner code (the installed gem, through test/static/vagrant-inventory.rb) from the Vagrantfile's settings (read
// by test/static/vagrantfile-probe.rb), is the unit tests' fixture byte for byte; and the vagrant provider reads from it
// the lab the topology describes: NOMAD_LAB_VM_* -> Vagrantfile -> Vagrant's inventory -> the harness's plan.
// Not covered: machines' SSH settings as a real provider reports them (given here as VirtualBox reports them).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { repoRoot } from '../../harness/config/paths.ts';
import { run } from '../../harness/exec/local.ts';
import { vagrantInventoryFile, vagrantPlan } from '../../harness/lab/vagrant.ts';
import { ansibleProvisioner, cleanVmEnv, has, probeVagrantfile, rubyTopology, scratchDir } from './support.ts';

const scratch = scratchDir('vagrant-inventory');
const fixtures = join(repoRoot, 'test', 'fixtures', 'vagrant');

type Machine = { name: string; host: string; port: number; username: string; private_key: string } | { name: string; missing: true };

let runs = 0;
/** Vagrant's generate_inventory for the Vagrantfile under `env`, the given machines, into `localDataPath`; the file it wrote. */
async function vagrantWrites(env: Record<string, string>, machines: Machine[], localDataPath: string): Promise<string> {
  const probe = await probeVagrantfile(env);
  expect(probe.exitCode, probe.stderr).toBe(0);
  const input = join(scratch, `input-${++runs}.json`);
  writeFileSync(input, JSON.stringify({ local_data_path: localDataPath, settings: ansibleProvisioner(probe.recorded!).settings, machines }));
  const r = await run(['ruby', join(repoRoot, 'test', 'static', 'vagrant-inventory.rb'), input], { check: false, cwd: scratch, env: cleanVmEnv() });
  expect(r.exitCode, r.stderr).toBe(0);
  return r.stdout.trim();
}

/** A VirtualBox VM's ssh_info: a forwarded port on 127.0.0.1, user vagrant, the key Vagrant made in its machine directory. */
const vbox = (root: string, name: string, port: number): Machine => ({
  name,
  host: '127.0.0.1',
  port,
  username: 'vagrant',
  private_key: join(root, '.vagrant', 'machines', name, 'virtualbox', 'private_key'),
});

describe.skipIf(!(await has('vagrant')) || !(await has('ruby')) || !(await has('ansible')))('the inventory Vagrant writes for the Vagrantfile', () => {
  it("is the unit tests' fixture, byte for byte (all VMs up; and client2 without SSH settings)", async () => {
    const env = { NOMAD_LAB_VM_CLIENT_DATACENTERS: 'dc1,edge' };
    const root = '/home/user/nomad-lab';
    const machines = [vbox(root, 'client1', 2200), vbox(root, 'client2', 2201), vbox(root, 'server1', 2222)];
    const all = await vagrantWrites(env, machines, join(scratch, 'fixture', '.vagrant'));
    expect(all).toBe(join(scratch, 'fixture', '.vagrant', 'provisioners', 'ansible', 'inventory', 'vagrant_ansible_inventory'));
    expect(readFileSync(all, 'utf8')).toBe(readFileSync(join(fixtures, 'vagrant_ansible_inventory'), 'utf8'));
    const missing = await vagrantWrites(env, [machines[0]!, { name: 'client2', missing: true }, machines[2]!], join(scratch, 'fixture-missing', '.vagrant'));
    expect(readFileSync(missing, 'utf8')).toBe(readFileSync(join(fixtures, 'vagrant_ansible_inventory.client2-missing'), 'utf8'));
  });

  it('gives the vagrant provider the lab the topology describes: 3 servers, 4 clients in their datacenters, another subnet', async () => {
    const env = {
      NOMAD_LAB_VM_SERVERS: '3',
      NOMAD_LAB_VM_CLIENTS: '4',
      NOMAD_LAB_VM_CLIENT_DATACENTERS: 'dc1,dc2,dc2',
      NOMAD_LAB_VM_DATACENTER: 'core',
      NOMAD_LAB_VM_SUBNET: '192.168.57.0/24',
    };
    const topology = await rubyTopology(env);
    const dir = join(scratch, 'checkout');
    // Vagrant lists the machines in the order it finds their directories, not the Vagrantfile's.
    const machines = [...topology.hosts].reverse().map((h, i) => vbox(dir, h.name, 2200 + i));
    for (const m of machines) {
      if ('private_key' in m) {
        mkdirSync(dirname(m.private_key), { recursive: true });
        writeFileSync(m.private_key, 'key\n', { mode: 0o600 });
      }
    }
    const file = await vagrantWrites(env, machines, join(dir, '.vagrant'));
    vi.stubEnv('VAGRANT_DOTFILE_PATH', '');
    try {
      expect(vagrantInventoryFile(dir)).toBe(file);
      const plan = await vagrantPlan(dir, 'vagrant');
      expect(plan.provider).toBe('vagrant');
      expect(plan.hosts.map((h) => ({ name: h.name, role: h.role, index: h.index, ip: h.ip, datacenter: h.datacenter }))).toEqual(topology.hosts);
      expect(plan.hosts.map((h) => `${h.name} ${h.ip} ${h.datacenter}`)).toEqual([
        'server1 192.168.57.11 core',
        'server2 192.168.57.12 core',
        'server3 192.168.57.13 core',
        'client1 192.168.57.21 dc1',
        'client2 192.168.57.22 dc2',
        'client3 192.168.57.23 dc2',
        'client4 192.168.57.24 core',
      ]);
      for (const h of plan.hosts) {
        const m = machines.find((x) => x.name === h.name) as Extract<Machine, { port: number }>;
        expect(h.ssh).toMatchObject({ address: '127.0.0.1', port: m.port, user: 'vagrant', identityFile: m.private_key });
        expect(h.manager).toBe('systemd');
      }
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
