// Unit: sequence matching and the job read-back check.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { check, matchSequence } from '../../harness/check/checker.ts';
import { findScenario } from '../../harness/scenario/catalog.ts';
import { readTrace } from '../../harness/trace/writer.ts';
import { disconnectSettingDropped } from '../../harness/jobs/readback.ts';
import { buildResult } from '../../harness/report/result.ts';

const seq = (...v: string[]) => v.map((value, line) => ({ value, line: line + 1 }));
const want = (...v: Array<string | [string]>) => v.map((x) => (Array.isArray(x) ? { value: x[0], optional: true } : { value: x, optional: false }));

describe('matchSequence', () => {
  it('accepts the expected statuses in order with others between, and optional ones missing', () => {
    expect(matchSequence(seq('pending', 'running', 'unknown', 'running'), want('running', 'unknown', 'running')).ok).toBe(true);
    expect(matchSequence(seq('ready', 'disconnected', 'ready'), want('ready', 'disconnected', ['initializing'], 'ready')).ok).toBe(true);
    expect(matchSequence(seq('ready', 'disconnected', 'initializing', 'ready'), want('ready', 'disconnected', ['initializing'], 'ready')).ok).toBe(true);
  });
  it('names what was missing, after what, and what came instead', () => {
    expect(matchSequence(seq('pending', 'running', 'lost', 'complete'), want('running', 'unknown', 'running'))).toEqual({
      ok: false,
      kind: 'missing',
      missing: 'unknown',
      after: 'running',
      next: { value: 'lost', line: 3 },
    });
    expect(matchSequence(seq('running'), want('running', 'complete'))).toEqual({
      ok: false,
      kind: 'missing',
      missing: 'complete',
      after: 'running',
      next: undefined,
    });
  });
  it('with toEnd, a history that goes on past the last expected status fails, naming what came after', () => {
    const history = seq('pending', 'running', 'unknown', 'running', 'complete');
    expect(matchSequence(history, want('running', 'unknown', 'running')).ok).toBe(true);
    expect(matchSequence(history, want('running', 'unknown', 'running'), { toEnd: true })).toEqual({
      ok: false,
      kind: 'trailing',
      last: 'running',
      extra: { value: 'complete', line: 5 },
    });
    expect(matchSequence(seq('running', 'unknown', 'running'), want('running', 'unknown', 'running'), { toEnd: true }).ok).toBe(true);
    // The last expected status may match its last occurrence, not only its first.
    expect(matchSequence(seq('ready', 'disconnected', 'ready', 'disconnected', 'ready'), want('ready', 'disconnected', 'ready'), { toEnd: true }).ok).toBe(
      true,
    );
  });
  it('backtracks over optional statuses: an optional one present in the wrong place never makes a match fail', () => {
    // Greedy matching would take the optional b at line 3 and then find no c after it.
    expect(matchSequence(seq('a', 'c', 'b'), want('a', ['b'], 'c')).ok).toBe(true);
    expect(matchSequence(seq('a', 'c', 'b'), want('a', ['b'], 'c'), { toEnd: true })).toMatchObject({ ok: false, kind: 'trailing', extra: { value: 'b' } });
    expect(
      matchSequence(seq('ready', 'initializing', 'disconnected', 'ready'), want('ready', 'disconnected', ['initializing'], 'ready'), { toEnd: true }).ok,
    ).toBe(true);
  });
});

describe('disconnectSettingDropped', () => {
  const job = (tg: object) => ({ ID: 'spread', TaskGroups: [{ Name: 'cache', Count: 2, ...tg }] });
  it('is silent when the setting survived or was never there', () => {
    expect(disconnectSettingDropped(job({ MaxClientDisconnect: 3.6e12 }), job({ MaxClientDisconnect: 3.6e12 }))).toEqual([]);
    expect(disconnectSettingDropped(job({}), job({}))).toEqual([]);
  });
  it('names the group and both values when Nomad dropped it (as 1.10 does with max_client_disconnect)', () => {
    expect(disconnectSettingDropped(job({ MaxClientDisconnect: 3.6e12 }), job({ MaxClientDisconnect: null }))).toEqual([
      'group cache: submitted MaxClientDisconnect=3600000000000, read back nothing',
    ]);
    expect(disconnectSettingDropped(job({ Disconnect: { LostAfter: 3.6e12 } }), job({ Disconnect: null }))).toHaveLength(1);
  });
});

describe('probes in the verdict', () => {
  const dir = join(import.meta.dirname, '..', 'fixtures', 'runs', 'spread-pass');
  const trace = readTrace(join(dir, 'trace.ndjson'));
  const expectations = findScenario('spread').expect;
  const withAwait = (ok: boolean, lastSeen?: string) => [
    ...trace,
    {
      kind: 'await' as const,
      t: trace.at(-1)!.t,
      what: 'the frontend answers',
      ok,
      elapsedMs: 200,
      deadlineMs: 10_000,
      ...(lastSeen ? { lastSeen } : {}),
      line: trace.length + 1,
    },
  ];

  it('a probe that held is listed as a passing check with what it saw; one that did not fails the run', () => {
    const held = check(withAwait(true, 'GET http://198.18.1.22:2000/ from client2: HTTP 200'), expectations);
    expect(held.verdict).toBe('pass');
    expect(held.checks.find((c) => c.check === 'probe: the frontend answers')).toMatchObject({ verdict: 'pass', detail: expect.stringContaining('HTTP 200') });
    const failed = check(withAwait(false, 'GET http://198.18.1.22:2000/ from client2: no answer'), expectations);
    expect(failed.verdict).toBe('fail');
    expect(failed.reasons[0]).toMatchObject({ check: 'await: the frontend answers', detail: expect.stringContaining('no answer') });
    // Plain awaits that were met stay out of the list, as before.
    expect(check(withAwait(true), expectations).checks.some((c) => c.check.includes('the frontend answers'))).toBe(false);
  });
});

describe('a harness error beside what Nomad did', () => {
  const trace = readTrace(join(import.meta.dirname, '..', 'fixtures', 'runs', 'spread-pass', 'trace.ndjson'));
  const scenario = findScenario('spread');
  const failedAwait = (t: typeof trace) => [
    ...t,
    { kind: 'await' as const, t: t.at(-1)!.t, what: 'something Nomad never did', ok: false, elapsedMs: 30_000, deadlineMs: 30_000, line: t.length + 1 },
  ];
  it('a wait that had already failed is a FAIL, even though the run then broke', () => {
    expect(buildResult(failedAwait(trace), scenario, 'cleanup failed: boom').verdict).toBe('fail');
  });
  it('but not where the fault did not take effect: that test did not happen', () => {
    const unproven = trace.filter((e) => e.kind !== 'reach').map((e, i) => ({ ...e, line: i + 1 }));
    expect(buildResult(failedAwait(unproven), scenario, 'cleanup failed: boom').verdict).toBe('unknown');
  });
});

describe('a gap in the recording', () => {
  const trace = readTrace(join(import.meta.dirname, '..', 'fixtures', 'runs', 'spread-without-disconnect', 'trace.ndjson'));
  const scenario = findScenario('spread');
  const withGap = (fromIndex: number, toIndex: number) => [
    ...trace,
    { kind: 'gap' as const, t: trace.at(-1)!.t, fromIndex, toIndex, detail: 'test', line: trace.length + 1 },
  ];
  const check = (name: string, t: typeof trace) => buildResult(t, scenario).checks.find((c) => c.check === name)!;
  it('leaves a check about allocations that did not live in its window as it was', () => {
    // Indexes 1..2: before the job existed.
    expect(check('transitions: alloc cache[0]#1 client status', withGap(1, 2))).toMatchObject({ verdict: 'fail' });
    expect(buildResult(withGap(1, 2), scenario).verdict).toBe('fail');
  });
  it('does not judge one that rests on not having seen something in the window', () => {
    expect(check('transitions: alloc cache[0]#1 client status', withGap(1, 1_000_000))).toMatchObject({
      verdict: 'unknown',
      kind: 'recording',
      detail: expect.stringContaining('[not judged: the event stream missed indexes 1..1000000'),
    });
  });
});
