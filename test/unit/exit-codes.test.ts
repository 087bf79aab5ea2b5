// Unit (offline, no root): every exit code of the one program, as a user's CI sees it. 0 pass, 1 fail,
// 2 usage error, 3 inconclusive (UNKNOWN), 4 harness error; 130/143 after SIGINT/SIGTERM are proven
// on real labs (test/lab/signals.test.ts, spread.test.ts, nightly.test.ts).
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../harness/config/paths.ts';
import { run } from '../../harness/exec/local.ts';
import { exitCodeOf } from '../../harness/cli/entry.ts';
import { ExitCode, HarnessError, InterruptedError, UsageError } from '../../harness/util/errors.ts';

const nomadLab = (args: string[], env: Record<string, string> = {}) =>
  run(['node', join(repoRoot, 'bin', 'nomad-lab.js'), ...args], {
    check: false,
    cwd: repoRoot,
    timeoutMs: 60_000,
    env: { ...process.env, ...env } as Record<string, string>,
  });
const fixture = (name: string) => join(repoRoot, 'test', 'fixtures', 'runs', name);
const scratch = mkdtempSync(join(tmpdir(), 'nomad-lab-exit-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A recorded run cut off before its first fault: the test did not happen. */
function cutBeforeFault(name: string, harnessError?: string): string {
  const dir = join(scratch, name);
  rmSync(dir, { recursive: true, force: true });
  const lines = readFileSync(join(fixture('spread-pass'), 'trace.ndjson'), 'utf8')
    .split('\n')
    .filter(Boolean);
  const firstFault = lines.findIndex((l) => (JSON.parse(l) as { kind: string }).kind === 'fault');
  expect(firstFault).toBeGreaterThan(0);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(scratch, `${name}.ndjson`), `${lines.slice(0, firstFault).join('\n')}\n`);
  return dir;
}

describe('exit codes of nomad-lab', { timeout: 30_000 }, () => {
  it('0: a run that passed (check re-judges it offline)', async () => {
    const r = await nomadLab(['check', fixture('spread-pass')]);
    expect(r.exitCode, r.stderr).toBe(ExitCode.pass);
    expect(r.stdout).toMatch(/PASS/);
  });

  it('1: a run where Nomad misbehaved', async () => {
    const r = await nomadLab(['check', fixture('failed-replacement-1.5.3-bug')]);
    expect(r.exitCode, r.stderr).toBe(ExitCode.fail);
    expect(r.stdout).toMatch(/FAIL/);
  });

  it('2: usage errors: an unknown flag, a renamed flag, a bad number, a retired environment variable, no command', async () => {
    const unknown = await nomadLab(['scenario', 'spread', '--bogus']);
    expect(unknown.exitCode).toBe(ExitCode.usage);
    expect(unknown.stderr).toContain("unknown option '--bogus'");
    const renamed = await nomadLab(['lab', 'status', '--name', 'x']);
    expect(renamed.exitCode).toBe(ExitCode.usage);
    expect(renamed.stderr).toContain('--name is gone: use --lab NAME');
    // A name that would reach a path or a command is refused by its one pattern, on every command.
    for (const argv of [
      ['lab', 'status', '--lab', 'a;b'],
      ['lab', 'down', '--lab', '../etc'],
      ...(process.getuid?.() === 0 ? [['lab', 'audit', '--lab', '$(id)']] : []),
    ]) {
      const bad = await nomadLab(argv);
      expect(bad.exitCode, argv.join(' ')).toBe(ExitCode.usage);
      expect(bad.stderr).toContain('a lab name is 1-32 of [a-z0-9-]');
    }
    const number = await nomadLab(['scenario', 'spread', '--repeat', 'many']);
    expect(number.exitCode).toBe(ExitCode.usage);
    expect(number.stderr).toContain('--repeat expects a whole number');
    const env = await nomadLab(['check', fixture('spread-pass')], { NOMAD_LAB_SERVERS: '3' });
    expect(env.exitCode).toBe(ExitCode.usage);
    expect(env.stderr).toContain('NOMAD_LAB_SERVERS is now NOMAD_LAB_VM_SERVERS');
    const none = await nomadLab([]);
    expect(none.exitCode).toBe(ExitCode.usage);
    expect(none.stdout).toContain('Usage: nomad-lab');
    for (const r of [unknown, renamed, number, env]) expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);

  it('3: an UNKNOWN verdict: the recording ends before the first fault', async () => {
    const dir = cutBeforeFault('gap');
    copyFileSync(join(scratch, 'gap.ndjson'), join(dir, 'trace.ndjson'));
    const r = await nomadLab(['check', dir]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(ExitCode.inconclusive);
    expect(r.stdout).toMatch(/UNKNOWN/);
  });

  it('4: an UNKNOWN verdict because the harness broke (the stored run says why)', async () => {
    const dir = cutBeforeFault('broke');
    copyFileSync(join(scratch, 'broke.ndjson'), join(dir, 'trace.ndjson'));
    writeFileSync(join(dir, 'result.json'), JSON.stringify({ harnessError: 'client1: nomad agent exited while starting' }));
    const r = await nomadLab(['check', dir]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(ExitCode.infra);
  });

  it('maps what a command throws: usage 2, signal 128+n, anything else 4', () => {
    expect(exitCodeOf(new UsageError('bad flag'))).toBe(2);
    expect(exitCodeOf(new InterruptedError('SIGINT'))).toBe(130);
    expect(exitCodeOf(new InterruptedError('SIGTERM'))).toBe(143);
    expect(exitCodeOf(new InterruptedError('SIGHUP'))).toBe(129);
    expect(exitCodeOf(new HarnessError('iptables failed'))).toBe(4);
    expect(exitCodeOf(new Error('a bug'))).toBe(4);
  });
});
