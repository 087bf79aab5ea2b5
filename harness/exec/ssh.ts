// Remote hosts over SSH: the one place ssh2 is imported. Commands are argument arrays, quoted here
// for the remote shell; host keys are checked against a known_hosts file (pinned on first use).
import { existsSync, mkdirSync, readFileSync, appendFileSync } from 'node:fs';
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

/** The keys known_hosts lists for a name (plain entries; hashed entries are not matched). */
export function knownKeys(text: string, name: string): string[] {
  const keys: string[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 3 || fields[0]!.startsWith('#') || fields[0]!.startsWith('@')) continue;
    if (fields[0]!.split(',').includes(name)) keys.push(`${fields[1]} ${fields[2]}`);
  }
  return keys;
}

type Verdict = { ok: true; pinned: boolean } | { ok: false; why: string };

/** Checks an offered host key against the file; pins it when the file has no key for the host. */
export function verifyHostKey(target: Pick<SshTarget, 'address' | 'port' | 'knownHosts'>, blob: Buffer): Verdict {
  const name = knownHostsName(target.address, target.port);
  const offered = keyEntry(blob);
  const text = existsSync(target.knownHosts) ? readFileSync(target.knownHosts, 'utf8') : '';
  const known = knownKeys(text, name);
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
      client.connect({
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
        const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
          timedOut = true;
          stream.close();
        }, options.timeoutMs);
        const onAbort = () => stream.close();
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

