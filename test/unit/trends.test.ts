// Unit: the nightly trends (newly failing, still failing, fixed, flaky, timings that moved) and the
// history file's round trip. Records are plain data as the nightly writes them.
import { describe, expect, it } from 'vitest';
import type { Verdict } from '../../harness/check/checker.ts';
import { renderNightIndex } from '../../harness/nightly/index-html.ts';
import { analyse, formatHistory, mergeHistory, parseHistory, type NightRecord } from '../../harness/nightly/trends.ts';

const rec = (date: string, scenario: string, verdict: Verdict, extra: Partial<NightRecord> = {}): NightRecord => ({
  date,
  scenario,
  version: '1.6.0',
  verdict,
  wallSeconds: 20,
  detectSeconds: 8,
  reconnectSeconds: 1,
  report: `${date}/runs/1.6.0/${scenario}/r/report.html`,
  reason: verdict === 'pass' ? undefined : `${scenario} went wrong`,
  ...extra,
});

describe('nightly trends', () => {
  it('a scenario that passed last night and fails tonight is newly failing; others are not', () => {
    const history = [
      rec('2026-01-01', 'spread', 'pass'),
      rec('2026-01-01', 'control', 'pass'),
      rec('2026-01-02', 'spread', 'fail'),
      rec('2026-01-02', 'control', 'pass'),
    ];
    const t = analyse(history, '2026-01-02');
    expect(t.newlyFailing).toEqual([{ scenario: 'spread', version: '1.6.0', verdict: 'fail', lastPass: '2026-01-01', reason: 'spread went wrong' }]);
    expect(t.stillFailing).toEqual([]);
    expect(t.previousNights).toEqual(['2026-01-01']);
  });

  it('a failure that continues is still failing since its first night, not new; a pass after it is fixed', () => {
    const history = ['01', '02', '03', '04'].flatMap((d, i) => [
      rec(`2026-01-${d}`, 'spread', i === 0 ? 'pass' : 'fail'),
      rec(`2026-01-${d}`, 'control', i === 3 ? 'pass' : i === 0 ? 'pass' : 'fail'),
    ]);
    const t = analyse(history, '2026-01-04');
    expect(t.newlyFailing).toEqual([]);
    expect(t.stillFailing).toEqual([{ scenario: 'spread', version: '1.6.0', verdict: 'fail', since: '2026-01-02' }]);
    expect(t.fixed).toEqual([{ scenario: 'control', version: '1.6.0', failedOn: '2026-01-03' }]);
  });

  it('versions are separate: a failure on one Nomad is not hidden by a pass on another', () => {
    const history = [
      rec('2026-01-01', 'spread', 'pass', { version: '1.6.0' }),
      rec('2026-01-01', 'spread', 'pass', { version: '1.10.5' }),
      rec('2026-01-02', 'spread', 'pass', { version: '1.6.0' }),
      rec('2026-01-02', 'spread', 'fail', { version: '1.10.5' }),
    ];
    expect(analyse(history, '2026-01-02').newlyFailing.map((x) => x.version)).toEqual(['1.10.5']);
  });

  it('flaky: the verdict changed twice within the window; repeats that disagree within one night count too', () => {
    const history = [
      rec('2026-01-01', 'spread', 'pass'),
      rec('2026-01-02', 'spread', 'fail'),
      rec('2026-01-03', 'spread', 'pass'),
      rec('2026-01-03', 'control', 'pass'),
      rec('2026-01-03', 'control', 'fail'),
    ];
    const t = analyse(history, '2026-01-03');
    expect(t.flaky.map((x) => x.scenario)).toEqual(['control', 'spread']);
    expect(t.flaky.find((x) => x.scenario === 'spread')!.verdicts.map((v) => v.verdict)).toEqual(['pass', 'fail', 'pass']);
    // One change is a failure (or a fix), not flakiness; nights outside the window do not count.
    expect(analyse(history.slice(0, 2), '2026-01-02').flaky).toEqual([]);
    expect(analyse(history, '2026-01-03', { window: 2, threshold: 0.5, minSeconds: 2 }).flaky.map((x) => x.scenario)).toEqual(['control']);
  });

  it('a timing moved when it is beyond both the relative threshold and the absolute floor against the median', () => {
    const history = [
      ...['01', '02', '03'].map((d) => rec(`2026-01-${d}`, 'spread', 'pass', { detectSeconds: 8 + Number(d) / 10 })),
      rec('2026-01-04', 'spread', 'pass', { detectSeconds: 15.5, reconnectSeconds: 2.5, wallSeconds: 21 }),
    ];
    const t = analyse(history, '2026-01-04');
    expect(t.moved).toEqual([{ scenario: 'spread', version: '1.6.0', measure: 'detection', tonight: 15.5, baseline: 8.2, change: expect.closeTo(0.89, 2) }]);
    // reconnect 1 -> 2.5 s is +150 % but under the 2 s floor; wall 20 -> 21 s is under both.
    expect(analyse(history, '2026-01-04', { window: 7, threshold: 0.5, minSeconds: 1 }).moved.map((x) => x.measure)).toEqual(['detection', 'reconnect']);
  });

  it('a failing run does not set or break a timing baseline', () => {
    const history = [rec('2026-01-01', 'spread', 'fail', { detectSeconds: 30 }), rec('2026-01-02', 'spread', 'pass', { detectSeconds: 8 })];
    expect(analyse(history, '2026-01-02').moved).toEqual([]);
  });

  it('history round-trips; a re-run night replaces its records; broken lines are named, not fatal', () => {
    const first = [rec('2026-01-01', 'spread', 'pass'), rec('2026-01-02', 'spread', 'fail')];
    const merged = mergeHistory(first, [rec('2026-01-02', 'spread', 'pass')]);
    expect(merged.map((r) => `${r.date} ${r.verdict}`)).toEqual(['2026-01-01 pass', '2026-01-02 pass']);
    // A partial re-run of a night replaces only what it ran again.
    const night = [rec('2026-01-03', 'spread', 'fail'), rec('2026-01-03', 'control', 'pass'), rec('2026-01-03', 'spread', 'pass', { version: '1.10.5' })];
    const partial = mergeHistory(night, [rec('2026-01-03', 'spread', 'pass')]);
    expect(partial.map((r) => `${r.scenario} ${r.version} ${r.verdict}`).sort()).toEqual(['control 1.6.0 pass', 'spread 1.10.5 pass', 'spread 1.6.0 pass']);
    const parsed = parseHistory(`${formatHistory(merged)}not json\n{"date":"yesterday","scenario":"x","version":"1"}\n`);
    expect(parsed.records).toEqual(merged);
    expect(parsed.problems).toHaveLength(2);
    expect(parsed.problems[0]).toMatch(/^line 3: /);
    expect(parsed.problems[1]).toBe('line 4: missing date, scenario or version');
  });
});

describe('the night index page', () => {
  it('flags a newly failing scenario with a badge and links every verdict to its run report', () => {
    const history = [rec('2026-01-01', 'spread', 'pass'), rec('2026-01-02', 'spread', 'fail'), rec('2026-01-02', 'control', 'pass')];
    const tonight = history.filter((r) => r.date === '2026-01-02');
    const html = renderNightIndex({
      date: '2026-01-02',
      verdict: 'fail',
      versions: ['1.6.0'],
      tonight,
      trends: analyse(history, '2026-01-02'),
      history,
      junit: 'junit.xml',
      summary: 'summary.md',
    });
    const section = /<section id="newly-failing">([\s\S]*?)<\/section>/.exec(html)?.[1] ?? '';
    expect(section).toContain('NEW FAILURE');
    expect(section).toContain('<b class="scenario">spread</b>');
    expect(section).not.toContain('control');
    expect(html).toContain('href="../2026-01-02/runs/1.6.0/spread/r/report.html"');
    expect(html).toContain('class="banner fail"');
    const quiet = renderNightIndex({
      date: '2026-01-01',
      verdict: 'pass',
      versions: ['1.6.0'],
      tonight: history.slice(0, 1),
      trends: analyse(history.slice(0, 1), '2026-01-01'),
      history: history.slice(0, 1),
      junit: 'junit.xml',
      summary: 'summary.md',
    });
    expect(quiet).not.toContain('id="newly-failing"');
    expect(quiet).toContain('id="no-news"');
  });
});
