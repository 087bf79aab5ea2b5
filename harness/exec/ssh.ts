// Remote hosts over SSH: the one place ssh2 is imported. Commands are argument arrays, quoted here
// for the remote shell. Host keys are looked up with OpenSSH's own tools (`ssh -G` for which
// known_hosts files apply, `ssh-keygen -F` for the entries that match), so every known_hosts form
// OpenSSH reads (hashed names, wildcards, negation, @revoked, @cert-authority) means here what it
// means to ssh. Only hosts the harness made are pinned on first use, and only into its own file.
import { invokingUser } from '../config/user.ts';
import { existsSync, mkdirSync, readFileSync, appendFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import ssh2 from 'ssh2';
import { HarnessError } from '../util/errors.ts';
import { run, type RunResult } from './local.ts';

export interface SshTarget {
  /** Lab host name, for messages ("client1"). */
  name: string;
  /** Address or DNS name the SSH server listens on. */
  address: string;
  port: number;
  user: string;
  /** Private key file (the lab's own key, a Vagrant machine's, or the user's); none: the user's SSH agent only. */
  identityFile?: string;
  /**
   * The known_hosts file the inventory names (nomad_lab_known_hosts), or the harness's own: read instead
   * of the user's files, as `ssh -o UserKnownHostsFile=FILE` would. Undefined: the files ssh itself reads
   * for this host (`ssh -G`: ~/.ssh/known_hosts unless the user's ssh_config says otherwise).
   */
  knownHosts?: string;
  /**
   * Hosts the harness made (the VMs of its Vagrantfile): an unknown host key is pinned into
   * `knownHosts`, the harness's own file. Never set for an inventory's hosts: those must be known.
   */
  pinOnFirstUse?: boolean;
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

/** The key's SHA256 fingerprint as ssh prints it (`ssh-keygen -lf`, `ssh-keyscan | ssh-keygen -lf -`). */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** A known_hosts line that matched a host, as `ssh-keygen -F` found it. */
export interface KnownEntry {
  file: string;
  line: number;
  /** `@revoked`: never accepted. `@cert-authority`: a CA whose host certificates ssh would accept. */
  marker?: 'revoked' | 'cert-authority';
  /** "type base64", as in the file. */
  key: string;
}

/**
 * The entries in what `ssh-keygen -F NAME -f FILE` prints (pure): for each match a comment
 * `# Host NAME found: line N` (with REVOKED or CA after it for marked lines), then the line itself,
 * whose name field may be hashed or a pattern: ssh-keygen did the matching, as ssh would.
 */
export function parseKeygenFind(output: string, file: string): KnownEntry[] {
  const entries: KnownEntry[] = [];
  let line = 0;
  for (const raw of output.split('\n')) {
    const header = /^# Host \S+ found: line (\d+)/.exec(raw);
    if (header) {
      line = Number(header[1]);
      continue;
    }
    let fields = raw.trim().split(/\s+/);
    if (fields[0] === undefined || fields[0] === '' || fields[0].startsWith('#')) continue;
    const marker = fields[0] === '@revoked' ? 'revoked' : fields[0] === '@cert-authority' ? 'cert-authority' : undefined;
    if (fields[0].startsWith('@')) {
      // ssh skips a line with a marker it does not know; so does the harness.
      if (marker === undefined) continue;
      fields = fields.slice(1);
    }
    if (fields.length < 3) continue;
    entries.push({ file, line, ...(marker === undefined ? {} : { marker }), key: `${fields[1]} ${fields[2]}` });
  }
  return entries;
}

/**
 * The known_hosts files ssh reads for the target, as `ssh -G` reports them after the user's and the
 * system's ssh_config: the user's files (or the one the target names, as `-o UserKnownHostsFile`
 * would), then the global ones (/etc/ssh/ssh_known_hosts unless configured otherwise).
 */
export async function knownHostsFiles(
  target: Pick<SshTarget, 'name' | 'address' | 'port' | 'user' | 'knownHosts'>,
): Promise<{ user: string[]; global: string[] }> {
  // Under sudo, asked as the user who ran sudo: their ~/.ssh/config and their ~ in it, as their own ssh would.
  const user = invokingUser();
  const asUser = user.viaSudo ? ['runuser', '-u', user.name, '--'] : [];
  const argv = [...asUser, 'ssh', '-G', '-p', String(target.port), '-l', target.user, '--', target.address];
  const r = await run(argv, { host: 'local', check: false, timeoutMs: 15_000 });
  if (r.exitCode !== 0) {
    throw new HarnessError(`ssh -G could not say which known_hosts files apply to ${target.address}: ${r.stderr.trim() || `exit code ${r.exitCode}`}`, {
      host: target.name,
      command: argv,
      hint: 'check ~/.ssh/config and /etc/ssh/ssh_config (the harness reads known_hosts where ssh would)',
    });
  }
  const option = (key: string): string[] => {
    const line = r.stdout.split('\n').find((l) => l.startsWith(`${key} `));
    return (
      line
        ?.slice(key.length + 1)
        .trim()
        .split(/\s+/) ?? []
    ).filter((f) => f !== '' && f !== 'none');
  };
  return { user: target.knownHosts !== undefined ? [target.knownHosts] : option('userknownhostsfile'), global: option('globalknownhostsfile') };
}

/** What the known_hosts files say about a target: its name there, the files read, the entries that match it. */
export interface HostKeyLookup {
  name: string;
  /** The files read (those of ssh's list that exist). */
  files: string[];
  /** Files ssh would read that do not exist. */
  missing: string[];
  entries: KnownEntry[];
}

/** Every known_hosts entry for the target, found by `ssh-keygen -F` in each file ssh would read. */
export async function lookUpHostKeys(target: SshTarget): Promise<HostKeyLookup> {
  const name = knownHostsName(target.address, target.port);
  const { user, global } = await knownHostsFiles(target);
  const files = [...new Set([...user, ...global])];
  const entries: KnownEntry[] = [];
  const present = files.filter((f) => existsSync(f));
  for (const file of present) {
    const argv = ['ssh-keygen', '-F', name, '-f', file];
    const r = await run(argv, { host: 'local', check: false, timeoutMs: 15_000 });
    // 1: no line matches; anything else but 0 is a file ssh-keygen could not read.
    if (r.exitCode === 1) continue;
    if (r.exitCode !== 0)
      throw new HarnessError(`ssh-keygen could not read ${file}: ${r.stderr.trim() || `exit code ${r.exitCode}`}`, { host: target.name, command: argv });
    entries.push(...parseKeygenFind(r.stdout, file));
  }
  return { name, files: present, missing: files.filter((f) => !present.includes(f)), entries };
}

/** Whether a known_hosts key ("type base64") is the offered blob. */
const sameKey = (entry: string, blob: Buffer): boolean => Buffer.from(entry.split(' ')[1] ?? '', 'base64').equals(blob);

export type HostKeyVerdict = { ok: true; pin: boolean } | { ok: false; why: string; hint: string };

/**
 * Decides on an offered host key from the known_hosts entries that match the host (pure), as ssh
 * does, except where ssh2 cannot: a @revoked key never passes; a listed key passes; another key is a
 * changed key; a host known only through @cert-authority is refused, because ssh2 cannot check a
 * host certificate; an unknown host is pinned into `pinInto` (a host the harness made) or refused.
 */
export function judgeHostKey(
  lookup: HostKeyLookup,
  blob: Buffer,
  target: Pick<SshTarget, 'address' | 'port'> & { pinInto?: string | undefined },
): HostKeyVerdict {
  const { name, files, missing, entries } = lookup;
  const type = keyEntry(blob).split(' ')[0]!;
  const offered = `${type} ${fingerprint(blob)}`;
  const at = (list: KnownEntry[]) => list.map((e) => `${e.file}:${e.line}`).join(', ');
  const scan = `ssh-keyscan -p ${target.port} -t ${type} ${target.address}`;
  const check = `check the fingerprint against the host's own (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on its console), then add it: ${scan} >> ~/.ssh/known_hosts`;
  const revoked = entries.filter((e) => e.marker === 'revoked' && sameKey(e.key, blob));
  if (revoked.length > 0)
    return {
      ok: false,
      why: `host key of ${name} (${offered}) is marked @revoked in ${at(revoked)}`,
      hint: 'a revoked key is never accepted: give the host a new key and add that one',
    };
  const plain = entries.filter((e) => e.marker === undefined);
  if (plain.some((e) => sameKey(e.key, blob))) return { ok: true, pin: false };
  if (plain.length > 0) {
    const pinned = target.pinInto !== undefined && plain.every((e) => e.file === target.pinInto);
    return {
      ok: false,
      why: `host key of ${name} (${offered}) differs from the one known in ${at(plain)}`,
      hint: pinned
        ? `if the machine was rebuilt, forget its old key (ssh-keygen -R '${name}' -f ${target.pinInto}); the next connection pins the new one`
        : `if the host was rebuilt, remove its old line (ssh-keygen -R '${name}' -f FILE) and ${check}`,
    };
  }
  const authorities = entries.filter((e) => e.marker === 'cert-authority');
  if (authorities.length > 0) {
    return {
      ok: false,
      why: `${name} is known only through @cert-authority (${at(authorities)}): the harness connects with ssh2, which cannot check host certificates, so it refuses the host rather than take its key (${offered}) unchecked`,
      hint: `list the host's own key as well: ${check}`,
    };
  }
  if (target.pinInto !== undefined) return { ok: true, pin: true };
  return {
    ok: false,
    why: `no known host key for ${name} in ${files.length > 0 ? files.join(', ') : `any known_hosts file (none of ${missing.join(', ')} exists)`}; it offers ${offered}`,
    hint: `${check}; or name a known_hosts file that lists it with the inventory variable nomad_lab_known_hosts`,
  };
}

/** Host key algorithms ssh2 knows, and which of them to offer so that the server shows a key type known_hosts lists. */
const SSH2_HOST_KEYS = new Set(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa', 'ssh-dss']);
export function hostKeyAlgorithms(knownTypes: string[]): string[] | undefined {
  const algorithms = knownTypes.filter((t) => SSH2_HOST_KEYS.has(t)).flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]));
  return algorithms.length > 0 ? [...new Set(algorithms)] : undefined;
}

/** Pins a host key: appends `name type base64` to the harness's own known_hosts file. */
function pin(file: string, name: string, blob: Buffer): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  appendFileSync(file, `${text === '' || text.endsWith('\n') ? '' : '\n'}${name} ${keyEntry(blob)}\n`, { mode: 0o600 });
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
    const opened = this.handshake(target, k);
    this.open.set(k, opened);
    opened.catch(() => this.open.delete(k));
    return opened;
  }

  private async handshake(target: SshTarget, k: string): Promise<ssh2.Client> {
    const endpoint = `${target.user}@${target.address}:${target.port}`;
    let privateKey: Buffer | undefined;
    if (target.identityFile !== undefined) {
      try {
        privateKey = readFileSync(target.identityFile);
      } catch (cause) {
        throw new HarnessError(`cannot read the SSH key ${target.identityFile}`, { host: target.name, cause });
      }
    }
    // The user's agent, as ssh and Ansible use it: its keys are tried after the key file, if any.
    const agent = process.env['SSH_AUTH_SOCK'] || undefined;
    if (privateKey === undefined && agent === undefined) {
      throw new HarnessError(`no SSH key for ${endpoint}: the inventory names none and SSH_AUTH_SOCK is not set`, {
        host: target.name,
        hint: 'set ansible_ssh_private_key_file in the inventory, or run with your SSH agent (sudo --preserve-env=SSH_AUTH_SOCK ...)',
      });
    }
    const lookup = await lookUpHostKeys(target);
    const pinInto = target.pinOnFirstUse === true ? target.knownHosts : undefined;
    return new Promise<ssh2.Client>((resolve, reject) => {
      const client = new ssh2.Client();
      let refused: { why: string; hint: string } | undefined;
      client
        .on('ready', () => resolve(client))
        .on('error', (error: Error) => {
          this.open.delete(k);
          reject(
            new HarnessError(`SSH to ${endpoint} failed: ${refused?.why ?? error.message}`, {
              host: target.name,
              cause: error,
              hint:
                refused?.hint ??
                `check that sshd runs there and accepts ${privateKey ? `the key ${target.identityFile}` : 'a key of your SSH agent'} for this user`,
            }),
          );
        })
        .on('close', () => this.open.delete(k));
      // Offer only the key types known_hosts lists for the host (an RSA-only entry must not meet an
      // ed25519 key and be refused as a changed key); none listed: any.
      const listed = lookup.entries.filter((e) => e.marker === undefined).map((e) => e.key.split(' ')[0]!);
      const serverHostKey = hostKeyAlgorithms(listed);
      client.connect({
        ...(serverHostKey ? { algorithms: { serverHostKey: serverHostKey as ssh2.ServerHostKeyAlgorithm[] } } : {}),
        host: target.address,
        port: target.port,
        username: target.user,
        ...(privateKey === undefined ? {} : { privateKey }),
        ...(agent === undefined ? {} : { agent }),
        readyTimeout: 15_000,
        keepaliveInterval: 5_000,
        keepaliveCountMax: 3,
        hostVerifier: (blob: Buffer) => {
          const v = judgeHostKey(lookup, blob, { address: target.address, port: target.port, pinInto });
          if (!v.ok) refused = v;
          else if (v.pin && pinInto !== undefined) {
            pin(pinInto, lookup.name, blob);
            this.onPin(target);
          }
          return v.ok;
        },
      });
    });
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
