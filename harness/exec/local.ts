// Local processes: the one place execa is imported. Commands are argument arrays, never shell strings.
import { execa, execaSync } from 'execa';
import { openSync, closeSync } from 'node:fs';
import { HarnessError, showCommand } from '../util/errors.ts';

export interface RunOptions {
  /** Lab host the command acts for, named in errors ("local" when it is the harness host itself). */
  host?: string;
  timeoutMs?: number;
  /** When false, a non-zero exit is returned instead of thrown. */
  check?: boolean;
  env?: Record<string, string>;
  input?: string;
  cwd?: string;
  signal?: AbortSignal;
}

export interface RunResult {
  argv: readonly string[];
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs a command to completion. Errors name the host, the command and the cause (stderr first). */
export async function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  if (!file) throw new HarnessError('empty command');
  const host = options.host ?? 'local';
  let result;
  try {
    result = await execa(file, args, {
      reject: false,
      // Its own process group: a second Ctrl-C at the terminal must not kill a teardown step midway;
      // cancelling goes through the signal option instead.
      detached: true,
      all: false,
      stripFinalNewline: true,
      ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(options.signal === undefined ? {} : { cancelSignal: options.signal }),
    });
  } catch (cause) {
    throw new HarnessError(`could not run ${file}`, { host, command: argv, cause });
  }
  if (options.signal?.aborted) throw options.signal.reason;
  const out: RunResult = {
    argv,
    exitCode: result.exitCode ?? -1,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
    timedOut: Boolean(result.timedOut),
  };
  if (result.failed && (options.check ?? true)) {
    const why = result.timedOut
      ? `timed out after ${options.timeoutMs} ms`
      : result.exitCode === undefined
        ? (result.originalMessage ?? result.shortMessage ?? 'did not start')
        : `exit code ${result.exitCode}`;
    const detail = (out.stderr || out.stdout).trim().split('\n').slice(-6).join('\n    ');
    throw new HarnessError(`command failed (${why})${detail ? `:\n    ${detail}` : ''}`, { host, command: argv });
  }
  return out;
}

/**
 * A quick lookup command run to completion synchronously (e.g. `getent passwd NAME` while resolving
 * paths): its stdout, or undefined when it failed or could not run. Not for anything that acts.
 */
export function lookupSync(argv: readonly string[], timeoutMs = 5000): string | undefined {
  const [file, ...args] = argv;
  if (!file) return undefined;
  try {
    const r = execaSync(file, args, { reject: false, timeout: timeoutMs, stdin: 'ignore', stripFinalNewline: true });
    return r.exitCode === 0 ? String(r.stdout ?? '') : undefined;
  } catch {
    return undefined;
  }
}

/**
 * True when `file` can be found and run at all (a missing tool gives ENOENT). A `--version` that
 * outlasts the timeout still ran: on a loaded machine ansible-playbook's takes over 10 s, and a
 * tool that is there must not count as missing (a test would be skipped for it).
 */
export async function available(file: string): Promise<boolean> {
  try {
    const r = await execa(file, ['--version'], { reject: false, timeout: 10_000, stdin: 'ignore' });
    return r.exitCode !== undefined || r.timedOut;
  } catch {
    return false;
  }
}

export interface DetachedOptions {
  logFile: string;
  env?: Record<string, string>;
  cwd?: string;
}

export interface Detached {
  pid: number;
  /** How the process ended, while this process still watches it (for "died at once" messages). */
  exit: () => string | undefined;
}

/**
 * Starts a long-lived process that outlives this one (a supervised agent), output appended to
 * `logFile`. Returns its pid; the caller records it in a pid file.
 */
export function spawnDetached(argv: readonly string[], options: DetachedOptions): Detached {
  const [file, ...args] = argv;
  if (!file) throw new HarnessError('empty command');
  const fd = openSync(options.logFile, 'a', 0o640);
  try {
    // A file descriptor, not a pipe: the agent keeps writing its log after this process exits.
    // (execa's types list only descriptors 3-9; its runtime passes any descriptor to spawn.)
    const logFd = fd as 3;
    const child = execa(file, args, {
      detached: true,
      cleanup: false,
      reject: false,
      stdin: 'ignore',
      stdout: logFd,
      stderr: logFd,
      env: options.env ?? process.env,
      cwd: options.cwd ?? process.cwd(),
    });
    const pid = child.pid;
    child.unref();
    // The process is supervised through its pid file; its exit is only noted, for messages.
    let ended: string | undefined;
    void Promise.resolve(child).then(
      (r) => (ended = r.signal ? `killed by ${r.signal}` : `exit code ${r.exitCode}`),
      (e: unknown) => (ended = e instanceof Error ? e.message : String(e)),
    );
    if (pid === undefined) throw new HarnessError(`could not start ${file}`, { command: argv });
    return { pid, exit: () => ended };
  } catch (cause) {
    if (cause instanceof HarnessError) throw cause;
    throw new HarnessError(`could not start ${file}`, { command: argv, cause });
  } finally {
    closeSync(fd);
  }
}

export { showCommand };
