// Lab (root sets up, a user runs; real agents over real SSH; runs in CI): labs over SSH need no root.
// An sshd per namespace stands in for a site's hosts (made as root, as netns needs). Then a user who
// is not root — uid 65534 in a user namespace of its own, so the harness and ssh see a plain user
// while the checkout (a clone under /root, mode 0700) stays readable — brings an inventory lab up,
// runs spread on it and tears it down, with the state under their $XDG_STATE_HOME; and is refused a
// netns lab before anything is made. Last, root under sudo: `~` (the default key, ~/.ssh/config and
// its known_hosts) is the user's who ran sudo, for the harness and for Ansible alike.
import { chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { labDir, nomadCache, repoRoot } from '../../harness/config/paths.ts';
import { run, type RunResult } from '../../harness/exec/local.ts';
import { sshdPaths } from '../../harness/lab/sshd.ts';
import { readState } from '../../harness/lab/store.ts';
import { isRoot, labCli, nomadLab, ownsLab } from './support.ts';

const hosts = 't-usr-hosts';
const home = mkdtempSync(join(tmpdir(), 'nomad-lab-user-home-'));
const stateHome = join(home, 'state');
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** `nomad-lab <args>` as a user who is not root, with a home and XDG state directory of their own. */
function asUser(args: string[]): Promise<RunResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('NOMAD_LAB_') && k !== 'SUDO_USER') env[k] = v;
  return run(['unshare', '--user', '--map-user=65534', '--map-group=65534', 'node', nomadLab, ...args], {
    check: false,
    timeoutMs: 170_000,
    cwd: repoRoot,
    // The Nomad build cache stays root's (a user would have built or downloaded their own).
    env: { ...env, HOME: home, XDG_STATE_HOME: stateHome, NOMAD_LAB_CACHE: nomadCache() },
  });
}

describe.skipIf(!isRoot)('a user who is not root', () => {
  ownsLab(hosts);
  let inventory: string;
  const userLab = join(stateHome, 'nomad-lab', 'labs', 't-usr');

  it('brings an inventory lab up with its state under $XDG_STATE_HOME, runs spread on it, and tears it down', async () => {
    const up = await labCli(['up', '--sshd', '--lab', hosts]);
    expect(up.exitCode, up.stderr).toBe(0);
    inventory = sshdPaths(readState(hosts)!.dir).inventory;

    // A run brings its own SSH lab up and down (a lab someone brought up is not a run's to reuse).
    const reports = join(home, 'reports');
    const spread = await asUser(['scenario', 'spread', '--inventory', inventory, '--lab', 't-usr', '--reports', reports]);
    expect(spread.exitCode, `${spread.stdout}\n${spread.stderr}`).toBe(0);
    expect(readdirSync(join(reports, 'spread'))).toHaveLength(1);
    expect(existsSync(userLab)).toBe(false);

    const lab = await asUser(['lab', 'up', '--inventory', inventory, '--lab', 't-usr']);
    expect(lab.exitCode, `${lab.stdout}\n${lab.stderr}`).toBe(0);
    expect(existsSync(join(userLab, 'state.json'))).toBe(true);
    expect(existsSync(labDir('t-usr'))).toBe(false); // nothing in root's store
    const status = await asUser(['lab', 'status', '--lab', 't-usr']);
    expect(status.exitCode, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/client\d/);

    const down = await asUser(['lab', 'down', '--lab', 't-usr']);
    expect(down.exitCode, `${down.stdout}\n${down.stderr}`).toBe(0);
    expect(existsSync(userLab)).toBe(false);
  }, 400_000);

  it('is refused a netns lab before anything is made, with the way out in the message', async () => {
    const r = await asUser(['lab', 'up', '--lab', 't-usr-net']);
    expect(r.exitCode).toBe(4);
    expect(r.stderr).toContain('netns labs need root');
    expect(r.stderr).toContain('--inventory');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(labDir('t-usr-net'))).toBe(false);
    expect(existsSync(join(stateHome, 'nomad-lab', 'labs', 't-usr-net'))).toBe(false);
    // `lab down` of a lab they do not have is not an error for them either.
    const down = await asUser(['lab', 'down', '--lab', 't-usr-net']);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(down.stderr).toContain('not up; nothing to do');
  }, 60_000);

  it("under sudo, the key and known_hosts are SUDO_USER's (their ~/.ssh), not root's", async () => {
    // A user of its own, with the lab's key as their default key and the hosts' keys in their known_hosts.
    const user = 'nl-sudo-t';
    const userHome = join(home, user);
    await run(['userdel', user], { check: false });
    await run(['useradd', '--system', '--no-create-home', '--home-dir', userHome, '--shell', '/usr/sbin/nologin', user]);
    try {
      const { uid, gid } = await idsOf(user);
      const ssh = sshdPaths(readState(hosts)!.dir);
      mkdirSync(join(userHome, '.ssh'), { recursive: true, mode: 0o700 });
      copyFileSync(ssh.clientKey, join(userHome, '.ssh', 'id_ed25519'));
      copyFileSync(ssh.knownHosts, join(userHome, '.ssh', 'known_hosts'));
      for (const f of [userHome, join(userHome, '.ssh'), join(userHome, '.ssh', 'id_ed25519'), join(userHome, '.ssh', 'known_hosts')]) chownSync(f, uid, gid);
      // The inventory names no key and no known_hosts: ssh's defaults decide, as for a site's inventory.
      const inv = JSON.parse(readFileSync(ssh.inventory, 'utf8')) as { all: { vars: Record<string, unknown> } };
      for (const k of ['ansible_ssh_private_key_file', 'ansible_ssh_common_args', 'nomad_lab_known_hosts']) delete inv.all.vars[k];
      const plain = join(home, 'site-inventory.json');
      writeFileSync(plain, JSON.stringify(inv));

      const noAgent = { SSH_AUTH_SOCK: '' };
      const asRoot = await labCli(['up', '--inventory', plain, '--lab', 't-sudo'], noAgent);
      expect(asRoot.exitCode, 'root has neither the key nor the host keys').not.toBe(0);
      const viaSudo = await labCli(['up', '--inventory', plain, '--lab', 't-sudo'], { ...noAgent, SUDO_USER: user });
      expect(viaSudo.exitCode, `${viaSudo.stdout}\n${viaSudo.stderr}`).toBe(0);
      const down = await labCli(['down', '--lab', 't-sudo'], { ...noAgent, SUDO_USER: user });
      expect(down.exitCode, `${down.stdout}\n${down.stderr}`).toBe(0);
    } finally {
      await run(['userdel', user], { check: false });
      await labCli(['down', '--forget', '--lab', 't-sudo']);
    }
  }, 300_000);
});

async function idsOf(user: string): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run(['id', '-u', user]), run(['id', '-g', user])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}
