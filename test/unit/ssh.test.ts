// Unit: the SSH layer's pure parts: quoting argv for the remote shell (checked against a real sh),
// known_hosts matching and pinning, the service commands per manager, `vagrant ssh-config`.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../harness/exec/local.ts';
import { hostKeyAlgorithms, keyEntry, knownHostsName, knownKeys, quoteArgv, verifyHostKey } from '../../harness/exec/ssh.ts';
import type { RemoteHost } from '../../harness/lab/inventory.ts';
import { serviceArgv } from '../../harness/lab/service.ts';

const dir = mkdtempSync(join(tmpdir(), 'nomad-lab-ssh-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An SSH wire-format public key blob: string type, then key bytes. */
function blob(type: string, key: string): Buffer {
  const t = Buffer.from(type);
  const k = Buffer.from(key);
  const len = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  return Buffer.concat([len(t.length), t, len(k.length), k]);
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

describe('host keys', () => {
  const key = blob('ssh-ed25519', 'first-key-bytes');
  const other = blob('ssh-ed25519', 'other-key-bytes');

  it('names hosts as OpenSSH does and reads the key type from the blob', () => {
    expect(knownHostsName('10.0.0.1', 22)).toBe('10.0.0.1');
    expect(knownHostsName('127.0.0.1', 2222)).toBe('[127.0.0.1]:2222');
    expect(keyEntry(key)).toBe(`ssh-ed25519 ${key.toString('base64')}`);
    const text = `# comment\n10.0.0.1,other ssh-ed25519 AAAA\n[127.0.0.1]:2222 ssh-rsa BBBB\n`;
    expect(knownKeys(text, '10.0.0.1')).toEqual(['ssh-ed25519 AAAA']);
    expect(knownKeys(text, '[127.0.0.1]:2222')).toEqual(['ssh-rsa BBBB']);
    expect(knownKeys(text, '127.0.0.1')).toEqual([]);
  });

  it('pins an unknown host, accepts it again, and refuses a changed key', () => {
    const file = join(dir, 'known_hosts');
    const target = { address: '198.18.5.21', port: 22, knownHosts: file };
    expect(verifyHostKey(target, key)).toEqual({ ok: true, pinned: true });
    expect(readFileSync(file, 'utf8')).toBe(`198.18.5.21 ${keyEntry(key)}\n`);
    expect(verifyHostKey(target, key)).toEqual({ ok: true, pinned: false });
    const changed = verifyHostKey(target, other);
    expect(changed.ok).toBe(false);
    expect(!changed.ok && changed.why).toMatch(/198\.18\.5\.21 \(ssh-ed25519\) differs from the one pinned in .*known_hosts/);
    // Another port of the same address is another host.
    expect(verifyHostKey({ ...target, port: 2200 }, other)).toEqual({ ok: true, pinned: true });
  });

  it("matches OpenSSH's hashed names, never accepts a @revoked key, and skips CA lines", async () => {
    const file = join(dir, 'hashed');
    // A hashed entry written by OpenSSH itself (ssh-keygen -H), for the name 198.18.5.30.
    writeFileSync(file, `198.18.5.30 ${keyEntry(key)}\n`);
    await run(['ssh-keygen', '-H', '-f', file]);
    const hashedText = readFileSync(file, 'utf8');
    expect(hashedText).toMatch(/^\|1\|/);
    expect(knownKeys(hashedText, '198.18.5.30')).toEqual([keyEntry(key)]);
    expect(knownKeys(hashedText, '198.18.5.3')).toEqual([]);
    expect(verifyHostKey({ address: '198.18.5.30', port: 22, knownHosts: file }, other).ok).toBe(false);
    const revoked = `@revoked 198.18.5.31 ${keyEntry(key)}\n@cert-authority 198.18.5.31 ${keyEntry(other)}\n`;
    writeFileSync(join(dir, 'revoked'), revoked);
    expect(knownKeys(revoked, '198.18.5.31')).toEqual([]);
    const v = verifyHostKey({ address: '198.18.5.31', port: 22, knownHosts: join(dir, 'revoked') }, key);
    expect(v.ok === false && v.why).toMatch(/@revoked/);
  });

  it('offers the server only the key types known_hosts holds', () => {
    expect(hostKeyAlgorithms([])).toBeUndefined();
    expect(hostKeyAlgorithms(['ssh-rsa'])).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    expect(hostKeyAlgorithms(['ssh-ed25519', 'ssh-ed25519', 'ecdsa-sha2-nistp256'])).toEqual(['ssh-ed25519', 'ecdsa-sha2-nistp256']);
  });

  it('checks against a known_hosts written beforehand without pinning anything', () => {
    const file = join(dir, 'prefilled');
    writeFileSync(file, `198.18.5.22 ${keyEntry(key)}\n`);
    expect(verifyHostKey({ address: '198.18.5.22', port: 22, knownHosts: file }, other).ok).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe(`198.18.5.22 ${keyEntry(key)}\n`);
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
