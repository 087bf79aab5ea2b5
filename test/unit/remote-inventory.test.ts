// Unit: existing hosts from an Ansible inventory -> the SSH lab's plan (pure), on what the real
// `ansible-inventory --list` prints for an INI file with nested groups (also Nomad's own group names);
// the sshd lab's inventory; which lab holds which hosts, and the store's lock.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupHosts, planFromInventory, readInventory, type InventoryList, type RemotePlan } from '../../harness/lab/inventory.ts';
import { heldMessage, hostsHeldByOthers } from '../../harness/lab/ssh-lab.ts';
import { selfIdentity, storeLockFile, withStoreLock, type SshLabState } from '../../harness/lab/store.ts';
import { AUDIT_WRAPPER, sshdConfig, sshdInventory, hostSshd, sshdPaths } from '../../harness/lab/sshd.ts';
import { run } from '../../harness/exec/local.ts';
import { quoteArgv } from '../../harness/exec/ssh.ts';
import { planLab } from '../../harness/lab/topology.ts';
import { UsageError } from '../../harness/util/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'nomad-lab-inv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const defaults = { identityFile: '/root/.ssh/id_ed25519' };

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
    // No known_hosts named: the user's own files (ssh -G), and nothing is ever pinned for an inventory's host.
    expect(b.ssh).toEqual({ name: 'nomad-b', address: '10.1.0.12', port: 2202, user: 'ops', identityFile: '/keys/lab' });
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
    expect(err(list({ s: ok }, ['s'], []))).toMatch(
      /needs hosts in group "servers" \(or "nomad_servers"\) and in group "clients" \(or "nomad_clients"\) \(found 1 and 0\)/,
    );
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
    expect(() => planFromInventory(list({ s: ok, c: { nomad_bind_addr: '10.0.0.2' } }, ['s'], ['c']), 'x', 'inv.yml', {})).toThrow(
      /no SSH key, and no SSH agent/,
    );
  });

  it("no key file with the user's SSH agent: the agent's keys only", () => {
    const plan = planFromInventory(list({ s: { nomad_bind_addr: '10.0.0.1' }, c: { nomad_bind_addr: '10.0.0.2' } }, ['s'], ['c']), 'x', 'inv.yml', {
      agent: true,
    });
    expect(plan.hosts.map((h) => h.ssh.identityFile)).toEqual([undefined, undefined]);
  });

  it("pins on first use only into the harness's own file, never into one the inventory names", () => {
    const own = { identityFile: '/k', knownHosts: '/var/lib/nomad-lab/vagrant_known_hosts', pinOnFirstUse: true };
    const plan = planFromInventory(
      list({ s: { nomad_bind_addr: '10.0.0.1' }, c: { nomad_bind_addr: '10.0.0.2', nomad_lab_known_hosts: '/etc/lab_known_hosts' } }, ['s'], ['c']),
      'x',
      'inv.yml',
      own,
    );
    expect(plan.hosts.map((h) => [h.ssh.knownHosts, h.ssh.pinOnFirstUse])).toEqual([
      [own.knownHosts, true],
      ['/etc/lab_known_hosts', undefined],
    ]);
  });

  it("takes Nomad's own group names nomad_servers and nomad_clients (INI through ansible-inventory)", async () => {
    const file = join(dir, 'nomad-groups.ini');
    writeFileSync(
      file,
      [
        '[nomad_servers]',
        'srv ansible_host=10.3.0.11 nomad_bind_addr=10.3.0.11',
        '[nomad_clients]',
        'cl1 nomad_bind_addr=10.3.0.21',
        'cl2 nomad_bind_addr=10.3.0.22',
        '[all:vars]',
        'ansible_ssh_private_key_file=/keys/lab',
      ].join('\n'),
    );
    const plan = planFromInventory(await readInventory(file), 'inv-nomad', file, defaults);
    expect(plan.hosts.map((h) => [h.name, h.role, h.index])).toEqual([
      ['srv', 'server', 1],
      ['cl1', 'client', 1],
      ['cl2', 'client', 2],
    ]);
    // Both names at once: one lab, each host once.
    const both: InventoryList = {
      _meta: { hostvars: { a: { nomad_bind_addr: '10.0.0.1' }, b: { nomad_bind_addr: '10.0.0.2' }, c: { nomad_bind_addr: '10.0.0.3' } } },
      servers: { hosts: ['a'] },
      nomad_servers: { hosts: ['a'] },
      clients: { hosts: ['b'] },
      nomad_clients: { hosts: ['c', 'b'] },
    };
    expect(planFromInventory(both, 'x', 'inv.yml', defaults).hosts.map((h) => `${h.role}:${h.name}`)).toEqual(['server:a', 'client:b', 'client:c']);
    expect(() => planFromInventory({ _meta: { hostvars: {} }, nomad_servers: { hosts: ['a'] } }, 'x', 'inv.yml', defaults)).toThrow(
      /group "servers" \(or "nomad_servers"\) and in group "clients" \(or "nomad_clients"\) \(found 1 and 0\)/,
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

describe('which SSH lab holds which hosts', () => {
  const plan = (name: string, hosts: Record<string, string>, port = 22): RemotePlan => {
    const names = Object.keys(hosts);
    const hostvars = Object.fromEntries(names.map((h) => [h, { nomad_bind_addr: hosts[h], ansible_host: hosts[h], ansible_port: port }]));
    return planFromInventory({ _meta: { hostvars }, servers: { hosts: [names[0]!] }, clients: { hosts: names.slice(1) } }, name, `/inv/${name}.yml`, defaults);
  };
  const state = (p: RemotePlan, more: Partial<SshLabState> = {}): SshLabState => ({
    version: 1,
    provider: 'inventory',
    plan: p,
    phase: 'up',
    owner: { pid: 4242, startTicks: 1 },
    persistent: true,
    nomad: { path: '/nomad', version: '1.6.0', source: 'test' },
    createdAt: '2026-11-29T00:00:00Z',
    started: [],
    provisioned: true,
    ...more,
  });
  const t = plan('t-inv', { server1: '198.18.7.11', client1: '198.18.7.21', client2: '198.18.7.22' });

  it('a lab over any host another lab holds is refused, naming that lab, its process and the shared endpoints', () => {
    const t2 = plan('t-inv2', { s: '198.18.8.11', c: '198.18.7.22' });
    const held = hostsHeldByOthers(t2, [state(plan('other', { x: '10.0.0.1', y: '10.0.0.2' })), state(t)], () => false);
    expect(held).toMatchObject({
      lab: 't-inv',
      provider: 'inventory',
      ownerAlive: false,
      shared: ['198.18.7.22:22 (SSH of c)', '198.18.7.22:4646 (Nomad on c)'],
    });
    expect(heldMessage('t-inv2', held!)).toBe(
      "lab t-inv2 would use hosts that lab t-inv (inventory) holds: 198.18.7.22:22 (SSH of c), 198.18.7.22:4646 (Nomad on c); it is up, kept by `lab up` or a run's --keep (process 4242, ended)",
    );
    const running = hostsHeldByOthers(t2, [state(t, { persistent: false, phase: 'creating' })], () => true)!;
    expect(heldMessage('t-inv2', running)).toMatch(/lab t-inv \(inventory\) holds: .*; it belongs to process 4242, which is running \(creating\)$/);
    const stuck = hostsHeldByOthers(t2, [state(t, { persistent: false, phase: 'destroying' })], () => false)!;
    expect(heldMessage('t-inv2', stuck)).toMatch(/its process 4242 ended while it was destroying, and its teardown did not finish$/);
  });

  it('other addresses, another SSH port of the same address, or the same lab do not count', () => {
    expect(hostsHeldByOthers(plan('a', { s: '198.18.9.11', c: '198.18.9.21' }), [state(t)], () => true)).toBeUndefined();
    expect(hostsHeldByOthers(t, [state(t)], () => true)).toBeUndefined();
    // 127.0.0.1:2222 and :2200 are two VMs behind Vagrant's forwarded ports, but their Nomad addresses differ too.
    const vmA = { ...plan('vm-a', { s: '192.168.56.11', c: '192.168.56.21' }) };
    vmA.hosts = vmA.hosts.map((h, i) => ({ ...h, ssh: { ...h.ssh, address: '127.0.0.1', port: 2222 + i } }));
    const vmB = { ...plan('vm-b', { s: '192.168.57.11', c: '192.168.57.21' }) };
    vmB.hosts = vmB.hosts.map((h, i) => ({ ...h, ssh: { ...h.ssh, address: '127.0.0.1', port: 2300 + i } }));
    expect(hostsHeldByOthers(vmB, [state(vmA)], () => true)).toBeUndefined();
    vmB.hosts[1]!.ssh.port = 2223;
    expect(hostsHeldByOthers(vmB, [state(vmA)], () => true)?.shared).toEqual(['127.0.0.1:2223 (SSH of c)']);
  });
});

describe("the store's lock", () => {
  const root = mkdtempSync(join(tmpdir(), 'nomad-lab-store-'));
  const before = process.env['NOMAD_LAB_ROOT'];
  beforeAll(() => {
    process.env['NOMAD_LAB_ROOT'] = root;
  });
  afterAll(() => {
    if (before === undefined) delete process.env['NOMAD_LAB_ROOT'];
    else process.env['NOMAD_LAB_ROOT'] = before;
    rmSync(root, { recursive: true, force: true });
  });

  it('two holders at once take turns: the second starts only after the first is done', async () => {
    const events: string[] = [];
    const hold = (who: string) =>
      withStoreLock(who, async () => {
        events.push(`${who} in`);
        await new Promise((r) => setTimeout(r, 50));
        events.push(`${who} out`);
      });
    await Promise.all([hold('a'), hold('b')]);
    expect(events).toEqual(['a in', 'a out', 'b in', 'b out']);
    expect(existsSync(storeLockFile())).toBe(false);
  });

  it('a lock whose owner is gone is taken over; one whose owner lives is waited for, then named', async () => {
    const gone = await run(['sh', '-c', 'echo $$']);
    writeFileSync(storeLockFile(), JSON.stringify({ pid: Number(gone.stdout), startTicks: 1, what: 'lab up dead' }));
    expect(await withStoreLock('lab up x', () => 'taken')).toBe('taken');
    // This very process, with another nonce: a live owner.
    const alive = JSON.stringify({ ...selfIdentity(), what: 'lab up t-inv', nonce: 'n' });
    writeFileSync(storeLockFile(), alive);
    await expect(withStoreLock('lab up t-inv2', () => 'never', 200)).rejects.toThrow(
      new RegExp(`the lab store is locked by process ${process.pid} \\(lab up t-inv\\) for 0\\.2s`),
    );
    expect(readFileSync(storeLockFile(), 'utf8')).toBe(alive);
    rmSync(storeLockFile());
  });
});
