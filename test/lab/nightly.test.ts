// Lab (root, real agents; the longest lab test, about 12 minutes: the catalog holds a 51-agent run): two nights of `npm run nightly`.
// Night 1 runs the whole catalog in reverse order on the pinned Nomad: every scenario passes, every
// run has its report, the night has its index, JUnit, Markdown summary and history. Night 2 runs
// spread against a scenario file whose expectation is wrong on purpose (the original "never goes
// unknown"), so the real run fails: the nightly exits 1, still writes everything, and flags spread
// as newly failing. Night 3 is interrupted during its second run: it keeps the first.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../harness/config/paths.ts';
import { run } from '../../harness/exec/local.ts';
import { auditLeaks } from '../../harness/lab/audit.ts';
import { scenarioNames } from '../../harness/scenario/load.ts';
import { nomadLab, isRoot, ownsLab, startLabCli, waitForOutput } from './support.ts';

const lab = 't-cat';
const reports = mkdtempSync(join(tmpdir(), 'nomad-lab-nightly-'));
const nightly = (args: string[], env: Record<string, string> = {}) =>
  run(['node', nomadLab, 'nightly', '--lab', lab, '--reports', reports, ...args], {
    check: false,
    timeoutMs: 1_800_000,
    cwd: repoRoot,
    env: { ...process.env, ...env } as Record<string, string>,
  });
const root = join(reports, 'nightly');
const history = () =>
  readFileSync(join(root, 'history.ndjson'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { date: string; scenario: string; verdict: string; report?: string });

describe.skipIf(!isRoot)('two nights of the nightly run on real agents', () => {
  ownsLab(lab);
  afterAll(() => rmSync(reports, { recursive: true, force: true }));
  const names = scenarioNames();

  it('night 1: the whole catalog in reverse order passes; index, JUnit, summary, history and every run report are written', async () => {
    const r = await nightly(['--date', '2026-01-01', '--order', 'reverse']);
    expect(r.exitCode, r.stdout.slice(-3000) + r.stderr.slice(-2000)).toBe(0);
    expect(r.stdout).toContain(`nightly 2026-01-01: PASS: ${names.length} run(s), ${names.length} pass, 0 fail, 0 unknown`);
    expect(r.stdout).toContain('nothing new against earlier nights');
    const order = [...r.stderr.matchAll(/=== ([a-z-]+)$/gm)].map((m) => m[1]);
    expect(order).toEqual([...names].reverse());

    const night = join(root, '2026-01-01');
    const index = readFileSync(join(night, 'index.html'), 'utf8');
    expect(index).toContain('class="banner pass"');
    for (const name of names) expect(index).toContain(`<b>${name}</b>`);
    const junit = readFileSync(join(night, 'junit.xml'), 'utf8');
    expect(junit.match(/<testcase /g)).toHaveLength(names.length);
    expect(junit).not.toContain('<failure');
    const summary = readFileSync(join(night, 'summary.md'), 'utf8');
    expect(summary.match(/✅ PASS/g)).toHaveLength(names.length);
    const records = history();
    expect(records.map((x) => x.scenario).sort()).toEqual(names);
    for (const x of records) {
      expect(x.verdict).toBe('pass');
      expect(existsSync(join(root, x.report!)), x.report).toBe(true);
    }
    expect(await auditLeaks(lab)).toEqual([]);
  }, 1_800_000);

  it('night 2: spread newly fails; the nightly exits 1 and flags it in the index, the summary and the output', async () => {
    const mutants = join(reports, 'mutant-scenarios');
    mkdirSync(mutants, { recursive: true });
    const original = readFileSync(join(repoRoot, 'scenarios', 'spread.yaml'), 'utf8');
    const wrong = original.replace(
      '{ subject: { alloc: "cache[0]#1" }, field: client, value: lost,',
      '{ subject: { alloc: "cache[0]#1" }, field: client, value: unknown,',
    );
    expect(wrong).not.toBe(original);
    writeFileSync(join(mutants, 'spread.yaml'), wrong);

    const r = await nightly(['--date', '2026-01-02', '--scenarios', 'spread'], { NOMAD_LAB_SCENARIOS: mutants });
    expect(r.exitCode, r.stdout.slice(-3000) + r.stderr.slice(-2000)).toBe(1);
    expect(r.stdout).toMatch(
      /NEWLY FAILING: spread on Nomad [\d.]+ \(fail; last passed: 2026-01-01\): alloc cache\[0\]#1 .*expected never unknown, observed unknown/,
    );

    const night = join(root, '2026-01-02');
    const index = readFileSync(join(night, 'index.html'), 'utf8');
    expect(index).toContain('class="banner fail"');
    const flagged = /<section id="newly-failing">([\s\S]*?)<\/section>/.exec(index)?.[1] ?? '';
    expect(flagged).toContain('NEW FAILURE');
    expect(flagged).toContain('<b class="scenario">spread</b>');
    expect(flagged).toContain('last passed: 2026-01-01');
    expect(readFileSync(join(night, 'junit.xml'), 'utf8')).toContain('<failure');
    expect(readFileSync(join(night, 'summary.md'), 'utf8')).toMatch(/- NEWLY FAILING: spread/);
    // History: night 1 kept, night 2 added; the failing run has its report too.
    const records = history();
    expect(records.filter((x) => x.date === '2026-01-01')).toHaveLength(names.length);
    const [spread2] = records.filter((x) => x.date === '2026-01-02');
    expect(spread2).toMatchObject({ scenario: 'spread', verdict: 'fail' });
    expect(existsSync(join(root, spread2!.report!))).toBe(true);
    const all = readFileSync(join(root, 'index.html'), 'utf8');
    expect(all.indexOf('2026-01-02/index.html')).toBeLessThan(all.indexOf('2026-01-01/index.html'));
    expect(readdirSync(root).sort()).toEqual(['2026-01-01', '2026-01-02', 'history.ndjson', 'index.html']);
    expect(await auditLeaks(lab)).toEqual([]);
  }, 300_000);

  it('Ctrl-C during the second run: the night is written with the run that finished, the lab torn down, exit 130', async () => {
    const running = startLabCli(['--lab', lab, '--reports', reports, '--date', '2026-01-03', '--scenarios', 'control,spread'], 'nightly');
    await waitForOutput(running, /=== spread/, 240_000);
    running.child.kill('SIGINT');
    const { code } = await running.exited;
    expect(code, running.stderr().slice(-2000)).toBe(130);
    const night = JSON.parse(readFileSync(join(root, '2026-01-03', 'nightly.json'), 'utf8')) as {
      verdict: string;
      records: Array<{ scenario: string; verdict: string }>;
    };
    expect(night.verdict).toBe('unknown');
    expect(night.records.map((r) => `${r.scenario} ${r.verdict}`)).toEqual(['control pass']);
    expect(
      history()
        .filter((x) => x.date === '2026-01-03')
        .map((x) => x.scenario),
    ).toEqual(['control']);
    // Earlier nights untouched.
    expect(history().filter((x) => x.date === '2026-01-01')).toHaveLength(names.length);
    expect(readFileSync(join(root, '2026-01-03', 'index.html'), 'utf8')).toContain('class="banner unknown"');
    expect(await auditLeaks(lab)).toEqual([]);
  }, 300_000);
});
