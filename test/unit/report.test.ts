// Unit: the HTML report of committed real runs: what the timeline holds (lanes, segments, fault
// windows, bounds), that rendering is deterministic, that the page is self-contained and leads with
// the verdict, and the Markdown summary. Browser checks of the drawn page are in test/browser.
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { timelineSvg } from '../../harness/report/chart.ts';
import { renderRunReport } from '../../harness/report/html.ts';
import { markdownSummary } from '../../harness/report/markdown.ts';
import { formatSummary } from '../../harness/report/terminal.ts';
import type { RunResult } from '../../harness/report/result.ts';
import { buildTimeline } from '../../harness/report/timeline.ts';
import { writeRunReports } from '../../harness/report/write.ts';
import { normalise } from '../../harness/trace/normalise.ts';
import type { ScreenEvent } from '../../harness/trace/types.ts';
import { readTrace } from '../../harness/trace/writer.ts';
import { repoRoot } from '../../harness/config/paths.ts';
import { run } from '../../harness/exec/local.ts';

const runs = join(import.meta.dirname, '..', 'fixtures', 'runs');
const load = (name: string) => {
  const trace = readTrace(join(runs, name, 'trace.ndjson'));
  const result = JSON.parse(readFileSync(join(runs, name, 'result.json'), 'utf8')) as RunResult;
  return { trace, result, timeline: buildTimeline(trace, result) };
};
const scratch = mkdtempSync(join(tmpdir(), 'nomad-lab-report-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the deployment lane', () => {
  it("draws the job's deployment: running through the cut on deploy-cut (1.6.3), successful after the reconnect", () => {
    const { timeline: tl } = load('deploy-cut-pass');
    const lane = tl.lanes.findIndex((l) => l.kind === 'deployment');
    expect(tl.lanes[lane]!.label).toMatch(/^deployment [0-9a-f]{8} \(job v0\)$/);
    const segs = tl.segments.filter((s) => s.lane === lane);
    expect(segs.map((s) => s.status)).toEqual(['running', 'successful']);
    const cut = tl.windows.find((w) => w.kind === 'partition')!;
    // Still running when the client was cut, done only after the heal.
    expect(segs[0]!.from).toBeLessThan(cut.from);
    expect(segs[1]!.from).toBeGreaterThan(cut.to);
  });
});

describe('the timeline of a run', () => {
  const { trace, timeline: tl } = load('spread-pass');

  it('has one lane per allocation role, then one per node, named as the checker names them', () => {
    const n = normalise(trace);
    expect(tl.lanes.filter((l) => l.kind === 'alloc').map((l) => l.name)).toEqual(n.allocs.map((a) => a.role));
    expect(tl.lanes.filter((l) => l.kind === 'node').map((l) => l.name)).toEqual([...n.nodes.keys()].sort());
    expect(tl.lanes.map((l) => l.kind)).toEqual(['alloc', 'alloc', 'alloc', 'node', 'node']);
  });

  it("the original's segments read running, unknown, running; unknown starts inside the partition window", () => {
    const lane = tl.lanes.findIndex((l) => l.name === 'cache[0]#1');
    const segs = tl.segments.filter((s) => s.lane === lane);
    expect(segs.map((s) => s.status).filter((s, i, a) => s !== a[i - 1])).toEqual(['pending', 'running', 'unknown', 'running']);
    const [window] = tl.windows;
    // The partitioned client is the scheduler's choice: the one cache[0]#1 runs on.
    expect(window).toMatchObject({ kind: 'partition', host: tl.lanes[lane]!.label.split(' on ')[1], healed: true });
    const unknown = segs.find((s) => s.status === 'unknown')!;
    expect(unknown.from).toBeGreaterThan(window!.from);
    expect(unknown.from).toBeLessThan(window!.to);
    // Segments of a lane tile it: each ends where the next begins.
    for (let i = 1; i < segs.length; i++) expect(segs[i]!.from).toBe(segs[i - 1]!.to);
  });

  it('the node lane: ready when recording starts, disconnected, then initializing (strict reconnect), then ready', () => {
    const lane = tl.lanes.findIndex((l) => l.name === tl.windows[0]!.host);
    expect(tl.segments.filter((s) => s.lane === lane).map((s) => s.status)).toEqual(['ready', 'disconnected', 'initializing', 'ready']);
  });

  it('marks the Reconnected task event after the heal, and the key metric goes 0 -> 1 -> 0', () => {
    const reconnected = tl.markers.filter((m) => m.type === 'Reconnected');
    expect(reconnected).toHaveLength(1);
    expect(reconnected[0]!.t).toBeGreaterThan(tl.windows[0]!.to);
    expect(tl.metric?.points.map(([, v]) => v).filter((v, i, a) => v !== a[i - 1])).toEqual([0, 1, 0]);
  });

  it('draws each timer bound from the fault its phase is measured from', () => {
    const unknown = tl.bounds.find((b) => b.phase === 'partition -> alloc unknown')!;
    expect(unknown.t).toBeCloseTo(tl.windows[0]!.from + unknown.seconds, 2);
    const reconnect = tl.bounds.find((b) => b.phase === 'heal -> Reconnected')!;
    expect(reconnect.t).toBeCloseTo(tl.windows[0]!.to + reconnect.seconds, 2);
  });

  it('a run where the allocation was lost shows lost and the node down, not unknown', () => {
    const { timeline } = load('spread-without-disconnect');
    const statuses = timeline.segments.filter((s) => s.lane === 0).map((s) => s.status);
    expect(statuses).toContain('lost');
    expect(statuses).not.toContain('unknown');
  });
});

describe('report.html', () => {
  it('renders the same bytes twice in one process (no instance counters, no clock)', () => {
    const { result, timeline } = load('spread-pass');
    const a = renderRunReport({ result, timeline, svg: timelineSvg(timeline), files: ['trace.ndjson'] });
    const b = renderRunReport({ result, timeline, svg: timelineSvg(timeline), files: ['trace.ndjson'] });
    expect(a).toBe(b);
  });

  it('is self-contained: no address outside the file; the verdict banner comes first', () => {
    const { result, timeline } = load('spread-without-disconnect');
    const html = renderRunReport({ result, timeline, svg: timelineSvg(timeline), files: ['trace.ndjson', 'logs/client1.log'] });
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).not.toMatch(/@import|url\(http/);
    expect(html.indexOf('class="banner fail"')).toBeGreaterThan(0);
    expect(html.indexOf('class="banner fail"')).toBeLessThan(html.indexOf('<h2>Timeline</h2>'));
    expect(html).toContain('expected unknown after running, observed lost');
    expect(html).toContain('href="logs/client1.log"');
  });

  it('escapes what came from the run (a reason with markup stays text)', () => {
    const { result, timeline } = load('spread-pass');
    const hostile = {
      ...result,
      verdict: 'fail' as const,
      reasons: [{ check: 'x', verdict: 'fail' as const, detail: '<img src=x onerror=alert(1)>', source: 's' }],
    };
    const html = renderRunReport({ result: hostile, timeline, svg: '', files: [] });
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toContain('<img src=x');
  });

  it('`npm run report -- <run-dir>` re-renders the file byte for byte', async () => {
    const dir = join(scratch, 'spread-pass');
    cpSync(join(runs, 'spread-pass'), dir, { recursive: true });
    const first = readFileSync(writeRunReports(dir), 'utf8');
    const r = await run(['node', join(repoRoot, 'bin', 'nomad-lab.js'), 'report', dir], { check: false, cwd: repoRoot });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(join(dir, 'report.html'));
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toBe(first);
    expect(readFileSync(join(dir, 'summary.md'), 'utf8')).toContain('| spread | 1.6.0 | ✅ PASS |');
  });

  it('`npm run report` on a directory that is not a run: a clear message, exit 2, no stack trace; the next directory still renders', async () => {
    const good = join(scratch, 'after-a-bad-one');
    cpSync(join(runs, 'spread-without-disconnect'), good, { recursive: true });
    const r = await run(['node', join(repoRoot, 'bin', 'nomad-lab.js'), 'report', scratch, good], { check: false, cwd: repoRoot });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${scratch} is not a run directory (it needs result.json and trace.ndjson)`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout.trim()).toBe(join(good, 'report.html'));
  });

  it('a run that stopped before its first trace event still gets a report', () => {
    const { result } = load('spread-pass');
    const timeline = buildTimeline([], { ...result, verdict: 'unknown' });
    expect(timeline).toMatchObject({ t0: 0, end: 0, lanes: [], segments: [], windows: [] });
    const html = renderRunReport({ result: { ...result, verdict: 'unknown' }, timeline, svg: timelineSvg(timeline), files: [] });
    expect(html).toContain('class="banner unknown"');
    expect(html).toContain('The trace holds no event.');
  });
});

describe('the Markdown summary', () => {
  it('one row per run with verdict and timings; the reasons of runs that did not pass under it', () => {
    const pass = load('spread-pass').result;
    const fail = load('spread-without-disconnect').result;
    const md = markdownSummary('nightly', [{ result: pass, wallSeconds: 33.04, link: 'spread/a/report.html' }, { result: fail }]);
    expect(md).toMatch(/\| \[spread\]\(spread\/a\/report\.html\) \| 1\.6\.0 \| ✅ PASS \| 33\.0 s \| \d+\.\d s \| \d+\.\d s \|/);
    expect(md).toMatch(/\| spread \| 1\.6\.0 \| ❌ FAIL \| [\d.]+ s \| – \| – \|/);
    expect(md).toContain('2 run(s): 1 pass, 1 fail, 0 unknown.');
    expect(md).toContain('### Reasons');
    expect(md).toContain('expected unknown after running, observed lost');
    expect(markdownSummary('all good', [{ result: pass }])).not.toContain('### Reasons');
  });

  it("a check's notes (Nomad's races, not counted) are listed under the table and under the check in the terminal, also when it passes", () => {
    const pass = load('spread-pass').result;
    const note = 'client11: ready came through down (index 686), not counted';
    const noted = { ...pass, checks: pass.checks.map((c, i) => (i === 0 ? { ...c, notes: [note] } : c)) };
    const md = markdownSummary('one run', [{ result: noted }]);
    expect(md).toContain("### Notes (Nomad's races, named and not counted)");
    expect(md).toContain(`- **spread** (Nomad 1.6.0), ${pass.checks[0]!.check}: ${note}`);
    expect(markdownSummary('one run', [{ result: pass }])).not.toContain('### Notes');
    const lines = formatSummary(noted, '/r').split('\n');
    const at = lines.findIndex((l) => l.includes(pass.checks[0]!.check));
    expect(lines[at]).toMatch(/^ {2}ok +/);
    expect(lines[at + 1]).toBe(`       note: ${note}`);
    expect(formatSummary(pass, '/r')).not.toContain('note:');
    const html = (result: typeof pass) => {
      const timeline = buildTimeline([], result);
      return renderRunReport({ result, timeline, svg: timelineSvg(timeline), files: [] });
    };
    expect(html(noted)).toContain("<h2>Notes: Nomad's races, named and not counted</h2>");
    expect(html(noted)).toContain('client11: ready came through down (index 686), not counted');
    expect(html(pass)).not.toContain('<h2>Notes');
  });
});

describe('terminal captures', () => {
  const { result, timeline } = load('spread-pass');
  const screen = (over: Partial<ScreenEvent> = {}): ScreenEvent => ({
    kind: 'screen',
    t: timeline.t0 + 31_250,
    title: 'nomad alloc status cache[0]#1',
    argv: ['/opt/nomad', 'alloc', 'status', '6d02ecf6-0000-0000-0000-000000000000'],
    text: 'Recent Events:\nTime                       Type         Description\n2026-11-23T18:41:00Z       Reconnected  Client reconnected',
    exitCode: 0,
    ...over,
  });
  const render = (screens: ScreenEvent[]) => renderRunReport({ result, timeline, svg: timelineSvg(timeline), files: [], screens });

  it('report.html shows each screen in a <pre> under its title, with when it was taken, the exit code and the command', () => {
    const html = render([screen(), screen({ title: 'nomad node status', argv: ['/opt/nomad', 'node', 'status'], text: 'No nodes', exitCode: 1 })]);
    expect(html).toContain('<h2>Terminal captures</h2>');
    expect(html).toContain(
      '<pre>Recent Events:\nTime                       Type         Description\n2026-11-23T18:41:00Z       Reconnected  Client reconnected</pre>',
    );
    expect(html).toContain(
      '<b>nomad alloc status cache[0]#1</b> · at 31.25 s · exit 0 · <code>/opt/nomad alloc status 6d02ecf6-0000-0000-0000-000000000000</code>',
    );
    expect(html).toContain('<span class="over">exit 1</span>');
    expect(html.indexOf('id="screen-1"')).toBeLessThan(html.indexOf('id="screen-2"'));
    // After the checks, before what ran.
    expect(html.indexOf('<h2>Checks</h2>')).toBeLessThan(html.indexOf('<h2>Terminal captures</h2>'));
    expect(html.indexOf('<h2>Terminal captures</h2>')).toBeLessThan(html.indexOf('<h2>What ran</h2>'));
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('a report without captures has no such section; with them it renders the same bytes twice', () => {
    expect(render([])).not.toContain('Terminal captures');
    expect(render([screen()])).toBe(render([screen()]));
  });

  it('what the command printed stays text: markup in a screen is escaped', () => {
    const html = render([screen({ text: '</pre><script>alert(1)</script>', title: '<b>t</b>' })]);
    expect(html).toContain('<pre>&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;</pre>');
    expect(html).toContain('&lt;b&gt;t&lt;/b&gt;');
    expect(html).not.toContain('<script>alert(1)');
  });

  it('summary.md shows each screen in a code block the screen cannot close', () => {
    const md = markdownSummary('one run', [{ result, screens: [screen(), screen({ title: 'ticks', text: 'a ``` b ```` c', exitCode: 2 })] }]);
    expect(md).toContain('### Terminal captures');
    expect(md).toContain('**spread**: nomad alloc status cache[0]#1 (exit 0)\n\n```text\nRecent Events:');
    expect(md).toContain('**spread**: ticks (exit 2)\n\n`````text\na ``` b ```` c\n`````\n');
    expect(markdownSummary('one run', [{ result }])).not.toContain('Terminal captures');
  });

  it('a run directory whose trace holds a screen: report.html and summary.md show it, and re-render byte for byte', () => {
    const dir = join(scratch, 'spread-with-capture');
    cpSync(join(runs, 'spread-pass'), dir, { recursive: true });
    const { kind, t, title, argv, text, exitCode } = screen();
    appendFileSync(join(dir, 'trace.ndjson'), `${JSON.stringify({ kind, t, title, argv, text, exitCode })}\n`);
    const first = readFileSync(writeRunReports(dir), 'utf8');
    expect(first).toContain('Reconnected  Client reconnected</pre>');
    expect(readFileSync(join(dir, 'summary.md'), 'utf8')).toContain('Reconnected  Client reconnected\n```');
    expect(readFileSync(writeRunReports(dir), 'utf8')).toBe(first);
  });
});
