// Lab (root, real agents): `lab shell <host>` opens bash inside the host's network namespace on a
// real terminal (driven through a pseudo-terminal); without a terminal it refuses with a hint for
// scripts; unknown hosts and labs are usage errors. Ends with teardown and the leak audit.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../harness/config/paths.ts';
import { openPty } from '../../harness/exec/pty.ts';
import { auditLeaks } from '../../harness/lab/audit.ts';
import { readState } from '../../harness/lab/store.ts';
import { nomadLab, isRoot, labCli, ownsLab } from './support.ts';

const name = 't-shell';
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe.skipIf(!isRoot)('lab shell', () => {
  ownsLab(name);

  it('opens bash in the host namespace: its address, its API as NOMAD_ADDR, the window size followed; exit returns 0', async () => {
    const up = await labCli(['up', '--lab', name]);
    expect(up.exitCode, up.stderr).toBe(0);
    const state = readState(name)!;
    const client1 = state.plan.hosts.find((h) => h.name === 'client1')!;
    const server1 = state.plan.hosts.find((h) => h.name === 'server1')!;

    const shell = openPty(['node', nomadLab, 'lab', 'shell', 'client1', '--lab', name], {
      env: { ...process.env, NO_COLOR: '1' } as Record<string, string>,
      cwd: repoRoot,
      cols: 120,
      rows: 30,
    });
    try {
      // The prompt names the lab, the host and its address.
      await shell.waitFor(new RegExp(`^\\[${name}/client1 ${escape(client1.ip)}\\] .*# $`, 'm'), 30_000);

      shell.write('ip -br addr\r');
      // Only the loopback and the host's own end of its veth pair, with the planned address.
      await shell.waitFor(new RegExp(`^${escape(client1.ifname)}@\\S+\\s+UP\\s+${escape(client1.ip)}/24`, 'm'), 10_000);
      let screen = (await shell.screen()).all;
      expect(screen).toMatch(/^lo\s+UNKNOWN\s+127\.0\.0\.1\/8/m);
      expect(screen).not.toContain(server1.ip);
      expect(screen).not.toContain(state.plan.bridge);

      // The Nomad CLI in the shell talks to this host's agent.
      shell.write(`echo "addr=$NOMAD_ADDR"; ${state.nomad.path} node status -self -short | grep '^Name'\r`);
      await shell.waitFor(/^Name\s+= client1$/m, 15_000);
      expect((await shell.screen()).all).toContain(`addr=http://${client1.ip}:4646`);

      // A resized window reaches the shell (SIGWINCH forwarded through lab shell's own terminal).
      shell.resize(100, 25);
      shell.write('stty size\r');
      await shell.waitFor(/^25 100$/m, 10_000);

      shell.write('exit\r');
      expect(await shell.exited).toEqual({ exitCode: 0, signal: undefined });
      screen = (await shell.screen()).all;
      expect(screen).not.toMatch(/\n\s+at /);
    } finally {
      shell.kill();
      shell.dispose();
    }
  }, 170_000);

  it("passes the shell's exit status on", async () => {
    const shell = openPty(['node', nomadLab, 'lab', 'shell', 'server1', '--lab', name], {
      env: process.env as Record<string, string>,
      cwd: repoRoot,
      cols: 80,
      rows: 24,
    });
    try {
      await shell.waitFor(new RegExp(`^\\[${name}/server1 `, 'm'), 30_000);
      shell.write('exit 7\r');
      expect((await shell.exited).exitCode).toBe(7);
    } finally {
      shell.kill();
      shell.dispose();
    }
  }, 60_000);

  it('without a terminal: exit 2, a clear message and the nsenter command for scripts, no stack trace', async () => {
    const client1 = readState(name)!.plan.hosts.find((h) => h.name === 'client1')!;
    const r = await labCli(['shell', 'client1', '--lab', name]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('lab shell needs a terminal;');
    expect(r.stderr).toContain(`NOMAD_ADDR=http://${client1.ip}:4646 nsenter --net=/run/netns/${client1.netns} -- <command>`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
  }, 60_000);

  it('an unknown host lists the lab hosts; an unknown lab says so; both exit 2', async () => {
    const host = await labCli(['shell', 'client7', '--lab', name]);
    expect(host.exitCode).toBe(2);
    expect(host.stderr).toMatch(
      /lab t-shell has no host named "client7"; its hosts: server1 \(server, [\d.]+\), client1 \(client, [\d.]+\), client2 \(client, [\d.]+\)/,
    );
    const lab = await labCli(['shell', 'client1', '--lab', 't-shell-nope']);
    expect(lab.exitCode).toBe(2);
    expect(lab.stderr).toContain('no lab named t-shell-nope on this machine');
    expect(`${host.stderr}${lab.stderr}`).not.toMatch(/\n\s+at /);
  }, 60_000);

  it('lab down leaves nothing behind', async () => {
    const down = await labCli(['down', '--lab', name]);
    expect(down.exitCode, `${down.stdout}\n${down.stderr}`).toBe(0);
    expect(await auditLeaks(name)).toEqual([]);
  }, 120_000);
});
