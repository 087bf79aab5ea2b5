// Lab (root, real agents, two Nomad releases; builds them on first use, about 1 min each with a warm
// Go cache): the multi-version path end to end. `npm run bisect` runs deploy-cut as written from what
// Nomad 1.6.2 does (the replacement at once, no version keys) on 1.6.2 and on 1.6.3: it passes on the
// first, fails on the second (#18701: no replacement while the deployment is active), and bisect names
// 1.6.3 as the first release where the verdict changes, with both reports. Then a two-release matrix
// run with both releases at once (--parallel 2, a lab each): both pass, matrix.md has both columns,
// and neither batch tore down the other's lab mid-run.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../harness/config/paths.ts';
import { run } from '../../harness/exec/local.ts';
import { auditLeaks } from '../../harness/lab/audit.ts';
import type { RunResult } from '../../harness/report/result.ts';
import { nomadLab, isRoot, ownsLab } from './support.ts';

const lab = 't-bisect';
const reports = mkdtempSync(join(tmpdir(), 'nomad-lab-bisect-'));
const scenario = join(repoRoot, 'test', 'fixtures', 'scenarios', 'deploy-cut-as-of-162.yaml');

describe.skipIf(!isRoot)('bisect over two real Nomad releases', () => {
  ownsLab(lab);
  afterAll(() => rmSync(reports, { recursive: true, force: true }));

  it('deploy-cut as of 1.6.2 passes on 1.6.2 and fails on 1.6.3; bisect names 1.6.3 with both reports', async () => {
    const r = await run(['node', nomadLab, 'bisect', '--file', scenario, '--from', '1.6.2', '--to', '1.6.3', '--lab', lab, '--reports', reports], {
      check: false,
      timeoutMs: 1_500_000,
      cwd: repoRoot,
    });
    const output = r.stdout.slice(-3000) + r.stderr.slice(-3000);
    expect(r.exitCode, output).toBe(0);
    expect(r.stdout, output).toContain('first release where the verdict changes: v1.6.3 (FAIL); the release before it, v1.6.2, gives PASS');

    const [dir] = [...r.stdout.matchAll(/^bisect report: (.*)\/bisect\.md$/gm)].map((m) => m[1]!);
    expect(dir).toBeDefined();
    const bisect = JSON.parse(readFileSync(join(dir!, 'bisect.json'), 'utf8')) as {
      outcome: { kind: string; steps: Array<{ at: number; verdicts: string[]; runs: string[] }> };
    };
    expect(bisect.outcome.kind).toBe('changed');
    const result = (at: number) => {
      const step = bisect.outcome.steps.find((s) => s.at === at)!;
      expect(existsSync(join(step.runs[0]!, 'report.html'))).toBe(true);
      return JSON.parse(readFileSync(join(step.runs[0]!, 'result.json'), 'utf8')) as RunResult;
    };
    const old = result(0);
    expect(old.nomad?.version).toBe('1.6.2');
    expect(old.verdict).toBe('pass');
    // The cut came while the deployment was active (the precondition of this scenario), on both.
    expect(old.checks.find((c) => c.check.startsWith("precondition: the job's deployment active"))?.verdict).toBe('pass');
    const fresh = result(1);
    expect(fresh.nomad?.version).toBe('1.6.3');
    expect(fresh.verdict).toBe('fail');
    expect(fresh.checks.find((c) => c.check.startsWith("precondition: the job's deployment active"))?.verdict).toBe('pass');
    // What Nomad 1.6.3 did differently: no replacement, named by the failing checks.
    expect(fresh.reasons.map((x) => x.check)).toEqual(
      expect.arrayContaining(['await: the replacement running', 'placement: cache[0]#2 on another client than cache[0]#1']),
    );
    expect(await auditLeaks(lab)).toEqual([]);
  }, 1_600_000);

  it('a scenario keyed to releases that are not under test is not applicable: nothing runs, exit 0, JUnit skipped', async () => {
    const file = join(reports, 'spread-1.7.yaml');
    writeFileSync(file, readFileSync(join(repoRoot, 'scenarios', 'spread.yaml'), 'utf8').replace(/^name: spread$/m, 'name: spread\nnomad: ">=1.7.0"'));
    const r = await run(['node', nomadLab, 'scenario', '--file', file, '--nomad-version', '1.6.2', '--lab', lab, '--reports', reports], {
      check: false,
      timeoutMs: 600_000,
      cwd: repoRoot,
    });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^spread: NOT-APPLICABLE {2}\(Nomad 1\.6\.2,/m);
    expect(r.stderr).toContain('applies to Nomad >=1.7.0; 1.6.2 is not in that range: not applicable, nothing run');
    const dir = /^report: (.*)$/m.exec(r.stdout)![1]!;
    expect((JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as RunResult).verdict).toBe('not-applicable');
    expect(readFileSync(join(dir, 'junit.xml'), 'utf8')).toContain('<skipped');
    expect(existsSync(join(dir, 'trace.ndjson'))).toBe(false);
  }, 620_000);

  it('a matrix of two releases run at once: control passes on both, matrix.md has both columns, no lab left', async () => {
    const r = await run(
      [
        'node',
        nomadLab,
        'nightly',
        '--nomad-version',
        '1.6.2',
        '--nomad-version',
        '1.6.3',
        '--parallel',
        '2',
        '--scenarios',
        'control',
        '--lab',
        lab,
        '--reports',
        reports,
        '--date',
        '2026-02-01',
      ],
      { check: false, timeoutMs: 900_000, cwd: repoRoot },
    );
    const output = r.stdout.slice(-3000) + r.stderr.slice(-3000);
    expect(r.exitCode, output).toBe(0);
    expect(r.stdout).toContain('nightly 2026-02-01: PASS: 2 run(s), 2 pass, 0 fail, 0 unknown');
    // Both releases' lines, each prefixed by its version, and each on a lab of its own.
    expect(r.stderr).toMatch(/\[1\.6\.2\] === Nomad 1\.6\.2 /);
    expect(r.stderr).toMatch(/\[1\.6\.3\] === Nomad 1\.6\.3 /);
    expect(r.stderr).toMatch(new RegExp(`\\[1\\.6\\.2\\] lab ${lab}-162 `));
    expect(r.stderr).toMatch(new RegExp(`\\[1\\.6\\.3\\] lab ${lab}-163 `));
    const matrix = readFileSync(join(reports, 'nightly', '2026-02-01', 'matrix.md'), 'utf8');
    expect(matrix).toContain('| scenario | Nomad 1.6.2 | Nomad 1.6.3 | same everywhere |');
    // control has no `unknown` and no `Reconnected` (the node goes down, the allocation lost): no timings.
    expect(matrix).toMatch(/\| control \| \[PASS\]\(runs\/1\.6\.2\/control\/[^)]+\) – \/ – \| \[PASS\]\(runs\/1\.6\.3\/control\/[^)]+\) – \/ – \| yes \|/);
    for (const l of [`${lab}-162`, `${lab}-163`]) expect(await auditLeaks(l)).toEqual([]);
  }, 1_000_000);
});
