// Static: the unit the role installs on systemd hosts (templates/nomad.service.j2, rendered by Ansible with the role's own
// defaults and vars) passes `systemd-analyze verify` without a single diagnostic; mutants of it do not.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../harness/exec/local.ts';
import { pinnedBinaryPath } from '../../harness/nomad/binary.ts';
import { ansiblePlaybook, has, roleDir, scratchDir, writeInventory } from './support.ts';

const scratch = scratchDir('unit');

/** ExecStart must name an existing executable for verify to pass: the pinned build if present, else a stand-in. */
function binDir(): string {
  const pinned = pinnedBinaryPath();
  if (existsSync(pinned)) return dirname(pinned);
  const dir = join(scratch, 'bin');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'nomad'), '#!/bin/sh\nexit 0\n');
  chmodSync(join(dir, 'nomad'), 0o755);
  return dir;
}

/** The role's real template with the role's defaults and vars, for a server and a client (their units differ by role). */
async function renderUnits(out: string, bin: string): Promise<void> {
  const playbook = join(scratch, 'render.yml');
  writeFileSync(
    playbook,
    JSON.stringify([
      {
        name: 'Render the role unit',
        hosts: 'all',
        gather_facts: false,
        vars_files: [join(roleDir, 'defaults', 'main.yml'), join(roleDir, 'vars', 'main.yml')],
        tasks: [
          {
            name: 'Render',
            'ansible.builtin.template': {
              src: join(roleDir, 'templates', 'nomad.service.j2'),
              dest: `${out}/{{ inventory_hostname }}/nomad.service`,
              mode: '0644',
            },
          },
        ],
      },
    ]),
  );
  for (const h of ['server1', 'client1']) mkdirSync(join(out, h), { recursive: true });
  const inventory = writeInventory(scratch, 'inventory.json', {
    all: {
      vars: { ansible_connection: 'local', ansible_python_interpreter: '/usr/bin/python3' },
      children: { servers: { hosts: { server1: {} } }, clients: { hosts: { client1: {} } } },
    },
  });
  // Extra vars: above the play's vars_files, as the inventory would be above role defaults.
  const r = await ansiblePlaybook(['-i', inventory, '-e', JSON.stringify({ nomad_bin_dir: bin, nomad_version: '1.6.0' }), playbook], scratch);
  expect(r.exitCode, r.stdout + r.stderr).toBe(0);
}

async function verify(unit: string) {
  const r = await run(['systemd-analyze', 'verify', unit], { check: false, timeoutMs: 60_000 });
  // verify exits 0 on warnings (an unknown key is "ignoring"): any diagnostic at all counts as a failure here.
  return { ok: r.exitCode === 0 && `${r.stdout}${r.stderr}`.trim() === '', output: `${r.stdout}\n${r.stderr}`.trim(), exitCode: r.exitCode };
}

function mutant(name: string, text: string): string {
  const dir = join(scratch, 'mutants', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'nomad.service'), text);
  return join(dir, 'nomad.service');
}

describe.skipIf(!(await has('systemd-analyze')) || !(await has('ansible-playbook')))('nomad.service (systemd hosts)', () => {
  const out = join(scratch, 'rendered');
  const bin = binDir();
  let server = '';
  beforeAll(async () => {
    await renderUnits(out, bin);
    server = readFileSync(join(out, 'server1', 'nomad.service'), 'utf8');
  }, 120_000);

  it('renders the agent with the role binary and config dir, leaving tasks running when the agent dies', () => {
    expect(server).toContain(`ExecStart=${bin}/nomad agent -config=/etc/nomad.d\n`);
    expect(server).toContain('Description=HashiCorp Nomad agent (server, nomad-lab)');
    expect(readFileSync(join(out, 'client1', 'nomad.service'), 'utf8')).toContain('Description=HashiCorp Nomad agent (client, nomad-lab)');
    expect(server).toMatch(/^KillMode=process$/m);
    expect(server).toMatch(/^RestartPreventExitStatus=SIGKILL$/m);
  });

  for (const host of ['server1', 'client1']) {
    it(`systemd-analyze verify accepts the ${host} unit without a diagnostic`, async () => {
      const v = await verify(join(out, host, 'nomad.service'));
      expect(v.output).toBe('');
      expect(v.ok).toBe(true);
    });
  }

  const mutants: Array<[string, (t: string) => string, RegExp]> = [
    ['a misspelt directive', (t) => t.replace(/^KillMode=/m, 'KilMode='), /Unknown key '?KilMode'?/],
    ['a bad value', (t) => t.replace(/^Type=simple$/m, 'Type=simplest'), /Failed to parse service type/],
    ['a relative ExecStart', (t) => t.replace(/^ExecStart=\//m, 'ExecStart='), /Neither a valid executable name nor an absolute path|not executable/],
    ['an ExecStart that does not exist', (t) => t.replace(/^ExecStart=\S+/m, `ExecStart=${join(scratch, 'missing', 'nomad')}`), /is not executable/],
  ];
  for (const [name, change, expected] of mutants) {
    it(`systemd-analyze verify reports a unit with ${name}`, async () => {
      const text = change(server);
      expect(text).not.toBe(server);
      const v = await verify(mutant(name.replace(/\W+/g, '-'), text));
      expect(v.ok).toBe(false);
      expect(v.output).toMatch(expected);
    });
  }
});
