// Static: ansible-lint (production profile, ansible/.ansible-lint) passes over site.yml, the role and the fault
// playbooks; copies with a planted violation in the role and in a scenario playbook fail, naming file and rule.
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../../harness/exec/local.ts';
import { ansibleDir, has, scratchDir } from './support.ts';

const scratch = scratchDir('lint');

/** ansible-lint over an ansible/ tree, offline, with its caches in the scratch directory (nothing lands in ~). */
async function lint(dir: string) {
  const home = join(scratch, `home-${Math.random().toString(36).slice(2)}`);
  mkdirSync(home, { recursive: true });
  const r = await run(['ansible-lint', '-c', join(dir, '.ansible-lint'), '--offline', '-p', '--nocolor'], {
    check: false,
    cwd: dir,
    timeoutMs: 170_000,
    env: { HOME: home, XDG_CACHE_HOME: join(home, 'cache'), ANSIBLE_HOME: join(home, 'ansible'), NO_COLOR: '1' },
  });
  return { ...r, output: `${r.stdout}\n${r.stderr}` };
}

function copyAnsible(name: string): string {
  const dir = join(scratch, name);
  cpSync(ansibleDir, dir, { recursive: true });
  return dir;
}

describe.skipIf(!(await has('ansible-lint')))('ansible-lint', () => {
  it('passes over ansible/ with the production profile and no skipped rule', async () => {
    const config = readFileSync(join(ansibleDir, '.ansible-lint'), 'utf8');
    expect(config).toMatch(/^profile: production$/m);
    expect(config).not.toMatch(/^(skip_list|warn_list):/m);
    const r = await lint(ansibleDir);
    expect(r.exitCode, r.output).toBe(0);
    expect(r.output).toMatch(/Passed with production profile: 0 failure\(s\), 0 warning\(s\)/);
  }, 180_000);

  it('fails on a copy whose role has a task without a name that calls a module by its short name', async () => {
    const dir = copyAnsible('broken-role');
    const file = join(dir, 'roles', 'nomad', 'tasks', 'agent-start.yml');
    writeFileSync(file, `${readFileSync(file, 'utf8')}\n- command: echo planted\n`);
    const r = await lint(dir);
    expect(r.exitCode, r.output).not.toBe(0);
    expect(r.output).toMatch(/roles\/nomad\/tasks\/agent-start\.yml:\d+: fqcn\[action-core\]/);
    expect(r.output).toMatch(/roles\/nomad\/tasks\/agent-start\.yml:\d+: name\[missing\]/);
  }, 180_000);

  it('lints the fault playbooks too: a short module name in scenarios/heal.yml fails', async () => {
    const dir = copyAnsible('broken-scenario');
    const file = join(dir, 'scenarios', 'heal.yml');
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('ansible.builtin.iptables:');
    writeFileSync(file, text.replace('ansible.builtin.iptables:', 'iptables:'));
    const r = await lint(dir);
    expect(r.exitCode, r.output).not.toBe(0);
    expect(r.output).toMatch(/scenarios\/heal\.yml:\d+: fqcn\[action-core\]/);
  }, 180_000);
});
