// Static: every playbook passes `ansible-playbook --syntax-check` with a small inventory (a broken one does not); the fault
// playbooks find the role from any directory, pick their hosts (default: all clients; -e target=...), and refuse agents
// the harness supervises.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { partitionArgv } from '../../harness/faults/partition.ts';
import { ansibleDir, ansiblePlaybook, has, scratchDir, writeInventory } from './support.ts';

const scratch = scratchDir('playbooks');
const scenariosDir = join(ansibleDir, 'scenarios');
const scenarios = readdirSync(scenariosDir)
  .filter((f) => f.endsWith('.yml'))
  .sort();
const playbooks = [join(ansibleDir, 'site.yml'), ...scenarios.map((f) => join(scenariosDir, f))];

const hosts = (ip: string, more: object = {}) => ({ nomad_bind_addr: ip, ...more });
const inventory = writeInventory(scratch, 'inventory.json', {
  all: {
    children: {
      servers: { hosts: { server1: hosts('192.0.2.11'), server2: hosts('192.0.2.12') } },
      clients: { hosts: { client1: hosts('192.0.2.21'), client2: hosts('192.0.2.22') } },
    },
  },
});
// Runs on this machine without touching it: the role's dispatch stops at its first check for a supervised agent.
const localInventory = writeInventory(scratch, 'local.json', {
  all: {
    vars: { ansible_connection: 'local', ansible_python_interpreter: '/usr/bin/python3', nomad_service_manager: 'supervised' },
    children: {
      servers: { hosts: { server1: hosts('192.0.2.11') } },
      clients: { hosts: { client1: hosts('192.0.2.21') } },
    },
  },
});

const listHosts = async (playbook: string, extra: string[] = []) => {
  const r = await ansiblePlaybook(['-i', inventory, '--list-hosts', ...extra, join(scenariosDir, playbook)], scratch);
  expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  return [...r.stdout.matchAll(/^\s{6}(\S+)$/gm)].map((m) => m[1]).sort();
};

describe.skipIf(!(await has('ansible-playbook')))('playbooks', () => {
  it('ansible/scenarios holds the fault playbooks, each listed in its README', () => {
    expect(scenarios).toEqual(expect.arrayContaining(['heal.yml', 'kill-all.yml', 'kill-clients.yml', 'kill-servers.yml', 'partition.yml', 'start-all.yml']));
    const readme = readFileSync(join(scenariosDir, 'README.md'), 'utf8');
    for (const f of scenarios) expect(readme).toContain(f);
  });

  for (const playbook of playbooks) {
    it(`${playbook.slice(ansibleDir.length + 1)} passes --syntax-check`, async () => {
      const r = await ansiblePlaybook(['-i', inventory, '--syntax-check', playbook], scratch);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    }, 60_000);
  }

  it('--syntax-check rejects a playbook with a task of two modules', async () => {
    const broken = join(scratch, 'broken.yml');
    writeFileSync(
      broken,
      readFileSync(join(scenariosDir, 'heal.yml'), 'utf8').replace(
        'ansible.builtin.iptables:',
        'ansible.builtin.debug: {msg: x}\n      ansible.builtin.iptables:',
      ),
    );
    const r = await ansiblePlaybook(['-i', inventory, '--syntax-check', broken], scratch);
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/conflicting action statements/);
  }, 60_000);

  it('partition.yml and heal.yml act on all clients by default, on the hosts given by -e target= or -l otherwise', async () => {
    for (const p of ['partition.yml', 'heal.yml']) {
      expect(await listHosts(p)).toEqual(['client1', 'client2']);
      expect(await listHosts(p, ['-e', 'target=client2'])).toEqual(['client2']);
      expect(await listHosts(p, ['-l', 'client1'])).toEqual(['client1']);
    }
    expect(await listHosts('kill-servers.yml')).toEqual(['server1', 'server2']);
    expect(await listHosts('kill-clients.yml')).toEqual(['client1', 'client2']);
    expect(await listHosts('kill-all.yml')).toEqual(['client1', 'client2', 'server1', 'server2']);
  }, 120_000);

  for (const [playbook, verb] of [
    ['kill-all.yml', 'killed'],
    ['start-all.yml', 'started'],
  ] as const) {
    it(`${playbook} finds the role from another directory and refuses an agent the harness supervises`, async () => {
      const r = await ansiblePlaybook(['-i', localInventory, join(scenariosDir, playbook)], scratch);
      const out = r.stdout + r.stderr;
      expect(r.exitCode, out).not.toBe(0);
      expect(out).not.toMatch(/role 'nomad' was not found/);
      expect(out).toContain(`server1: nomad_service_manager is supervised; only systemd and daemon agents can be ${verb} from Ansible`);
      expect(out).toContain(`client1: nomad_service_manager is supervised`);
    }, 60_000);
  }
});

describe('heal.yml', () => {
  it("removes every rule the harness's partition modes insert: INPUT from each server and OUTPUT to it", () => {
    const play = (parse(readFileSync(join(scenariosDir, 'heal.yml'), 'utf8')) as Array<{ tasks: Array<Record<string, unknown>> }>)[0]!;
    const removed = play.tasks
      .map((t) => t['ansible.builtin.iptables'] as Record<string, string> | undefined)
      .filter((m) => m !== undefined && m['state'] === 'absent' && m['jump'] === 'DROP')
      .map((m) => `${m!['chain']} ${m!['source'] !== undefined ? '-s' : m!['destination'] !== undefined ? '-d' : '?'}`);
    // Mode both inserts every kind of rule: one per chain, with its address flag (iptables -I <chain> -s|-d <ip> -j DROP).
    const inserted = partitionArgv(['192.0.2.11'], 'both').map((argv) => `${argv[3]} ${argv[4]}`);
    expect(inserted).toEqual(['INPUT -s', 'OUTPUT -d']);
    expect(removed.sort()).toEqual(inserted.sort());
  });
});
