// Static: the netns lab's one-pass render (ansible/render-local.yml) writes, for a lab inventory the harness makes
// (3 servers, clients in several datacenters, ACL, TLS, a Nomad 1.8 version, extra variables), exactly the files,
// contents and modes that site.yml's pass per host writes; a second run changes nothing; a host the inventory leaves
// incomplete is refused by name.
import { cpSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { netnsInventory, NETNS_PLAYBOOK } from '../../harness/lab/ansible.ts';
import { planLab } from '../../harness/lab/topology.ts';
import { ansibleDir, ansiblePlaybook, has, scratchDir, writeInventory } from './support.ts';

const scratch = scratchDir('render-local');
const lab = join(scratch, 'lab');
const plan = planLab({ name: 's2-render', servers: 3, clients: 4, datacenter: 'dc1', clientDatacenters: ['dc2', 'dc3'], acl: true, tls: true });
const inventoryData = netnsInventory(plan, lab, '1.8.1') as { all: { children: { clients: { hosts: Record<string, Record<string, unknown>> } } } };
const inventory = writeInventory(scratch, 'inventory.json', inventoryData);
const extraVars = join(scratch, 'agent-vars.json');
writeFileSync(extraVars, JSON.stringify({ nomad_log_level: 'DEBUG', nomad_heartbeat_grace: '7s', nomad_raw_exec_enabled: false }));

/** Every file and directory under `dir`: relative path -> mode and content (files). */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const mode = (statSync(p).mode & 0o7777).toString(8);
      out[relative(dir, p)] = e.isDirectory() ? `dir ${mode}` : `${mode}\n${readFileSync(p, 'utf8')}`;
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

const play = (playbook: string, inv = inventory) => ansiblePlaybook(['-i', inv, '-e', `@${extraVars}`, join(ansibleDir, playbook)], scratch);

describe.skipIf(!(await has('ansible-playbook')))('render-local.yml: the netns lab render in one pass', () => {
  it('writes what site.yml writes, host by host, byte for byte and mode for mode; a second run changes nothing', async () => {
    const perHost = await play('site.yml');
    expect(perHost.exitCode, perHost.stdout + perHost.stderr).toBe(0);
    const expected = tree(join(lab, 'hosts'));
    expect(Object.keys(expected)).toContain('client1/config/client.hcl');
    expect(expected['client1/config/base.hcl']).toMatch(/datacenter = "dc2"[\s\S]*log_level  = "DEBUG"[\s\S]*tls \{/);
    cpSync(join(lab, 'hosts'), join(scratch, 'per-host'), { recursive: true });
    rmSync(join(lab, 'hosts'), { recursive: true });

    const onePass = await play(NETNS_PLAYBOOK);
    expect(onePass.exitCode, onePass.stdout + onePass.stderr).toBe(0);
    expect(tree(join(lab, 'hosts'))).toEqual(expected);
    // One host ran it: the per-host pass would list all seven in the recap.
    expect(onePass.stdout).toMatch(/^server1 +: ok=3 +changed=1 /m);
    expect(onePass.stdout).not.toMatch(/^client1 +:/m);

    const again = await play(NETNS_PLAYBOOK);
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^server1 +: ok=3 +changed=0 /m);
  }, 240_000);

  it('removes the configuration of the other role when a host changed role', async () => {
    const stale = join(lab, 'hosts', 'client2', 'config', 'server.hcl');
    writeFileSync(stale, 'server { enabled = true }\n');
    const r = await play(NETNS_PLAYBOOK);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(() => statSync(stale)).toThrow();
  }, 120_000);

  it('refuses an inventory whose host lacks its address, naming the host', async () => {
    const broken = structuredClone(inventoryData);
    delete broken.all.children.clients.hosts['client3']!['nomad_bind_addr'];
    const r = await play(NETNS_PLAYBOOK, writeInventory(scratch, 'broken.json', broken));
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout).toMatch(/hosts lacking some: client3"/);
  }, 120_000);
});
