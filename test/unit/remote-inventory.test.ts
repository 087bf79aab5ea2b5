// Unit: existing hosts from an Ansible inventory -> the SSH lab's plan (pure), on what the real
// `ansible-inventory --list` prints for an INI file with nested groups; and the sshd lab's inventory.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { groupHosts, planFromInventory, readInventory, type InventoryList } from '../../harness/lab/inventory.ts';
import { AUDIT_WRAPPER, sshdConfig, sshdInventory, hostSshd, sshdPaths } from '../../harness/lab/sshd.ts';
import { run } from '../../harness/exec/local.ts';
import { quoteArgv } from '../../harness/exec/ssh.ts';
import { planLab } from '../../harness/lab/topology.ts';
import { UsageError } from '../../harness/util/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'nomad-lab-inv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const defaults = { knownHosts: '/var/lib/nomad-lab/known_hosts', identityFile: '/root/.ssh/id_ed25519' };

describe('planFromInventory', () => {
  it('reads an INI inventory through ansible-inventory: groups (also nested), addresses, SSH and service settings', async () => {
    const file = join(dir, 'edge.ini');
    writeFileSync(
      file,
      [
        '[servers]',
        'nomad-a ansible_host=10.1.0.11 nomad_bind_addr=10.1.0.11',
        'nomad-b ansible_host=10.1.0.12 nomad_bind_addr=10.1.0.12 ansible_port=2202',
        '[edge_dc2]',
        'edge-1 ansible_host=edge-1.example nomad_bind_addr=10.2.0.21 nomad_datacenter=dc2',
        '[clients:children]',
        'edge_dc2',
        '[clients]',
        'core-1 nomad_bind_addr=10.1.0.21 nomad_service_manager=daemon nomad_data_dir=/srv/nomad/data nomad_bin_dir=/srv/bin',
        '[all:vars]',
        'ansible_user=ops',
        'ansible_ssh_private_key_file=/keys/lab',
      ].join('\n'),
    );
    const plan = planFromInventory(await readInventory(file), 'inv-edge', file, defaults);
    expect(plan.hosts.map((h) => [h.name, h.role, h.index, h.ip, h.datacenter])).toEqual([
      ['nomad-a', 'server', 1, '10.1.0.11', 'dc1'],
      ['nomad-b', 'server', 2, '10.1.0.12', 'dc1'],
      ['core-1', 'client', 1, '10.1.0.21', 'dc1'],
      ['edge-1', 'client', 2, '10.2.0.21', 'dc2'],
    ]);
    const b = plan.hosts[1]!;
    expect(b.ssh).toEqual({ name: 'nomad-b', address: '10.1.0.12', port: 2202, user: 'ops', identityFile: '/keys/lab', knownHosts: defaults.knownHosts });
    expect(b.manager).toBe('systemd');
    expect(b.binary).toBe('/usr/local/bin/nomad');
    const core = plan.hosts[2]!;
    // No ansible_host: SSH goes to the inventory name, as Ansible would.
    expect(core.ssh.address).toBe('core-1');
    expect(core).toMatchObject({
      manager: 'daemon',
      binary: '/srv/bin/nomad',
      dataDir: '/srv/nomad/data',
      pidFile: '/srv/nomad/agent.pid',
      logFile: '/srv/nomad/agent.log',
    });
  });

  const list = (hostvars: Record<string, Record<string, unknown>>, servers: string[], clients: string[]): InventoryList => ({
    _meta: { hostvars },
    all: { children: ['servers', 'clients'] },
    servers: { hosts: servers },
    clients: { hosts: clients },
  });

  it('refuses what would make a wrong lab, saying what to set', () => {
    const ok = { nomad_bind_addr: '10.0.0.1' };
    const err = (l: InventoryList) => {
      try {
        planFromInventory(l, 'x', 'inv.yml', defaults);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
      return 'accepted';
    };
    expect(err(list({ s: ok }, ['s'], []))).toMatch(/needs hosts in group "servers" and in group "clients" \(found 1 and 0\)/);
    expect(err(list({ s: ok, c: {} }, ['s'], ['c']))).toMatch(/inventory host c: set nomad_bind_addr/);
    expect(err(list({ s: ok, c: { nomad_bind_addr: '{{ ansible_default_ipv4.address }}' } }, ['s'], ['c']))).toMatch(/is a template/);
    expect(err(list({ s: ok, c: { nomad_bind_addr: '10.0.0.1' } }, ['s'], ['c']))).toMatch(/address 10\.0\.0\.1 is used by two hosts/);
    expect(err(list({ s: ok, c: { nomad_bind_addr: '10.0.0.2', nomad_service_manager: 'supervised' } }, ['s'], ['c']))).toMatch(
      /nomad_service_manager is supervised/,
    );
    expect(err(list({ s: ok }, ['s'], ['s']))).toMatch(/s in both servers and clients/);
    // ~ is the harness user's home, as for ssh and Ansible.
    const home = planFromInventory(
      list({ s: { ...ok, ansible_ssh_private_key_file: '~/.ssh/lab', nomad_lab_known_hosts: '~/kh' }, c: { nomad_bind_addr: '10.0.0.2' } }, ['s'], ['c']),
      'x',
      'inv.yml',
      defaults,
    );
    expect(home.hosts[0]!.ssh.identityFile).toBe(join(homedir(), '.ssh', 'lab'));
    expect(home.hosts[0]!.ssh.knownHosts).toBe(join(homedir(), 'kh'));
    expect(() => planFromInventory(list({ s: ok, c: { nomad_bind_addr: '10.0.0.2' } }, ['s'], ['c']), 'x', 'inv.yml', { knownHosts: '/k' })).toThrow(
      /no SSH key/,
    );
  });

  it('follows child groups once, even when they loop', () => {
    const l: InventoryList = { clients: { children: ['a', 'b'] }, a: { hosts: ['h1', 'h2'], children: ['clients'] }, b: { hosts: ['h2', 'h3'] } };
    expect(groupHosts(l, 'clients')).toEqual(['h1', 'h2', 'h3']);
  });

  it('an unreadable inventory is a clear error naming the file', async () => {
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, 'all: [unclosed\n');
    await expect(readInventory(join(dir, 'missing.yml'))).rejects.toThrow(/missing\.yml does not exist/);
    await expect(readInventory(bad)).rejects.toThrow(/ansible-inventory could not read .*bad\.yml: .*(Syntax Error|Unable to parse)/);
  });
});

describe('the sshd lab', () => {
  const plan = planLab({ name: 'sshd', servers: 1, clients: 2, datacenter: 'dc1', subnet: '198.18.77.0/24', sshd: true });
  const labDirectory = '/var/lib/nomad-lab/labs/sshd';

  it('each sshd listens on its namespace address only, with keys under the lab directory and commands logged', () => {
    const client = plan.hosts[1]!;
    const text = sshdConfig(client, hostSshd(labDirectory, client), sshdPaths(labDirectory));
    expect(text).toMatch(/^ListenAddress 198\.18\.77\.21:22$/m);
    expect(text).toMatch(/^PasswordAuthentication no$/m);
    expect(text).toMatch(new RegExp(`^AuthorizedKeysFile ${labDirectory}/ssh/authorized_keys$`, 'm'));
    expect(text).toMatch(new RegExp(`^ForceCommand ${labDirectory}/ssh/log-command ${labDirectory}/ssh/client1/sshd.log$`, 'm'));
    expect(text).not.toMatch(/\/root\/\.ssh|\/etc\/ssh/);
  });

  it('the forced command logs each command on one line, then runs it unchanged', async () => {
    const wrapper = join(dir, 'log-command');
    writeFileSync(wrapper, AUDIT_WRAPPER, { mode: 0o755 });
    const log = join(dir, 'sshd.log');
    const argv = ['printf', '%s|', 'two\nlines', "it's"];
    const r = await run(['sh', wrapper, log], { env: { ...process.env, SSH_ORIGINAL_COMMAND: quoteArgv(argv) } as Record<string, string> });
    expect(r.stdout).toBe("two\nlines|it's|");
    const lines = readFileSync(log, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z sshd-session\[\d+\] command: printf /);
    expect(lines[0]).toContain("two lines' ");
  });

  it('its inventory puts Nomad under each host directory, run by start-stop-daemon, host keys checked', async () => {
    const inv = sshdInventory(plan, labDirectory);
    const file = join(dir, 'sshd.json');
    writeFileSync(file, JSON.stringify(inv));
    const remote = planFromInventory(await readInventory(file), 'inv-sshd', file, defaults);
    expect(remote.hosts.map((h) => `${h.name}@${h.ssh.address}`)).toEqual(['server1@198.18.77.11', 'client1@198.18.77.21', 'client2@198.18.77.22']);
    expect(remote.hosts[2]).toMatchObject({
      manager: 'daemon',
      binary: `${labDirectory}/hosts/client2/bin/nomad`,
      dataDir: `${labDirectory}/hosts/client2/data`,
      pidFile: `${labDirectory}/hosts/client2/agent.pid`,
      ssh: { user: 'root', identityFile: `${labDirectory}/ssh/id_ed25519`, knownHosts: `${labDirectory}/ssh/known_hosts` },
    });
  });
});
