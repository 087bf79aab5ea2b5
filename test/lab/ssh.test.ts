// Lab (root, real agents over real SSH; runs in CI): the inventory provider end to end. An sshd per
// namespace (`lab up --sshd`), then the spread scenario through `--inventory`: the role provisions
// Nomad over SSH (start-stop-daemon), the faults go over ssh2 and show up in the sshd logs, the rules
// are gone after the heal, the agents the run started are stopped. Host keys over real SSH: checked
// strictly against the known_hosts the sshd lab wrote from the keys it made, pinned only where asked.
// A lab brought up through the user's SSH agent alone (a real ssh-agent), a second lab over the same
// hosts refused, the fault playbooks of ansible/scenarios/ against the same hosts; a lab whose hosts do
// not answer forgotten with `lab down --forget`. TLS over SSH: `lab up --inventory --tls` makes the
// certificates here and the role copies each host's to it (HTTPS with the CA and the CLI's certificate
// works, plain HTTP gets Nomad's 400), spread passes with --tls, and no private key shows up in the
// output, Ansible's log, the lab's files, the sshd logs or the reports. Everything torn down, leak audit clean.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ansibleDir, repoRoot } from '../../harness/config/paths.ts';
import { run, type RunResult } from '../../harness/exec/local.ts';
import { openPty } from '../../harness/exec/pty.ts';
import { allPids, cmdline } from '../../harness/exec/procs.ts';
import { auditLeaks } from '../../harness/lab/audit.ts';
import { labDir } from '../../harness/config/paths.ts';
import { hostDirs } from '../../harness/lab/ansible.ts';
import { hostSshd, sshdPaths } from '../../harness/lab/sshd.ts';
import { agentTlsFiles, cliTlsFiles, tlsDir } from '../../harness/lab/tls.ts';
import { SshPool, type SshTarget } from '../../harness/exec/ssh.ts';
import { defaultIdentity } from '../../harness/lab/inventory.ts';
import { readLab, readState } from '../../harness/lab/store.ts';
import { pollUntil } from '../../harness/util/poll.ts';
import type { HostPlan, LabPlan } from '../../harness/lab/topology.ts';
import { nomadLab, isRoot, labCli, ownsLab, startLabCli, waitForOutput } from './support.ts';
import { filesUnder, handshakeWithoutClientCert, httpsGet, keyMaterial } from './secrets.ts';

const name = 't-sshd';
const reports = mkdtempSync(join(tmpdir(), 'nomad-lab-ssh-reports-'));
const ansibleHome = mkdtempSync(join(tmpdir(), 'nomad-lab-ssh-ansible-'));
const scratch = mkdtempSync(join(tmpdir(), 'nomad-lab-ssh-scratch-'));
/** The user's SSH agent, as a user runs one: a real ssh-agent holding the sshd lab's key. */
let agent: ChildProcess | undefined;
const agentSocket = join(scratch, 'agent.sock');
afterAll(() => {
  agent?.kill();
  rmSync(reports, { recursive: true, force: true });
  rmSync(ansibleHome, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
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

/** No base64 line of any of the lab's keys in the texts and files given. */
function expectNoKeyIn(lab: string, texts: Array<[string, string]>, files: string[]): void {
  const keys = keyMaterial(lab);
  // The CA's, server1's, client1's, client2's and the CLI's key; EC keys are three base64 lines each.
  expect(keys.files).toHaveLength(5);
  expect(keys.lines.length).toBeGreaterThanOrEqual(10);
  expect(keys.lines.every((l) => l.length >= 20)).toBe(true);
  const places = [...texts, ...files.filter((f) => !keys.files.includes(f)).map((f): [string, string] => [f, readFileSync(f, 'latin1')])];
  for (const [where, text] of places) for (const line of keys.lines) expect(text.includes(line), `key material in ${where}`).toBe(false);
}

/** Runs `body`, then brings lab t-inv-tls down whatever happened (a failed case must not leave it holding the hosts). */
async function thenDown(body: () => Promise<void>): Promise<RunResult> {
  let failure: unknown;
  try {
    await body();
  } catch (error) {
    failure = error;
  }
  const down = await labCli(['down', '--lab', 't-inv-tls']);
  if (failure !== undefined) throw failure;
  return down;
}

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
  // SSH labs of this file over the sshd lab's hosts, left by a failed earlier run: forgotten (their hosts went with it).
  const sshLabs = ['t-inv', 't-inv2', 't-inv3', 't-inv-tls'];
  const forgetAll = async () => {
    for (const lab of sshLabs) await labCli(['down', '--forget', '--force', '--lab', lab]);
  };
  beforeAll(forgetAll, 60_000);
  afterAll(forgetAll, 60_000);
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

  it('host keys over real SSH: strict against the known_hosts the lab wrote, pinned only where asked, never past @revoked or @cert-authority', async () => {
    const server = plan.hosts.find((h) => h.role === 'server')!;
    const paths = sshdPaths(dir);
    const [type, key] = readFileSync(`${hostSshd(dir, server).hostKey}.pub`, 'utf8')
      .trim()
      .split(/\s+/);
    const target = (knownHosts: string, more: Partial<SshTarget> = {}): SshTarget => ({
      name: server.name,
      address: server.ip,
      port: 22,
      user: 'root',
      identityFile: paths.clientKey,
      knownHosts,
      ...more,
    });
    const file = (n: string, lines: string[]) => {
      const f = join(scratch, n);
      writeFileSync(f, lines.map((l) => `${l}\n`).join(''));
      return f;
    };
    const attempt = async (t: SshTarget) => {
      const pool = new SshPool();
      try {
        return (await pool.run(t, ['echo', 'reached'])).stdout;
      } catch (error) {
        return (error as Error).message;
      } finally {
        await pool.closeAll();
      }
    };
    const ip = server.ip.replaceAll('.', '\\.');
    expect(await attempt(target(paths.knownHosts))).toBe('reached');
    // A wildcard entry matches; a negated one does not, and an unknown host is refused, not pinned.
    const subnet = server.ip.replace(/\.\d+$/, '.*');
    expect(await attempt(target(file('wildcard', [`${subnet} ${type} ${key}`])))).toBe('reached');
    const negated = file('negated', [`!${server.ip},${subnet} ${type} ${key}`]);
    expect(await attempt(target(negated))).toMatch(new RegExp(`no known host key for ${ip} in .*negated; it offers ssh-ed25519 SHA256:`));
    expect(readFileSync(negated, 'utf8')).toBe(`!${server.ip},${subnet} ${type} ${key}\n`);
    expect(await attempt(target(file('revoked', [`@revoked * ${type} ${key}`, `${server.ip} ${type} ${key}`])))).toMatch(/is marked @revoked in .*revoked:1/);
    const [caType, caKey] = readFileSync(`${paths.clientKey}.pub`, 'utf8').trim().split(/\s+/);
    expect(await attempt(target(file('ca', [`@cert-authority ${subnet} ${caType} ${caKey}`])))).toMatch(
      /known only through @cert-authority .*cannot check host certificates/,
    );
    // Pinned on first use only for a host the harness made, into the file it names; then checked against it.
    const own = join(scratch, 'own_known_hosts');
    expect(await attempt(target(own, { pinOnFirstUse: true }))).toBe('reached');
    expect(readFileSync(own, 'utf8')).toBe(`${server.ip} ${type} ${key}\n`);
    expect(await attempt(target(own))).toBe('reached');
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

  it('lab up --inventory --tls: certificates made here, copied by the role; HTTPS with the CA and the CLI certificate works, plain HTTP gets 400; no key in the output or the logs', async () => {
    const up = await labCli(['up', '--inventory', inventory, '--tls', '--lab', 't-inv-tls']);
    const server = plan.hosts.find((h) => h.role === 'server')!;
    const down = await thenDown(async () => {
      expect(up.exitCode, up.stderr).toBe(0);
      expect(up.stderr).toMatch(/over SSH, with TLS/);
      expect(up.stderr).toMatch(/TLS: CA and 4 certificates \(region global\)/);
      const state = readLab('t-inv-tls')!;
      expect(state.provider).toBe('inventory');
      expect(state.plan.tls).toBe(true);
      expect(agentsOf(dir)).toEqual(['client1', 'client2', 'server1']);
      expect(statSync(tlsDir('t-inv-tls')).mode & 0o777).toBe(0o700);

      // Each host has its own certificate and key (and the CA's certificate) in its config dir, root's,
      // directory 0700, key 0600, and its agent's configuration names them.
      for (const h of plan.hosts) {
        const hostTls = join(hostDirs(dir, h).configDir, 'tls');
        const mine = agentTlsFiles('t-inv-tls', h);
        expect(statSync(hostTls).mode & 0o777, h.name).toBe(0o700);
        expect(statSync(join(hostTls, 'key.pem')).mode & 0o777, h.name).toBe(0o600);
        expect(statSync(join(hostTls, 'key.pem')).uid).toBe(0);
        expect(readFileSync(join(hostTls, 'key.pem'), 'utf8')).toBe(readFileSync(mine.key, 'utf8'));
        expect(readFileSync(join(hostTls, 'cert.pem'), 'utf8')).toBe(readFileSync(mine.cert, 'utf8'));
        expect(readFileSync(join(hostTls, 'ca.pem'), 'utf8')).toBe(readFileSync(mine.ca, 'utf8'));
        const base = readFileSync(join(hostDirs(dir, h).configDir, 'base.hcl'), 'utf8');
        expect(base).toContain(`key_file  = "${join(hostTls, 'key.pem')}"`);
        expect(base).toContain('verify_https_client    = true');
      }

      // HTTPS by the advertised address with the CA and the CLI's certificate (Node's own client).
      const client1 = plan.hosts.find((h) => h.name === 'client1')!;
      const cli = cliTlsFiles('t-inv-tls');
      const ca = readFileSync(cli.ca);
      const withCert = { ca, cert: readFileSync(cli.cert), key: readFileSync(cli.key) };
      expect(await httpsGet(`https://${server.ip}:4646/v1/status/leader`, withCert)).toEqual({ status: 200, body: `"${server.ip}:4647"` });
      expect((await httpsGet(`https://${client1.ip}:4646/v1/agent/self`, withCert)).status).toBe(200);
      const plain = await fetch(`http://${server.ip}:4646/v1/status/leader`);
      expect(plain.status).toBe(400);
      expect(await plain.text()).toContain('Client sent an HTTP request to an HTTPS server');
      expect(await handshakeWithoutClientCert(server.ip, ca)).toBe('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');

      // lab status asks over HTTPS; lab env gives the nomad CLI https and the files' paths here, and it lists the nodes.
      const status = await labCli(['status', '--lab', 't-inv-tls']);
      expect(status.exitCode, `${status.stdout}\n${status.stderr}`).toBe(0);
      expect(status.stdout).toMatch(/: up, with TLS/);
      expect(status.stdout).toMatch(/client1 .* ready/);
      const env = await labCli(['env', '--lab', 't-inv-tls']);
      expect(env.exitCode, env.stderr).toBe(0);
      expect(env.stdout).toContain(`export NOMAD_ADDR=https://${server.ip}:4646`);
      expect(env.stdout).toContain(`export NOMAD_CACERT=${cli.ca}`);
      expect(env.stdout).toContain(`export NOMAD_CLIENT_CERT=${cli.cert}`);
      expect(env.stdout).toContain(`export NOMAD_CLIENT_KEY=${cli.key}`);
      const vars = JSON.parse((await labCli(['env', '--lab', 't-inv-tls', '--json'])).stdout) as Record<string, string>;
      const nodes = await run([vars['nomad']!, 'node', 'status'], {
        check: false,
        timeoutMs: 30_000,
        env: {
          PATH: process.env['PATH']!,
          HOME: '/root',
          NOMAD_ADDR: vars['NOMAD_ADDR']!,
          NOMAD_CACERT: vars['NOMAD_CACERT']!,
          NOMAD_CLIENT_CERT: vars['NOMAD_CLIENT_CERT']!,
          NOMAD_CLIENT_KEY: vars['NOMAD_CLIENT_KEY']!,
        },
      });
      expect(nodes.exitCode, nodes.stderr).toBe(0);
      expect(nodes.stdout).toMatch(/client2 .* ready/);

      // Ansible copied the keys: its log is there, and no key is in it, in the command's output, the
      // lab's other files, or the commands that arrived over SSH (each host's sshd log).
      const ansibleLog = join(labDir('t-inv-tls'), 'ansible', 'ansible.log');
      expect(readFileSync(ansibleLog, 'utf8')).toMatch(/Copy the agent's private key/);
      expectNoKeyIn(
        't-inv-tls',
        [
          ['lab up output', up.stdout + up.stderr],
          ['lab env output', env.stdout + env.stderr + status.stdout + status.stderr],
        ],
        [...filesUnder(labDir('t-inv-tls')), ...plan.hosts.map((h) => hostSshd(dir, h).log)],
      );
    });
    expect(down.exitCode, `${down.stdout}\n${down.stderr}`).toBe(0);
    expect(agentsOf(dir)).toEqual([]);
    expect(existsSync(tlsDir('t-inv-tls'))).toBe(false);
    expect(existsSync(labDir('t-inv-tls'))).toBe(false);
    // The copies stay on the hosts with the agent's configuration (docs/tls.md).
    expect(existsSync(join(hostDirs(dir, server).configDir, 'tls', 'key.pem'))).toBe(true);
  }, 180_000);

  it('spread passes through --inventory --tls: HTTPS for the harness and the capture, TLS in the trace and the reports, no key anywhere', async () => {
    const tlsReports = join(reports, 'tls');
    const down = await thenDown(async () => {
      const r = await run(
        ['node', nomadLab, 'scenario', 'spread', '--inventory', inventory, '--tls', '--keep', '--lab', 't-inv-tls', '--reports', tlsReports],
        {
          check: false,
          timeoutMs: 170_000,
          cwd: repoRoot,
        },
      );
      expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/^spread: PASS {2}\(Nomad [^,]+, lab t-inv-tls with TLS, run /m);
      const runDir = join(tlsReports, 'spread', readdirSync(join(tlsReports, 'spread'))[0]!);
      const result = JSON.parse(readFileSync(join(runDir, 'result.json'), 'utf8')) as { verdict: string; lab: { tls?: boolean; provider?: string } };
      expect(result.verdict).toBe('pass');
      expect(result.lab.tls).toBe(true);
      const events = readFileSync(join(runDir, 'trace.ndjson'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const runEvent = events.find((e) => e['kind'] === 'run') as { run: { lab: { provider: string; tls?: boolean }; job: string } };
      expect(runEvent.run.lab).toMatchObject({ provider: 'inventory', tls: true });
      // The hosts ran spread before: a job of its own name, so the earlier runs' allocations (purged,
      // not yet collected by Nomad) are not read as this run's.
      expect(runEvent.run.job).toMatch(/^spread-[0-9a-f]{4}$/);
      // The capture step ran the nomad CLI here against the lab over HTTPS, with the CLI's certificate.
      const screen = events.find((e) => e['kind'] === 'screen')!;
      expect(screen['exitCode']).toBe(0);
      expect(screen['text']).toContain('Client Status');
      expect(readFileSync(join(runDir, 'report.html'), 'utf8')).toContain(' · TLS');
      // Kept (--keep): its keys are still here to look for.
      expectNoKeyIn(
        't-inv-tls',
        [['scenario output', r.stdout + r.stderr]],
        [...filesUnder(tlsReports), ...filesUnder(labDir('t-inv-tls')), ...plan.hosts.map((h) => hostSshd(dir, h).log)],
      );
    });
    expect(down.exitCode, `${down.stdout}\n${down.stderr}`).toBe(0);
    expect(agentsOf(dir)).toEqual([]);
    expect(existsSync(labDir('t-inv-tls'))).toBe(false);
  }, 180_000);

  it("lab up through the user's SSH agent alone; a second lab over the same hosts refused; lab shell; the fault playbooks of ansible/scenarios/ on the same hosts", async () => {
    // The inventory without a key file, and without IdentitiesOnly (which would hide the agent's keys from Ansible's ssh).
    const inv = JSON.parse(readFileSync(inventory, 'utf8')) as { all: { vars: Record<string, unknown> } };
    delete inv.all.vars['ansible_ssh_private_key_file'];
    inv.all.vars['ansible_ssh_common_args'] = String(inv.all.vars['ansible_ssh_common_args']).replace('-o IdentitiesOnly=yes ', '');
    const agentInventory = join(scratch, 'agent-inventory.json');
    writeFileSync(agentInventory, JSON.stringify(inv));
    const noAgent = await labCli(['up', '--inventory', agentInventory, '--lab', 't-inv'], { SSH_AUTH_SOCK: '' });
    expect(noAgent.exitCode, noAgent.stderr).not.toBe(0);
    if (defaultIdentity() === undefined) {
      expect(noAgent.exitCode).toBe(2);
      expect(noAgent.stderr).toMatch(/no SSH key, and no SSH agent \(SSH_AUTH_SOCK is not set\)/);
    }
    agent = spawn('ssh-agent', ['-D', '-a', agentSocket], { stdio: 'ignore' });
    expect(await pollUntil(() => existsSync(agentSocket), { timeoutMs: 10_000, intervalsMs: [50] })).toBe(true);
    const withAgent = { SSH_AUTH_SOCK: agentSocket };
    await run(['ssh-add', sshdPaths(dir).clientKey], { env: { ...process.env, ...withAgent } as Record<string, string> });

    const up = await labCli(['up', '--inventory', agentInventory, '--lab', 't-inv'], withAgent);
    expect(up.exitCode, up.stderr).toBe(0);
    // Ansible (provisioning over OpenSSH) had the agent too: the agents run.
    expect(agentsOf(dir)).toEqual(['client1', 'client2', 'server1']);
    // No key file at all (this machine's root has no ~/.ssh/id_* either): the agent's key did it.
    if (defaultIdentity() === undefined)
      expect(readLab('t-inv')?.plan.hosts.map((h) => (h as { ssh?: { identityFile?: string } }).ssh?.identityFile)).toEqual([undefined, undefined, undefined]);

    // The same hosts for a second lab: refused before anything is done, naming the lab that holds them.
    const started = Date.now();
    const second = await labCli(['up', '--inventory', agentInventory, '--lab', 't-inv2'], withAgent);
    expect(second.exitCode, second.stderr).toBe(2);
    expect(second.stderr).toMatch(/lab t-inv2 would use hosts that lab t-inv \(inventory\) holds: .*:22 \(SSH of server1\).*; it is up, kept by `lab up`/);
    expect(second.stderr).toMatch(/nomad-lab lab down --lab t-inv/);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(existsSync(labDir('t-inv2'))).toBe(false);
    expect(agentsOf(dir)).toEqual(['client1', 'client2', 'server1']);
    const client1 = plan.hosts.find((h) => h.name === 'client1')!;
    const server = plan.hosts.find((h) => h.role === 'server')!;

    // lab shell on an SSH lab: OpenSSH's client in a real terminal, the host key checked, and the
    // login lands in client1's namespace (its sshd runs there): its address, no other.
    const shell = openPty(['node', nomadLab, 'lab', 'shell', 'client1', '--lab', 't-inv'], {
      env: { ...process.env, NO_COLOR: '1', ...withAgent } as Record<string, string>,
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

    const down = await labCli(['down', '--lab', 't-inv'], withAgent);
    expect(down.exitCode, `${down.stdout}\n${down.stderr}`).toBe(0);
    expect(existsSync(labDir('t-inv'))).toBe(false);
  }, 240_000);

  it('a lab whose hosts do not answer keeps its state and its hold on the hosts until `lab down --forget`, which contacts no host', async () => {
    // The sshd lab's hosts, on a port where nothing listens.
    const inv = JSON.parse(readFileSync(inventory, 'utf8')) as { all: { vars: Record<string, unknown> } };
    inv.all.vars['ansible_port'] = 2222;
    const gone = join(scratch, 'gone-inventory.json');
    writeFileSync(gone, JSON.stringify(inv));
    const up = await labCli(['up', '--inventory', gone, '--lab', 't-inv3']);
    expect(up.exitCode, up.stderr).toBe(4);
    expect(up.stderr).toMatch(/SSH to root@\S+:2222 failed: connect ECONNREFUSED/);
    expect(up.stderr).toMatch(/nomad-lab lab down --forget --lab t-inv3/);
    expect(readLab('t-inv3')?.phase).toBe('destroying');
    // It still holds the hosts (their Nomad addresses are the sshd lab's): another lab on them is refused.
    const other = await labCli(['up', '--inventory', inventory, '--lab', 't-inv']);
    expect(other.exitCode, other.stderr).toBe(2);
    expect(other.stderr).toMatch(/lab t-inv would use hosts that lab t-inv3 \(inventory\) holds: .*:4646 \(Nomad on server1\).*teardown did not finish/);

    const started = Date.now();
    const forget = await labCli(['down', '--forget', '--lab', 't-inv3']);
    expect(forget.exitCode, `${forget.stdout}\n${forget.stderr}`).toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(forget.stderr).toMatch(/lab t-inv3 forgotten without contacting its hosts/);
    expect(forget.stderr).toMatch(/not cleaned on the hosts, should they come back:/);
    expect(existsSync(labDir('t-inv3'))).toBe(false);
    // Not a teardown: a teardown reports each step it tries on a host (`teardown t-inv3: ...`).
    expect(forget.stderr).not.toMatch(/teardown t-inv3/);
    const netnsForget = await labCli(['down', '--forget', '--lab', name]);
    expect(netnsForget.exitCode).toBe(2);
    expect(netnsForget.stderr).toMatch(/--forget is for SSH labs .* lab t-sshd is a netns lab/);
  }, 120_000);

  it('lab down leaves nothing: namespaces, sshd, agents, rules, mounts', async () => {
    const down = await labCli(['down', '--lab', name]);
    expect(down.exitCode, `${down.stdout}\n${down.stderr}`).toBe(0);
    expect(await auditLeaks(name)).toEqual([]);
    expect(agentsOf(dir)).toEqual([]);
    expect(allPids().filter((pid) => cmdline(pid).join(' ').includes(`${dir}/ssh/`))).toEqual([]);
  }, 60_000);
});
