// Unit: the SSH layer's pure parts and its use of OpenSSH's tools: quoting argv for the remote shell
// (checked against a real sh), host keys looked up with the real `ssh -G` and `ssh-keygen -F` in
// known_hosts files of every form and judged as ssh would, the service commands per manager.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../harness/exec/local.ts';
import {
  fingerprint,
  hostKeyAlgorithms,
  judgeHostKey,
  keyEntry,
  knownHostsFiles,
  knownHostsName,
  lookUpHostKeys,
  parseKeygenFind,
  quoteArgv,
  type SshTarget,
} from '../../harness/exec/ssh.ts';
import type { RemoteHost } from '../../harness/lab/inventory.ts';
import { serviceArgv } from '../../harness/lab/service.ts';

const dir = mkdtempSync(join(tmpdir(), 'nomad-lab-ssh-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A new ed25519 key made by ssh-keygen: its known_hosts form ("type base64") and its wire blob. */
async function newKey(name: string): Promise<{ entry: string; blob: Buffer }> {
  const file = join(dir, name);
  await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
  const [type, b64] = readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/);
  return { entry: `${type} ${b64}`, blob: Buffer.from(b64!, 'base64') };
}

describe('quoteArgv', () => {
  it('reaches the remote shell as the same words, whatever they hold', async () => {
    const words = ['iptables', '-w', '-I', 'INPUT', "it's", 'a b', '$(touch /tmp/pwned)', '`id`', '"q"', '*', ';rm -rf /', 'tab\there', 'new\nline', ''];
    const line = quoteArgv(['python3', '-c', 'import json,sys; print(json.dumps(sys.argv[1:]))', ...words]);
    const r = await run(['sh', '-c', line]);
    expect(JSON.parse(r.stdout)).toEqual(words);
  });

  it('leaves plain words readable and refuses an empty command', () => {
    expect(quoteArgv(['iptables', '-w', '-D', 'INPUT', '-s', '198.18.1.11', '-j', 'DROP'])).toBe('iptables -w -D INPUT -s 198.18.1.11 -j DROP');
    expect(() => quoteArgv([])).toThrow(/empty command/);
  });
});

describe('host keys, through ssh -G and ssh-keygen -F', () => {
  let host: { entry: string; blob: Buffer };
  let other: { entry: string; blob: Buffer };
  let ca: { entry: string; blob: Buffer };
  let file: string;
  const target = (address: string, port = 22, knownHosts = file): SshTarget => ({ name: 'client1', address, port, user: 'root', knownHosts });
  const judge = async (t: SshTarget, blob: Buffer, pinInto?: string) => judgeHostKey(await lookUpHostKeys(t), blob, { ...t, pinInto });

  beforeAll(async () => {
    [host, other, ca] = [await newKey('host'), await newKey('other'), await newKey('ca')];
    file = join(dir, 'known_hosts');
    writeFileSync(
      file,
      [
        '# every form OpenSSH reads',
        `10.0.0.1,client1.example ${host.entry}`,
        `[10.0.0.2]:2222 ${host.entry}`,
        `10.0.1.* ${host.entry}`,
        `!10.0.2.5,10.0.2.* ${host.entry}`,
        `@revoked 10.0.3.1 ${host.entry}`,
        `10.0.3.1 ${host.entry}`,
        `@cert-authority *.certs.example,10.0.4.* ${ca.entry}`,
        `10.0.6.1 ${host.entry}`,
        `@revoked * ${other.entry}`,
        '',
      ].join('\n'),
    );
    // A hashed entry, written by OpenSSH itself (ssh-keygen -H), for 10.0.5.1.
    const hashed = join(dir, 'hashed');
    writeFileSync(hashed, `10.0.5.1 ${host.entry}\n`);
    await run(['ssh-keygen', '-H', '-f', hashed]);
    writeFileSync(file, readFileSync(hashed, 'utf8'), { flag: 'a' });
  });

  it('names hosts as OpenSSH does and reads the key type and fingerprint from the blob', async () => {
    expect(knownHostsName('10.0.0.1', 22)).toBe('10.0.0.1');
    expect(knownHostsName('127.0.0.1', 2222)).toBe('[127.0.0.1]:2222');
    expect(keyEntry(host.blob)).toBe(host.entry);
    const lf = await run(['ssh-keygen', '-l', '-f', join(dir, 'host.pub')]);
    expect(lf.stdout).toContain(fingerprint(host.blob));
  });

  it('a file the target names replaces the user files; the global ones stay, as with ssh -o UserKnownHostsFile', async () => {
    const named = await knownHostsFiles(target('10.0.0.1'));
    expect(named.user).toEqual([file]);
    expect(named.global).toContain('/etc/ssh/ssh_known_hosts');
    const own = await knownHostsFiles({ name: 'x', address: '10.0.0.1', port: 22, user: 'root' });
    expect(own.user.length).toBeGreaterThan(0);
    expect(own.user.every((f) => f.startsWith('/') && f.includes('known_hosts'))).toBe(true);
  });

  it('accepts a listed key: plain names, ports, wildcards, hashed names', async () => {
    for (const [address, port] of [
      ['10.0.0.1', 22],
      ['client1.example', 22],
      ['10.0.0.2', 2222],
      ['10.0.1.77', 22],
      ['10.0.2.6', 22],
      ['10.0.5.1', 22],
    ] as const) {
      expect(await judge(target(address, port), host.blob), `${address}:${port}`).toEqual({ ok: true, pin: false });
    }
  });

  it('a port is part of the name; a negated name is not matched; unknown hosts are refused with the fix', async () => {
    for (const address of ['10.0.0.2', '10.0.2.5', '10.9.9.9']) {
      const v = await judge(target(address), host.blob);
      expect(v.ok, address).toBe(false);
      expect(!v.ok && v.why).toMatch(new RegExp(`no known host key for ${address.replaceAll('.', '\\.')} in .*known_hosts; it offers ssh-ed25519 SHA256:`));
      expect(!v.ok && v.hint).toContain(`ssh-keyscan -p 22 -t ssh-ed25519 ${address} >> ~/.ssh/known_hosts`);
      expect(!v.ok && v.hint).toMatch(/nomad_lab_known_hosts/);
    }
  });

  it('refuses a changed key, naming the file and line that hold the known one', async () => {
    const v = await judge(target('10.0.0.1'), other.blob);
    expect(v.ok).toBe(false);
    // `other` is also @revoked for every host (line 10): revoked wins over changed.
    expect(!v.ok && v.why).toMatch(/is marked @revoked in .*known_hosts:10/);
    const third = await newKey('third');
    const changed = await judge(target('10.0.0.1'), third.blob);
    expect(!changed.ok && changed.why).toMatch(new RegExp(`host key of 10\\.0\\.0\\.1 \\(ssh-ed25519 SHA256:\\S+\\) differs from the one known in ${file}:2`));
    expect(!changed.ok && changed.hint).toMatch(/ssh-keygen -R '10\.0\.0\.1'/);
  });

  it('never accepts a @revoked key, even where a plain line lists it too', async () => {
    const v = await judge(target('10.0.3.1'), host.blob);
    expect(v.ok === false && v.why).toMatch(new RegExp(`@revoked in ${file}:6`));
  });

  it('a host known only through @cert-authority is refused: ssh2 cannot check its certificate', async () => {
    for (const address of ['10.0.4.9', 'edge.certs.example']) {
      const v = await judge(target(address), host.blob);
      expect(v.ok === false && v.why).toMatch(new RegExp(`known only through @cert-authority \\(${file}:8\\).*cannot check host certificates`));
      expect(v.ok === false && v.hint).toContain(`ssh-keyscan -p 22 -t ssh-ed25519 ${address}`);
    }
  });

  it('pins an unknown host only where asked (a host the harness made), never past a known or revoked key', async () => {
    const own = join(dir, 'own_known_hosts');
    expect(await judge(target('10.9.9.9', 22, own), host.blob, own)).toEqual({ ok: true, pin: true });
    expect((await judge(target('10.0.0.1', 22, file), (await newKey('fourth')).blob, file)).ok).toBe(false);
    expect((await judge(target('10.9.9.9', 22, file), other.blob, file)).ok).toBe(false);
  });

  it('reads what ssh-keygen -F prints: line numbers, markers, hashed names', () => {
    const out = [
      '# Host 10.0.3.1 found: line 6 REVOKED',
      `@revoked 10.0.3.1 ${host.entry}`,
      '# Host 10.0.3.1 found: line 7 ',
      `|1|abc=|def= ${host.entry} comment here`,
      '# Host 10.0.3.1 found: line 8 CA',
      `@cert-authority 10.0.3.* ${ca.entry}`,
      `@unknown-marker 10.0.3.1 ${host.entry}`,
    ].join('\n');
    expect(parseKeygenFind(out, '/kh')).toEqual([
      { file: '/kh', line: 6, marker: 'revoked', key: host.entry },
      { file: '/kh', line: 7, key: host.entry },
      { file: '/kh', line: 8, marker: 'cert-authority', key: ca.entry },
    ]);
  });

  it('offers the server only the key types known_hosts holds, of those ssh2 knows', () => {
    expect(hostKeyAlgorithms([])).toBeUndefined();
    expect(hostKeyAlgorithms(['ssh-rsa'])).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    expect(hostKeyAlgorithms(['ssh-ed25519', 'ssh-ed25519', 'ecdsa-sha2-nistp256'])).toEqual(['ssh-ed25519', 'ecdsa-sha2-nistp256']);
    expect(hostKeyAlgorithms(['sk-ssh-ed25519@openssh.com'])).toBeUndefined();
  });
});

describe('serviceArgv', () => {
  const host = (manager: 'systemd' | 'daemon'): RemoteHost => ({
    name: 'client1',
    role: 'client',
    index: 1,
    datacenter: 'dc1',
    ip: '198.18.5.21',
    ssh: { name: 'client1', address: '198.18.5.21', port: 22, user: 'root', identityFile: '/k', knownHosts: '/kh' },
    manager,
    service: 'nomad',
    binary: '/lab/client1/bin/nomad',
    dataDir: '/lab/client1/data',
    configDir: '/lab/client1/config',
    pidFile: '/lab/client1/agent.pid',
    logFile: '/lab/client1/agent.log',
  });

  it('systemd: signals reach the agent only (its tasks live in the same unit), start/stop through systemctl', () => {
    expect(serviceArgv(host('systemd'), 'kill')).toEqual([['systemctl', 'kill', '--kill-who=main', '--signal=SIGKILL', 'nomad.service']]);
    expect(serviceArgv(host('systemd'), 'pause')[0]).toContain('--signal=SIGSTOP');
    expect(serviceArgv(host('systemd'), 'status')).toEqual([['systemctl', 'is-active', '--quiet', 'nomad.service']]);
    expect(serviceArgv(host('systemd'), 'logs')[0]!.slice(0, 3)).toEqual(['journalctl', '--unit', 'nomad.service']);
  });

  it('daemon: start-stop-daemon matches pid file and executable; restart is stop then start', () => {
    const kill = serviceArgv(host('daemon'), 'kill')[0]!;
    expect(kill).toEqual(['start-stop-daemon', '--stop', '--signal', 'KILL', '--pidfile', '/lab/client1/agent.pid', '--exec', '/lab/client1/bin/nomad']);
    const restart = serviceArgv(host('daemon'), 'restart');
    expect(restart.map((a) => a[1])).toEqual(['--stop', '--start']);
    expect(restart[1]!.slice(-3)).toEqual(['--', 'agent', '-config=/lab/client1/config']);
    expect(serviceArgv(host('daemon'), 'logs')).toEqual([['tail', '-n', '20000', '/lab/client1/agent.log']]);
  });
});
