// Static: the Vagrantfile passes `vagrant validate --ignore-provider` and a broken copy does not; its VirtualBox block passes
// Vagrant's own VirtualBox config class; and, read through a stand-in for Vagrant, what it configures: one VM per host, one
// Ansible run in the last, paths and groups that exist; the settings come from NOMAD_LAB_VM_* and an old name is refused.
//
// What runs without a provider (a test machine has no VirtualBox, no libvirt, no vagrant-libvirt plugin):
//   - `vagrant validate --ignore-provider`: every machine's vm.* settings and the Ansible and shell provisioners' settings
//     (a misspelt one is rejected), with the defaults and with 3 servers, 4 clients and libvirt first. A plain
//     `vagrant validate` refuses to run at all there ("No usable default provider could be found").
//   - the `virtualbox` block: Vagrant's VirtualBox config class (shipped inside Vagrant) with the block applied; a
//     misspelt setting is rejected, memory and cpus become the modifyvm arguments VirtualBox would get.
//   - the `libvirt` block: only its values, through the stand-in below. Its setting names are not checked: the config
//     class lives in the vagrant-libvirt plugin, which is not installed here.
// Not covered: that a provider accepts the box, boots the VMs and the provisioning run succeeds (needs VirtualBox).
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../harness/config/paths.ts';
import { loadUserFile } from '../../harness/config/user-files.ts';
import { run } from '../../harness/exec/local.ts';
import { ansibleDir, ansibleProvisioner, callsOf, cleanVmEnv, has, probeVagrantfile, rubyTopology, scratchDir, vmOf, type Recorded } from './support.ts';

const scratch = scratchDir('vagrant');
const vagrantfile = join(repoRoot, 'Vagrantfile');

/** `vagrant validate --ignore-provider` with its home, machine index and dotfiles in the scratch directory (nothing in ~/.vagrant.d or the checkout). */
async function validate(cwd: string, env: Record<string, string> = {}) {
  const home = join(scratch, `home-${Math.random().toString(36).slice(2)}`);
  mkdirSync(home, { recursive: true });
  const r = await run(['vagrant', 'validate', '--ignore-provider'], {
    check: false,
    cwd,
    timeoutMs: 120_000,
    env: cleanVmEnv({
      VAGRANT_HOME: home,
      VAGRANT_DOTFILE_PATH: join(home, 'dot'),
      VAGRANT_CWD: cwd,
      VAGRANT_CHECKPOINT_DISABLE: '1',
      VAGRANT_NO_COLOR: '1',
      ...env,
    }),
  });
  return { ...r, output: `${r.stdout}\n${r.stderr}`, home };
}

/** The Vagrantfile loaded by test/static/vagrantfile-probe.rb: every setting and call it makes, as data. */
async function probe(env: Record<string, string> = {}): Promise<Recorded> {
  const r = await probeVagrantfile(env, vagrantfile);
  expect(r.exitCode, r.stderr).toBe(0);
  return r.recorded!;
}

describe.skipIf(!(await has('vagrant')))('vagrant validate', () => {
  it('accepts the Vagrantfile with the committed topology, and with 3 servers, 4 clients and libvirt first', async () => {
    const started = Date.now();
    const r = await validate(repoRoot);
    expect(r.exitCode, r.output).toBe(0);
    expect(r.output).toContain('Vagrantfile validated successfully');
    const other = await validate(repoRoot, { NOMAD_LAB_VM_SERVERS: '3', NOMAD_LAB_VM_CLIENTS: '4', NOMAD_LAB_VM_PROVIDER: 'libvirt' });
    expect(other.exitCode, other.output).toBe(0);
    // Vagrant's machine data went to the scratch directory, not into the checkout.
    expect(existsSync(join(r.home, 'dot'))).toBe(true);
    // About 1-2 s each on a 2-core machine; the timeout stays generous for a loaded CI machine.
    expect(Date.now() - started).toBeLessThan(100_000);
  }, 150_000);

  it('rejects a copy with a misspelt provisioner setting', async () => {
    const dir = join(scratch, 'broken');
    mkdirSync(dir);
    cpSync(join(repoRoot, 'vagrant'), join(dir, 'vagrant'), { recursive: true });
    const text = readFileSync(vagrantfile, 'utf8');
    expect(text).toContain('ansible.playbook =');
    writeFileSync(join(dir, 'Vagrantfile'), text.replace('ansible.playbook =', 'ansible.playbok ='));
    const r = await validate(dir);
    expect(r.exitCode).not.toBe(0);
    expect(r.output).toMatch(/The following settings shouldn't exist: playbok/);
  }, 120_000);

  it("passes the virtualbox block through Vagrant's VirtualBox config class, and rejects a misspelt setting there", async () => {
    const providerConfig = async (file: string, env: Record<string, string> = {}) => {
      const r = await run(['ruby', join(repoRoot, 'test', 'static', 'vagrant-provider-config.rb'), file], {
        check: false,
        cwd: dirname(file),
        env: cleanVmEnv(env),
      });
      expect(r.exitCode, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { virtualbox: { errors: string[]; customize: string[][]; linked_clone: boolean } }).virtualbox;
    };
    const good = await providerConfig(vagrantfile, { NOMAD_LAB_VM_MEMORY: '2048', NOMAD_LAB_VM_CPUS: '2' });
    expect(good.errors).toEqual([]);
    expect(good.customize).toEqual([
      ['modifyvm', 'id', '--memory', '2048'],
      ['modifyvm', 'id', '--cpus', '2'],
    ]);
    expect(good.linked_clone).toBe(true);
    const dir = join(scratch, 'broken-vb');
    mkdirSync(dir);
    cpSync(join(repoRoot, 'vagrant'), join(dir, 'vagrant'), { recursive: true });
    const text = readFileSync(vagrantfile, 'utf8');
    expect(text).toContain('vb.memory =');
    writeFileSync(join(dir, 'Vagrantfile'), text.replace('vb.memory =', 'vb.memroy ='));
    expect((await providerConfig(join(dir, 'Vagrantfile'))).errors).toEqual(["The following settings shouldn't exist: memroy"]);
  }, 120_000);

  it('stops on a bad override, an old variable name or a missing own build with the cause and the fix, no Ruby backtrace', async () => {
    const bad = await validate(repoRoot, { NOMAD_LAB_VM_CLIENTS: 'many' });
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toContain('nomad-lab: clients must be a whole number from 1 to 200, got "many" (from NOMAD_LAB_VM_CLIENTS)');
    expect(bad.stderr).toContain('fix: ');
    expect(bad.output).not.toMatch(/\.rb:\d+:in /);
    const old = await validate(repoRoot, { NOMAD_LAB_CLIENTS: '3' });
    expect(old.exitCode).not.toBe(0);
    expect(old.stderr).toContain("nomad-lab: the VM lab's environment variables were renamed: NOMAD_LAB_CLIENTS is now NOMAD_LAB_VM_CLIENTS");
    expect(old.stderr).toContain('fix: unset NOMAD_LAB_CLIENTS and set NOMAD_LAB_VM_CLIENTS=3');
    expect(old.output).not.toMatch(/\.rb:\d+:in /);
    const missing = await validate(repoRoot, { NOMAD_BINARY: join(scratch, 'no-such-nomad') });
    expect(missing.exitCode).not.toBe(0);
    expect(missing.stderr).toContain(`nomad-lab: nomadBinary ${join(scratch, 'no-such-nomad')} is not an executable file`);
  }, 120_000);
});

describe.skipIf(!(await has('ruby')))('what the Vagrantfile configures', () => {
  it('a VM per host of the topology, with its name, hostname and host-only address; box, memory and cpus from the topology', async () => {
    const env = {
      NOMAD_LAB_VM_SERVERS: '3',
      NOMAD_LAB_VM_CLIENTS: '4',
      NOMAD_LAB_VM_MEMORY: '2048',
      NOMAD_LAB_VM_CPUS: '2',
      NOMAD_LAB_VM_BOX: 'example/debian12',
    };
    const topology = await rubyTopology(env);
    expect(topology.hosts.map((h) => `${h.name} ${h.ip}`)).toEqual([
      'server1 192.168.56.11',
      'server2 192.168.56.12',
      'server3 192.168.56.13',
      'client1 192.168.56.21',
      'client2 192.168.56.22',
      'client3 192.168.56.23',
      'client4 192.168.56.24',
    ]);
    const config = await probe(env);
    expect(vmOf(config).settings['box']).toBe('example/debian12');
    const machines = callsOf(config, 'define');
    expect(machines.map((m) => m.args[0])).toEqual(topology.hosts.map((h) => h.name));
    for (const [i, m] of machines.entries()) {
      const host = topology.hosts[i]!;
      expect(vmOf(m.block!).settings['hostname']).toBe(host.name);
      expect(callsOf(m.block!, 'network').map((c) => [c.args[0], c.options['ip']])).toEqual([['private_network', host.ip]]);
    }
    const providers = callsOf(config, 'provider');
    expect(providers.map((p) => p.args[0])).toEqual(['virtualbox', 'libvirt']);
    for (const p of providers) expect(p.block!.settings).toMatchObject({ memory: 2048, cpus: 2 });
    // The topology's provider comes first: without --provider, Vagrant takes the first usable one.
    const libvirt = await probe({ NOMAD_LAB_VM_PROVIDER: 'libvirt' });
    expect(callsOf(libvirt, 'provider').map((p) => p.args[0])).toEqual(['libvirt', 'virtualbox']);
  });

  it('one Ansible run, in the last VM, over all VMs: site.yml; groups and host vars (into the inventory) and extra vars from the topology', async () => {
    const build = join(scratch, 'own-build', 'nomad');
    mkdirSync(join(scratch, 'own-build'));
    writeFileSync(build, '#!/bin/sh\n', { mode: 0o755 });
    const env = { NOMAD_LAB_VM_CLIENTS: '3', NOMAD_LAB_VM_CLIENT_DATACENTERS: 'dc1,edge', NOMAD_LAB_VM_DOCKER: 'yes', NOMAD_BINARY: build };
    const topology = (await rubyTopology(env)) as unknown as { ansible: { groups: unknown; hostVars: unknown; extraVars: unknown } };
    const { machine, settings } = ansibleProvisioner(await probe(env));
    expect(machine).toBe('client3');
    // compatibility_mode 2.0: the inventory names ansible_host / ansible_port / ansible_user, which the harness reads.
    expect(settings).toMatchObject({ playbook: 'ansible/site.yml', config_file: 'ansible/ansible.cfg', compatibility_mode: '2.0', limit: 'all', become: true });
    expect(settings['groups']).toEqual(topology.ansible.groups);
    expect(settings['host_vars']).toEqual(topology.ansible.hostVars);
    expect(settings['extra_vars']).toEqual(topology.ansible.extraVars);
    // What the harness reads from the inventory Vagrant writes: groups, the service manager, per-VM address and datacenter.
    expect(settings['groups']).toEqual({ servers: ['server1'], clients: ['client1', 'client2', 'client3'], 'all:vars': { nomad_service_manager: 'systemd' } });
    expect(settings['extra_vars']).toMatchObject({
      nomad_service_manager: 'systemd',
      nomad_binary_src: build,
      nomad_docker_enabled: true,
      nomad_server_addrs: ['192.168.56.11'],
    });
    // Addresses from the topology, never from facts (the NAT interface is the demo's known bug).
    expect(settings['host_vars']).toEqual({
      server1: { nomad_bind_addr: '192.168.56.11', nomad_datacenter: 'dc1' },
      client1: { nomad_bind_addr: '192.168.56.21', nomad_datacenter: 'dc1' },
      client2: { nomad_bind_addr: '192.168.56.22', nomad_datacenter: 'edge' },
      client3: { nomad_bind_addr: '192.168.56.23', nomad_datacenter: 'dc1' },
    });
  });

  it('refuses each old variable name (no VM_) with the new one, and the old names no longer change anything once blank', async () => {
    const renamed: Record<string, string> = {
      NOMAD_LAB_SUBNET: 'NOMAD_LAB_VM_SUBNET',
      NOMAD_LAB_SERVERS: 'NOMAD_LAB_VM_SERVERS',
      NOMAD_LAB_CLIENTS: 'NOMAD_LAB_VM_CLIENTS',
      NOMAD_LAB_DATACENTER: 'NOMAD_LAB_VM_DATACENTER',
      NOMAD_LAB_CLIENT_DATACENTERS: 'NOMAD_LAB_VM_CLIENT_DATACENTERS',
      NOMAD_LAB_BOX: 'NOMAD_LAB_VM_BOX',
      NOMAD_LAB_MEMORY: 'NOMAD_LAB_VM_MEMORY',
      NOMAD_LAB_CPUS: 'NOMAD_LAB_VM_CPUS',
      NOMAD_LAB_PROVIDER: 'NOMAD_LAB_VM_PROVIDER',
      NOMAD_LAB_DOCKER: 'NOMAD_LAB_VM_DOCKER',
      NOMAD_LAB_TOPOLOGY: 'NOMAD_LAB_VM_TOPOLOGY',
    };
    for (const [old, name] of Object.entries(renamed)) {
      const r = await probeVagrantfile({ [old]: 'x' }, vagrantfile);
      expect(r.exitCode, old).not.toBe(0);
      expect(r.stderr.split('\n').slice(0, 2)).toEqual([
        `nomad-lab: the VM lab's environment variables were renamed: ${old} is now ${name}`,
        `  fix: unset ${old} and set ${name}=x`,
      ]);
      expect(r.stderr, old).not.toMatch(/\.rb:\d+:in /);
    }
    // Several at once: all named in one message.
    const two = await probeVagrantfile({ NOMAD_LAB_SERVERS: '3', NOMAD_LAB_PROVIDER: 'libvirt' }, vagrantfile);
    expect(two.stderr).toContain('NOMAD_LAB_SERVERS is now NOMAD_LAB_VM_SERVERS, NOMAD_LAB_PROVIDER is now NOMAD_LAB_VM_PROVIDER');
    expect(two.stderr).toContain('fix: unset NOMAD_LAB_SERVERS NOMAD_LAB_PROVIDER and set NOMAD_LAB_VM_SERVERS=3 NOMAD_LAB_VM_PROVIDER=libvirt');
    // Set but empty counts as not set, as for every variable of the topology; the Nomad build's names are unchanged.
    expect((await probeVagrantfile({ NOMAD_LAB_SERVERS: '', NOMAD_LAB_NOMAD_VERSION: '1.5.17' }, vagrantfile)).exitCode).toBe(0);
  });

  it('every path it names exists, and every group the playbooks target is one it defines (vagrant validate checks neither)', async () => {
    const config = await probe();
    const { settings } = ansibleProvisioner(config);
    for (const key of ['playbook', 'config_file']) {
      expect(existsSync(join(repoRoot, settings[key] as string)), `${key}: ${String(settings[key])}`).toBe(true);
    }
    const defined = Object.keys(settings['groups'] as object).filter((g) => !g.includes(':'));
    expect(defined.sort()).toEqual(['clients', 'servers']);
    const targeted = new Set<string>();
    const playbooks = [
      join(ansibleDir, 'site.yml'),
      ...['kill-servers', 'kill-clients', 'kill-all', 'start-all'].map((p) => join(ansibleDir, 'scenarios', `${p}.yml`)),
    ];
    for (const file of playbooks) {
      const plays = loadUserFile<Array<{ hosts: string }>>(file, {
        type: 'array',
        items: { type: 'object', properties: { hosts: { type: 'string' } }, required: ['hosts'] },
      });
      // A play targets the groups of a pattern (servers:clients), or those of a Jinja list that the
      // inventory has (servers or nomad_servers, ...): every name it could target counts.
      for (const play of plays) {
        const names = play.hosts.includes('{{')
          ? [...(/\[([^\]]*)\]/.exec(play.hosts)?.[1] ?? '').matchAll(/'([A-Za-z0-9_]+)'/g)].map((m) => m[1]!)
          : play.hosts.split(':');
        for (const g of names) targeted.add(g);
      }
    }
    // The Vagrantfile's groups are the ones the playbooks target; the nomad_* names are the aliases a site inventory may use.
    expect([...targeted].filter((g) => !g.startsWith('nomad_')).sort()).toEqual(['clients', 'servers']);
    expect([...targeted].filter((g) => g.startsWith('nomad_')).sort()).toEqual(['nomad_clients', 'nomad_servers']);
    // The role reads the groups by these names too.
    expect(readFileSync(join(ansibleDir, 'roles', 'nomad', 'vars', 'main.yml'), 'utf8')).toContain("groups.get('servers', [])");
    // Shared folders are off: Ansible runs on this machine, and rsyncing the checkout (node_modules) would be slow.
    expect(callsOf(config, 'synced_folder')).toEqual([{ call: 'synced_folder', args: ['.', '/vagrant'], options: { disabled: true }, block: null }]);
  });
});
