// Shared by the lab tests: run the real CLI as a user would, and know whether this machine can host a lab.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll } from 'vitest';
import { join } from 'node:path';
import { repoRoot } from '../../harness/config/paths.ts';
import { run, type RunResult } from '../../harness/exec/local.ts';

export const isRoot = process.getuid?.() === 0;
/** The `nomad-lab` program (package.json "bin"), as npx runs it. */
export const nomadLab = join(repoRoot, 'bin', 'nomad-lab.js');

/** `nomad-lab <command> <args>` as a user runs it, one process. */
export function nomadLabCli(command: string, args: string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunResult> {
  return run(['node', nomadLab, command, ...args], {
    check: false,
    timeoutMs: options.timeoutMs ?? 170_000,
    cwd: repoRoot,
    env: { ...process.env, ...options.env } as Record<string, string>,
  });
}

/** `nomad-lab lab <args>`. */
export function labCli(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return run(['node', nomadLab, 'lab', ...args], {
    check: false,
    timeoutMs: 170_000,
    cwd: repoRoot,
    env: { ...process.env, ...env } as Record<string, string>,
  });
}

export interface Running {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `nomad-lab <command> <args>` (default `lab`) in the background so a test can signal it mid-way. */
export function startLabCli(args: string[], command = 'lab'): Running {
  const child = spawn('node', [nomadLab, command, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stderr: () => err, exited };
}

/** Waits until the background CLI has printed a line matching `pattern`. */
export async function waitForOutput(running: Running, pattern: RegExp, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(running.stderr())) {
    if (Date.now() > deadline) throw new Error(`no output matching ${pattern} within ${timeoutMs} ms; got:\n${running.stderr()}`);
    if (running.child.exitCode !== null) throw new Error(`CLI exited (${running.child.exitCode}) before printing ${pattern}:\n${running.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The lab a test file owns: torn down before the file's tests (a lab of that name left by an
 * earlier, failed run must not decide this one) and after them. Call inside the describe block.
 */
export function ownsLab(name: string): void {
  beforeAll(async () => {
    await labCli(['down', '--lab', name]);
  }, 60_000);
  afterAll(async () => {
    await labCli(['down', '--lab', name]);
  }, 60_000);
}
