// Remote hosts over SSH: the one place ssh2 is imported. Commands are argument arrays, quoted here
// for the remote shell; host keys are checked against a known_hosts file (pinned on first use).
import { existsSync, mkdirSync, readFileSync, appendFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { dirname } from 'node:path';
import ssh2 from 'ssh2';
import { HarnessError } from '../util/errors.ts';
import type { RunResult } from './local.ts';

export interface SshTarget {
  /** Lab host name, for messages ("client1"). */
  name: string;
  /** Address or DNS name the SSH server listens on. */
  address: string;
  port: number;
  user: string;
  /** Private key file (the lab's own key, a Vagrant machine's, or the user's). */
  identityFile: string;
  /** OpenSSH known_hosts file: the key of address:port is checked, or pinned when absent. */
  knownHosts: string;
}

export interface SshRunOptions {
  timeoutMs?: number;
  /** When false, a non-zero exit is returned instead of thrown. */
  check?: boolean;
  input?: string | Buffer;
  signal?: AbortSignal;
}

/** POSIX shell quoting of one word: safe words stay readable, anything else is single-quoted. */
export function quoteWord(word: string): string {
  if (/^[\w@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The command line an argv becomes on the remote shell. Every word is quoted; nothing is expanded. */
export function quoteArgv(argv: readonly string[]): string {
  if (argv.length === 0) throw new HarnessError('empty command');
  return argv.map(quoteWord).join(' ');
}

/** How known_hosts names a host: bare for port 22, [address]:port otherwise. */
export function knownHostsName(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

/** An SSH public key blob as a known_hosts entry's "type base64" (the type is the blob's first string). */
export function keyEntry(blob: Buffer): string {
  const len = blob.readUInt32BE(0);
  return `${blob.subarray(4, 4 + len).toString('latin1')} ${blob.toString('base64')}`;
}

/** Whether a known_hosts name field (plain list, or OpenSSH's hashed `|1|salt|hash`) names `name`. */
function namesHost(field: string, name: string): boolean {
  const hashed = /^\|1\|([^|]+)\|(.+)$/.exec(field);
  if (hashed) return createHmac('sha1', Buffer.from(hashed[1]!, 'base64')).update(name).digest('base64') === hashed[2];
  return field.split(',').includes(name);
}

/** The keys known_hosts lists for a name, and those it marks @revoked (never accepted). */
export function knownKeys(text: string, name: string): string[] {
  return knownEntries(text, name)
    .filter((e) => !e.revoked)
    .map((e) => e.key);
}

function knownEntries(text: string, name: string): Array<{ key: string; revoked: boolean }> {
  const entries: Array<{ key: string; revoked: boolean }> = [];
  for (const line of text.split('\n')) {
    let fields = line.trim().split(/\s+/);
    if (fields[0]?.startsWith('#')) continue;
    const marker = fields[0]?.startsWith('@') ? fields[0] : undefined;
    if (marker) fields = fields.slice(1);
    // @cert-authority lines name CAs, not host keys: the harness does not verify certificates.
    if (fields.length < 3 || marker === '@cert-authority') continue;
    if (namesHost(fields[0]!, name)) entries.push({ key: `${fields[1]} ${fields[2]}`, revoked: marker === '@revoked' });
  }
  return entries;
}

/** Host key algorithms ssh2 may negotiate so that the server offers a key type known_hosts has. */
export function hostKeyAlgorithms(knownTypes: string[]): string[] | undefined {
  const algorithms = knownTypes.flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]));
  return algorithms.length > 0 ? [...new Set(algorithms)] : undefined;
}

type Verdict = { ok: true; pinned: boolean } | { ok: false; why: string };

/** Checks an offered host key against the file; pins it when the file has no key for the host. */
export function verifyHostKey(target: Pick<SshTarget, 'address' | 'port' | 'knownHosts'>, blob: Buffer): Verdict {
  const name = knownHostsName(target.address, target.port);
  const offered = keyEntry(blob);
  const text = existsSync(target.knownHosts) ? readFileSync(target.knownHosts, 'utf8') : '';
  const entries = knownEntries(text, name);
  if (entries.some((e) => e.revoked && e.key === offered)) return { ok: false, why: `host key of ${name} is marked @revoked in ${target.knownHosts}` };
  const known = entries.filter((e) => !e.revoked).map((e) => e.key);
  if (known.length === 0) {
    mkdirSync(dirname(target.knownHosts), { recursive: true, mode: 0o700 });
    appendFileSync(target.knownHosts, `${text === '' || text.endsWith('\n') ? '' : '\n'}${name} ${offered}\n`, { mode: 0o600 });
    return { ok: true, pinned: true };
  }
  if (known.includes(offered)) return { ok: true, pinned: false };
  const type = offered.split(' ')[0];
  return { ok: false, why: `host key of ${name} (${type}) differs from the one pinned in ${target.knownHosts}` };
}

/** One SSH connection per target, opened on first use and reused; `closeAll` ends them. */
export class SshPool {
  private readonly open = new Map<string, Promise<ssh2.Client>>();

  constructor(private readonly onPin: (target: SshTarget) => void = () => undefined) {}

  private key(t: SshTarget): string {
    return `${t.user}@${t.address}:${t.port}`;
  }

  private connect(target: SshTarget): Promise<ssh2.Client> {
    const k = this.key(target);
    const existing = this.open.get(k);
    if (existing) return existing;
    const opened = new Promise<ssh2.Client>((resolve, reject) => {
      let privateKey: Buffer;
      try {
        privateKey = readFileSync(target.identityFile);
      } catch (cause) {
        reject(new HarnessError(`cannot read the SSH key ${target.identityFile}`, { host: target.name, cause }));
        return;
      }
      const client = new ssh2.Client();
      let refused: string | undefined;
      client
        .on('ready', () => resolve(client))
        .on('error', (error: Error) => {
          this.open.delete(k);
          const why = refused ?? error.message;
          reject(
            new HarnessError(`SSH to ${target.user}@${target.address}:${target.port} failed: ${why}`, {
              host: target.name,
              cause: error,
              hint: refused
                ? `if the host was rebuilt, remove its line from ${target.knownHosts} (ssh-keygen -R '${knownHostsName(target.address, target.port)}' -f ${target.knownHosts})`
                : 'check that sshd runs there and accepts this key for this user',
            }),
          );
        })
        .on('close', () => this.open.delete(k));
      // Offer only the key types known_hosts holds for the host (an RSA-only entry must not meet an
      // ed25519 key and be refused as a changed key); none known: any, and the first is pinned.
      const known = existsSync(target.knownHosts) ? knownKeys(readFileSync(target.knownHosts, 'utf8'), knownHostsName(target.address, target.port)) : [];
      const serverHostKey = hostKeyAlgorithms(known.map((k) => k.split(' ')[0]!));
      client.connect({
        ...(serverHostKey ? { algorithms: { serverHostKey: serverHostKey as ssh2.ServerHostKeyAlgorithm[] } } : {}),
        host: target.address,
        port: target.port,
        username: target.user,
        privateKey,
        readyTimeout: 15_000,
        keepaliveInterval: 5_000,
        keepaliveCountMax: 3,
        hostVerifier: (blob: Buffer) => {
          const v = verifyHostKey(target, blob);
          if (!v.ok) refused = v.why;
          else if (v.pinned) this.onPin(target);
          return v.ok;
        },
      });
    });
    this.open.set(k, opened);
    return opened;
  }

  /** Runs argv on the target; errors name the host, the command and the cause (stderr first). */
  async run(target: SshTarget, argv: readonly string[], options: SshRunOptions = {}): Promise<RunResult> {
    const line = quoteArgv(argv);
    const client = await this.connect(target);
    options.signal?.throwIfAborted();
    const result = await new Promise<RunResult>((resolve, reject) => {
      client.exec(line, (error, stream) => {
        if (error) {
          reject(new HarnessError(`SSH exec failed: ${error.message}`, { host: target.name, command: argv, cause: error }));
          return;
        }
        let stdout = '';
        let stderr = '';
        let timedOut = false;
        // Ending the channel alone leaves the command running on the host: signal it first (sshd
        // passes the signal on; older servers ignore it and the command ends with the session).
        const stop = () => {
          try {
            stream.signal('KILL');
          } catch {
            // the channel is already gone
          }
          stream.close();
        };
        const timer =
          options.timeoutMs === undefined
            ? undefined
            : setTimeout(() => {
                timedOut = true;
                stop();
              }, options.timeoutMs);
        const onAbort = stop;
        options.signal?.addEventListener('abort', onAbort, { once: true });
        stream.on('data', (d: Buffer) => (stdout += d.toString()));
        stream.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        stream.on('close', (code: number | null, signalName?: string) => {
          if (timer) clearTimeout(timer);
          options.signal?.removeEventListener('abort', onAbort);
          const exitCode = typeof code === 'number' ? code : signalName ? 128 : -1;
          resolve({ argv, exitCode, stdout: stdout.replace(/\n$/, ''), stderr: stderr.replace(/\n$/, ''), timedOut });
        });
        if (options.input !== undefined) stream.end(options.input);
        else stream.end();
      });
    });
    if (options.signal?.aborted) throw options.signal.reason;
    if (result.exitCode !== 0 && (options.check ?? true)) {
      const why = result.timedOut ? `timed out after ${options.timeoutMs} ms` : `exit code ${result.exitCode}`;
      const detail = (result.stderr || result.stdout).trim().split('\n').slice(-6).join('\n    ');
      throw new HarnessError(`command failed over SSH (${why})${detail ? `:\n    ${detail}` : ''}`, { host: target.name, command: argv });
    }
    return result;
  }

  /** Closes every connection (the end of a run or command). */
  async closeAll(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    for (const p of all) {
      const c = await p.catch(() => undefined);
      c?.end();
    }
  }
}
