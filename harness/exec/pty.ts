// Pseudo-terminals: the one place node-pty (and the terminal emulator @xterm/headless) is imported.
import xterm from '@xterm/headless';
import * as nodePty from 'node-pty';
import { HarnessError } from '../util/errors.ts';
import { poll } from '../util/poll.ts';

export interface PtyOptions {
  /** The child's whole environment (nothing is inherited that is not in it). */
  env: Record<string, string>;
  cwd?: string;
  cols?: number;
  rows?: number;
}

export interface PtyExit {
  /** The child's exit code; 128 + n when signal n ended it, as a shell reports it. */
  exitCode: number;
  signal: number | undefined;
}

/** A child on a pseudo-terminal whose screen is kept by an emulator (for tests and captures). */
export interface PtySession {
  readonly pid: number;
  /** Types into the terminal (`\r` is Enter). */
  write(data: string): void;
  /** The screen as it stands, rows top to bottom, trailing blanks trimmed. */
  screen(): Promise<Screen>;
  /** Waits until the screen (scrolled-off lines included) matches `pattern`; the timeout shows the screen. */
  waitFor(pattern: RegExp, timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /** Resizes the terminal (the child gets SIGWINCH), as a person resizing the window. */
  resize(cols: number, rows: number): void;
  kill(signal?: NodeJS.Signals): void;
  readonly exited: Promise<PtyExit>;
  /** Releases the emulator; call once the child has exited. */
  dispose(): void;
}

export interface Screen {
  /** The visible rows, as a person would read them off the terminal. */
  text: string;
  /** Lines that scrolled above the visible rows (they are in `all`, not in `text`). */
  scrolledOff: number;
  /** Scrolled-off lines and the visible rows. */
  all: string;
}

export interface ScreenCapture extends Screen, PtyExit {
  argv: string[];
  timedOut: boolean;
  elapsedMs: number;
}

const SCROLLBACK = 2000;

function spawnIn(argv: readonly string[], options: PtyOptions): nodePty.IPty {
  const [file, ...args] = argv;
  if (!file) throw new HarnessError('empty command');
  try {
    return nodePty.spawn(file, args, {
      name: options.env['TERM'] ?? 'xterm-256color',
      cols: options.cols ?? 80,
      rows: options.rows ?? 24,
      env: options.env,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
  } catch (cause) {
    throw new HarnessError(`could not start ${file} on a pseudo-terminal`, { command: argv, cause });
  }
}

function exitOf(child: nodePty.IPty): Promise<PtyExit> {
  return new Promise((resolve) => {
    child.onExit(({ exitCode, signal }) => resolve(signal ? { exitCode: 128 + signal, signal } : { exitCode, signal: undefined }));
  });
}

/** Starts `argv` on a pseudo-terminal of a fixed size; what it prints is fed to an emulated screen. */
export function openPty(argv: readonly string[], options: PtyOptions): PtySession {
  const cols = options.cols ?? 80;
  const rows = options.rows ?? 24;
  const child = spawnIn(argv, { ...options, cols, rows });
  // The headless build counts its buffer API (reading the screen back) among the proposed ones.
  const term = new xterm.Terminal({ cols, rows, scrollback: SCROLLBACK, allowProposedApi: true });
  const exited = exitOf(child);
  let running = true;
  void exited.then(() => (running = false));
  child.onData((data) => term.write(data));
  // The emulator answers the child's queries (cursor position, device attributes) as a terminal would.
  term.onData((data) => {
    if (running) child.write(data);
  });

  const screen = (): Promise<Screen> =>
    new Promise((resolve) => {
      // The write callback runs once everything written before it has been parsed.
      term.write('', () => {
        const buffer = term.buffer.active;
        const line = (i: number) => buffer.getLine(i)?.translateToString(true) ?? '';
        const trim = (lines: string[]) => lines.join('\n').replace(/\n+$/, '');
        const visible = Array.from({ length: term.rows }, (_, i) => line(buffer.baseY + i));
        const all = Array.from({ length: buffer.baseY }, (_, i) => line(i)).concat(visible);
        resolve({ text: trim(visible), scrolledOff: buffer.baseY, all: trim(all) });
      });
    });

  return {
    pid: child.pid,
    write: (data) => child.write(data),
    screen,
    async waitFor(pattern, timeoutMs, signal) {
      await poll(screen, (s) => pattern.test(s.all), {
        what: `${pattern} on the terminal of ${argv[0]}`,
        timeoutMs,
        intervalsMs: [50, 100, 200],
        describe: (s) => `screen:\n${s?.all ?? ''}`,
        ...(signal ? { signal } : {}),
      });
    },
    resize(newCols, newRows) {
      term.resize(newCols, newRows);
      if (running) child.resize(newCols, newRows);
    },
    kill(signal = 'SIGHUP') {
      if (running) child.kill(signal);
    },
    exited,
    dispose: () => term.dispose(),
  };
}

export interface CaptureOptions {
  env: Record<string, string>;
  cols: number;
  rows: number;
  timeoutMs: number;
  signal?: AbortSignal;
  cwd?: string;
}

/**
 * Runs a non-interactive command on a pseudo-terminal of a fixed size and returns the final screen,
 * as a person at that terminal would have seen it (colours, cursor moves and rewrites applied).
 * A command still running at `timeoutMs` is killed; the screen so far is returned with `timedOut`.
 */
export async function captureScreen(argv: readonly string[], options: CaptureOptions): Promise<ScreenCapture> {
  options.signal?.throwIfAborted();
  const started = Date.now();
  const session = openPty(argv, options);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    session.kill('SIGKILL');
  }, options.timeoutMs);
  const onAbort = () => session.kill('SIGKILL');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const exit = await session.exited;
    options.signal?.throwIfAborted();
    const screen = await session.screen();
    return { argv: [...argv], ...screen, ...exit, timedOut, elapsedMs: Date.now() - started };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    session.dispose();
  }
}

/**
 * Runs `argv` on a pseudo-terminal attached to this process's terminal: raw keystrokes in, output
 * out, window size followed; the terminal is restored however the child ends. Returns its exit code.
 * An aborted `signal` (this process got SIGTERM or SIGHUP) hangs the child up.
 */
export async function interactive(argv: readonly string[], options: { env: Record<string, string>; cwd?: string; signal?: AbortSignal }): Promise<number> {
  const { stdin, stdout } = process;
  if (!stdin.isTTY || !stdout.isTTY) throw new HarnessError(`${argv[0]} needs a terminal on stdin and stdout`, { command: argv });
  const child = spawnIn(argv, { env: options.env, ...(options.cwd === undefined ? {} : { cwd: options.cwd }), cols: stdout.columns, rows: stdout.rows });
  const exited = exitOf(child);
  const toChild = (data: Buffer) => child.write(data);
  const resize = () => child.resize(stdout.columns, stdout.rows);
  const hangUp = () => child.kill('SIGHUP');
  const output = child.onData((data) => stdout.write(data));
  const wasRaw = stdin.isRaw;
  stdin.setRawMode(true);
  stdin.on('data', toChild);
  stdin.resume();
  // Node turns SIGWINCH into 'resize' on a TTY stdout.
  stdout.on('resize', resize);
  options.signal?.addEventListener('abort', hangUp, { once: true });
  try {
    return (await exited).exitCode;
  } finally {
    output.dispose();
    options.signal?.removeEventListener('abort', hangUp);
    stdout.off('resize', resize);
    stdin.off('data', toChild);
    stdin.setRawMode(wasRaw);
    stdin.pause();
  }
}
