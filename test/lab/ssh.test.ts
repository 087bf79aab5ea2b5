// Lab (root, real agents over real SSH; runs in CI): the inventory provider end to end. An sshd per
// namespace (`lab up --sshd`), then the spread scenario through `--inventory`: the role provisions
// Nomad over SSH (start-stop-daemon), the faults go over ssh2 and show up in the sshd logs, the rules
// are gone after the heal, the agents the run started are stopped. Then the fault playbooks of
// ansible/scenarios/ against the same hosts. Everything torn down, leak audit clean.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ansibleDir, repoRoot } from '../../harness/config/paths.ts';
import { run } from '../../harness/exec/local.ts';
import { openPty } from '../../harness/exec/pty.ts';
import { allPids, cmdline } from '../../harness/exec/procs.ts';
import { auditLeaks } from '../../harness/lab/audit.ts';
import { labDir } from '../../harness/config/paths.ts';
import { hostSshd, sshdPaths } from '../../harness/lab/sshd.ts';
import { readState } from '../../harness/lab/store.ts';
import type { HostPlan, LabPlan } from '../../harness/lab/topology.ts';
import { nomadLab, isRoot, labCli, ownsLab, startLabCli, waitForOutput } from './support.ts';

const name = 't-sshd';
const reports = mkdtempSync(join(tmpdir(), 'nomad-lab-ssh-reports-'));
const ansibleHome = mkdtempSync(join(tmpdir(), 'nomad-lab-ssh-ansible-'));
afterAll(() => {
  rmSync(reports, { recursive: true, force: true });
  rmSync(ansibleHome, { recursive: true, force: true });
});

const inNs = (h: HostPlan, argv: string[]) => run(['nsenter', `--net=/run/netns/${h.netns}`, '--', ...argv], { check: false });
/** Nomad agents whose binary lives under this lab's directory (where the role installed it). */
const agentsOf = (labDirectory: string) =>
  allPids()
    .map((pid) => cmdline(pid))
    .filter((argv) => argv[0]?.startsWith(`${labDirectory}/hosts/`) && argv[1] === 'agent')
    .map((argv) => argv[0]!.split('/').at(-3)!)
    .sort();
const dropRules = async (h: HostPlan) => (await inNs(h, ['iptables', '-w', '-S', 'INPUT'])).stdout.split('\n').filter((l) => l.includes('-j DROP'));

function playbook(file: string, inventory: string, extra: string[] = []) {
  const roles = ansibleDir();
  return run(['ansible-playbook', '-i', inventory, ...extra, join(roles, 'scenarios', file)], {
    check: false,
    timeoutMs: 170_000,
    env: {
      ...process.env,
      ANSIBLE_CONFIG: join(roles, 'ansible.cfg'),
      ANSIBLE_ROLES_PATH: join(roles, 'roles'),
      ANSIBLE_HOME: ansibleHome,
      ANSIBLE_NOCOLOR: '1',
    } as Record<string, string>,
  });
}

describe.skipIf(!isRoot)('inventory provider over SSH (sshd in every namespace)', () => {
  ownsLab(name);
  let plan: LabPlan;
  let dir: string;
  let inventory: string;

  it('lab up --sshd: every host answers SSH with the lab key; no agent runs yet', async () => {
    const up = await labCli(['up', '--sshd', '--lab', name]);
    expect(up.exitCode, up.stderr).toBe(0);
    const state = readState(name)!;
    plan = state.plan;
    dir = state.dir;
    inventory = sshdPaths(dir).inventory;
    expect(up.stdout).toContain(`inventory: ${inventory}`);
    expect(existsSync(inventory)).toBe(true);
    expect(agentsOf(dir)).toEqual([]);
  }, 60_000);

  it('spread passes through --inventory: provisioned over SSH, faults over SSH, rules gone, agents stopped', async () => {
    const r = await run(['node', nomadLab, 'scenario', 'spread', '--inventory', inventory, '--lab', 't-inv', '--reports', reports], {
      check: false,
      timeoutMs: 170_000,
      cwd: repoRoot,
    });
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stderr).toMatch(/provisioning 3 hosts over SSH with the role/);
    const runDir = join(reports, 'spread', readdirSync(join(reports, 'spread'))[0]!);
    const result = JSON.parse(readFileSync(join(runDir, 'result.json'), 'utf8')) as { verdict: string };
    expect(result.verdict).toBe('pass');
    const events = readFileSync(join(runDir, 'trace.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const runEvent = events.find((e) => e['kind'] === 'run') as { run: { lab: { provider: string } } };
    expect(runEvent.run.lab.provider).toBe('inventory');
    const partition = events.find((e) => e['kind'] === 'fault' && e['fault'] === 'partition') as { host: string; argv: string[][] };
    const victim = plan.hosts.find((h) => h.name === partition.host)!;
    const server = plan.hosts.find((h) => h.role === 'server')!;
    // The commands arrived over SSH: the partitioned host's sshd log has the DROP and its removal.
    const log = readFileSync(hostSshd(dir, victim).log, 'utf8');
    expect(log).toContain(`command: iptables -w -I INPUT -s ${server.ip} -j DROP`);
    expect(log).toContain(`command: iptables -w -D INPUT -s ${server.ip} -j DROP`);
    expect(log.indexOf('-I INPUT')).toBeLessThan(log.indexOf('-D INPUT'));
    // ...and the other client was never partitioned (it sees only the teardown's idempotent heal).
    const other = plan.hosts.find((h) => h.role === 'client' && h.name !== victim.name)!;
    expect(readFileSync(hostSshd(dir, other).log, 'utf8')).not.toContain('-I INPUT');
    expect(await dropRules(victim)).toEqual([]);
    // Agent logs came back over SSH with the report.
    expect(readFileSync(join(runDir, 'logs', `${victim.name}.log`), 'utf8')).toMatch(/Nomad agent started!/);
    // The run started the agents, so it stopped them, and forgot its SSH lab.
    expect(agentsOf(dir)).toEqual([]);
    expect(existsSync(labDir('t-inv'))).toBe(false);
  }, 180_000);

  it('a run killed mid-partition: the next command heals the host and stops the agents it left', async () => {
    const running = startLabCli(['spread', '--inventory', inventory, '--lab', 't-inv', '--reports', reports], 'scenario');
    await waitForOutput(running, /partitioned client\d/, 150_000);
    const victimName = /partitioned (client\d)/.exec(running.stderr())![1]!;
    running.child.kill('SIGKILL');
    await running.exited;
    const victim = plan.hosts.find((h) => h.name === victimName)!;
    expect(await dropRules(victim)).not.toEqual([]);
    expect(agentsOf(dir)).toEqual(['client1', 'client2', 'server1']);

    const down = await labCli(['down', '--lab', 't-inv']);
    expect(down.exitCode, `${down.stdout}\n${down.stderr}`).toBe(0);
    expect(await dropRules(victim)).toEqual([]);
    expect(agentsOf(dir)).toEqual([]);
    expect(existsSync(labDir('t-inv'))).toBe(false);
  }, 180_000);

  it('lab shell over SSH, then the fault playbooks of ansible/scenarios/ partition, heal, kill and start agents on the same hosts', async () => {
    const up = await labCli(['up', '--inventory', inventory, '--lab', 't-inv']);
    expect(up.exitCode, up.stderr).toBe(0);
    expect(agentsOf(dir)).toEqual(['client1', 'client2', 'server1']);
    const client1 = plan.hosts.find((h) => h.name === 'client1')!;
    const server = plan.hosts.find((h) => h.role === 'server')!;

    // lab shell on an SSH lab: OpenSSH's client in a real terminal, the host key checked, and the
    // login lands in client1's namespace (its sshd runs there): its address, no other.
    const shell = openPty(['node', nomadLab, 'lab', 'shell', 'client1', '--lab', 't-inv'], {
      env: { ...process.env, NO_COLOR: '1' } as Record<string, string>,
      cwd: repoRoot,
      cols: 120,
      rows: 30,
    });
    try {
      shell.write('ip -br addr; echo "done-$((40+2))"\r');
      await shell.waitFor(/^done-42$/m, 30_000);
      const screen = (await shell.screen()).all;
      expect(screen).toMatch(new RegExp(`^eth0@\\S+\\s+UP\\s+${client1.ip.replaceAll('.', '\\.')}/24`, 'm'));
      expect(screen).not.toContain(`${server.ip}/24`);
      shell.write('exit\r');
      expect((await shell.exited).exitCode).toBe(0);
    } finally {
      shell.kill();
      shell.dispose();
    }
    expect(readFileSync(hostSshd(dir, client1).log, 'utf8')).toMatch(/interactive shell/);

    const part = await playbook('partition.yml', inventory, ['-l', 'client1']);
    expect(part.exitCode, part.stdout).toBe(0);
    expect(await dropRules(client1)).toEqual([`-A INPUT -s ${server.ip}/32 -j DROP`]);
    expect(await dropRules(plan.hosts.find((h) => h.name === 'client2')!)).toEqual([]);
    const heal = await playbook('heal.yml', inventory, ['-l', 'client1']);
    expect(heal.exitCode, heal.stdout).toBe(0);
    expect(await dropRules(client1)).toEqual([]);

    const killClients = await playbook('kill-clients.yml', inventory);
    expect(killClients.exitCode, killClients.stdout).toBe(0);
    expect(agentsOf(dir)).toEqual(['server1']);
    const start = await playbook('start-all.yml', inventory);
    expect(start.exitCode, start.stdout).toBe(0);
    expect(agentsOf(dir)).toEqual(['client1', 'client2', 'server1']);
    const killServers = await playbook('kill-servers.yml', inventory);
    expect(killServers.exitCode, killServers.stdout).toBe(0);
    expect(agentsOf(dir)).toEqual(['client1', 'client2']);
    const killAll = await playbook('kill-all.yml', inventory);
    expect(killAll.exitCode, killAll.stdout).toBe(0);
    expect(agentsOf(dir)).toEqual([]);

    const down = await labCli(['down', '--lab', 't-inv']);
    expect(down.exitCode, `${down.stdout}\n${down.stderr}`).toBe(0);
    expect(existsSync(labDir('t-inv'))).toBe(false);
  }, 180_000);

  it('lab down leaves nothing: namespaces, sshd, agents, rules, mounts', async () => {
    const down = await labCli(['down', '--lab', name]);
    expect(down.exitCode, `${down.stdout}\n${down.stderr}`).toBe(0);
    expect(await auditLeaks(name)).toEqual([]);
    expect(agentsOf(dir)).toEqual([]);
    expect(allPids().filter((pid) => cmdline(pid).join(' ').includes(`${dir}/ssh/`))).toEqual([]);
  }, 60_000);
});
