// Unit: the vagrant provider takes the VMs from the inventory Vagrant's `ansible` provisioner writes on `vagrant up`.
// The fixture is that file exactly as Vagrant 2.x writes it (Vagrant 2.3.4 plugins/provisioners/ansible/provisioner/
// base.rb generate_inventory, get_inventory_host_vars_string, generate_inventory_groups; host.rb
// generate_inventory_machines, get_inventory_ssh_machine; compatibility mode 2.0) for this repository's Vagrantfile with
// NOMAD_LAB_VM_CLIENT_DATACENTERS=dc1,edge, in /home/user/nomad-lab (test/fixtures/vagrant/README.md);
// test/static/vagrant-inventory.test.ts writes it again with the installed Vagrant's code and checks it is unchanged.
// Each test puts it where Vagrant would have written it for a checkout in a scratch directory.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { repoRoot } from '../../harness/config/paths.ts';
import { missingMachines, vagrantInventoryFile, vagrantKnownHosts, vagrantPlan } from '../../harness/lab/vagrant.ts';
import { UsageError } from '../../harness/util/errors.ts';

const fixtures = join(repoRoot, 'test', 'fixtures', 'vagrant');
const scratch = mkdtempSync(join(tmpdir(), 'nomad-lab-vagrant-inv-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
// A developer's own VAGRANT_DOTFILE_PATH would move the file the provider looks for.
beforeEach(() => {
  vi.stubEnv('VAGRANT_DOTFILE_PATH', '');
  return () => vi.unstubAllEnvs();
});

let checkouts = 0;
/** A checkout in which `vagrant up` wrote `fixture`; with the VMs' keys unless they were destroyed since. */
function checkout(fixture: string, options: { keys?: boolean } = {}): { dir: string; file: string } {
  const dir = join(scratch, `checkout-${++checkouts}`);
  const text = readFileSync(join(fixtures, fixture), 'utf8').replaceAll('/home/user/nomad-lab', dir);
  const file = join(dir, '.vagrant', 'provisioners', 'ansible', 'inventory', 'vagrant_ansible_inventory');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  if (options.keys !== false) {
    for (const m of text.matchAll(/ansible_ssh_private_key_file='([^']+)'/g)) {
      mkdirSync(dirname(m[1]!), { recursive: true });
      writeFileSync(m[1]!, 'key\n', { mode: 0o600 });
    }
  }
  return { dir, file };
}

async function rejection(p: Promise<unknown>): Promise<UsageError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(UsageError);
  return e as UsageError;
}

describe('vagrantPlan', () => {
  it('reads hosts, roles, host-only addresses, datacenters and SSH settings from the inventory Vagrant wrote', async () => {
    const { dir, file } = checkout('vagrant_ansible_inventory');
    const plan = await vagrantPlan(dir, 'vagrant');
    expect(plan).toMatchObject({ provider: 'vagrant', name: 'vagrant', source: file });
    // Servers first, in group order, whatever order Vagrant listed the machines in.
    expect(plan.hosts.map((h) => [h.name, h.role, h.index, h.ip, h.datacenter])).toEqual([
      ['server1', 'server', 1, '192.168.56.11', 'dc1'],
      ['client1', 'client', 1, '192.168.56.21', 'dc1'],
      ['client2', 'client', 2, '192.168.56.22', 'edge'],
    ]);
    // SSH through Vagrant's forwarded ports as user vagrant with each VM's own key; host keys pinned on first use in the
    // harness's own file (the VMs are the harness's Vagrantfile's).
    expect(plan.hosts.map((h) => h.ssh)).toEqual(
      [
        ['server1', 2222],
        ['client1', 2200],
        ['client2', 2201],
      ].map(([name, port]) => ({
        name,
        address: '127.0.0.1',
        port,
        user: 'vagrant',
        identityFile: join(dir, '.vagrant', 'machines', name as string, 'virtualbox', 'private_key'),
        knownHosts: vagrantKnownHosts(),
        pinOnFirstUse: true,
      })),
    );
    // What the role installs under systemd on every VM (all:vars nomad_service_manager=systemd and the role's defaults).
    for (const h of plan.hosts) {
      expect(h).toMatchObject({
        manager: 'systemd',
        service: 'nomad',
        binary: '/usr/local/bin/nomad',
        dataDir: '/opt/nomad/data',
        configDir: '/etc/nomad.d',
        pidFile: '/opt/nomad/agent.pid',
        logFile: '/opt/nomad/agent.log',
      });
    }
  });

  it('without the inventory (no `vagrant up` yet): a usage error naming the file and saying to run vagrant up', async () => {
    const dir = join(scratch, 'never-up');
    mkdirSync(dir);
    const e = await rejection(vagrantPlan(dir, 'vagrant'));
    expect(e.message).toBe(`no inventory from Vagrant's Ansible provisioner: ${vagrantInventoryFile(dir)} does not exist`);
    expect(e.hint).toMatch(/run `vagrant up` in .*never-up first: it creates the VMs and provisions them/);
  });

  it('a VM Vagrant had no SSH settings for (its `# MISSING:` line): a usage error naming it', async () => {
    const { dir } = checkout('vagrant_ansible_inventory.client2-missing');
    expect(missingMachines(readFileSync(vagrantInventoryFile(dir), 'utf8'))).toEqual(['client2']);
    const e = await rejection(vagrantPlan(dir, 'vagrant'));
    expect(e.message).toMatch(/has no SSH settings for client2: Vagrant found no VM for it when it wrote the inventory$/);
    expect(e.hint).toContain('vagrant up');
  });

  it("an inventory left behind by `vagrant destroy` (the VMs' keys are gone): a usage error, not an SSH timeout", async () => {
    const { dir, file } = checkout('vagrant_ansible_inventory', { keys: false });
    const e = await rejection(vagrantPlan(dir, 'vagrant'));
    expect(e.message).toContain(
      `${file} is out of date: the SSH key of server1 (${join(dir, '.vagrant', 'machines', 'server1', 'virtualbox', 'private_key')})`,
    );
    expect(e.hint).toContain('vagrant up');
  });
});

describe('vagrantInventoryFile', () => {
  it("is below Vagrant's local data directory: .vagrant, or VAGRANT_DOTFILE_PATH (relative to the Vagrantfile's directory)", () => {
    const tail = join('provisioners', 'ansible', 'inventory', 'vagrant_ansible_inventory');
    expect(vagrantInventoryFile('/lab', {})).toBe(join('/lab', '.vagrant', tail));
    expect(vagrantInventoryFile('/lab', { VAGRANT_DOTFILE_PATH: '' })).toBe(join('/lab', '.vagrant', tail));
    expect(vagrantInventoryFile('/lab', { VAGRANT_DOTFILE_PATH: 'state/dot' })).toBe(join('/lab', 'state', 'dot', tail));
    expect(vagrantInventoryFile('/lab', { VAGRANT_DOTFILE_PATH: '/var/tmp/vagrant' })).toBe(join('/var/tmp/vagrant', tail));
  });
});
