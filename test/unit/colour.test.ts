// Unit: util/colour.ts: colour only on a terminal, never with NO_COLOR, on demand with FORCE_COLOR.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RunResult } from '../../harness/report/result.ts';
import { colourWanted } from '../../harness/util/colour.ts';

// paint() decides once per process: each case imports a fresh copy after setting the environment.
async function freshPaint(env: Record<string, string | undefined>) {
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
  vi.resetModules();
  return (await import('../../harness/util/colour.ts')).paint;
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('colour', () => {
  it('is plain when NO_COLOR is set, even with FORCE_COLOR', async () => {
    const paint = await freshPaint({ NO_COLOR: '1', FORCE_COLOR: '1' });
    expect(paint('pass', 'PASS')).toBe('PASS');
  });

  it('colours with FORCE_COLOR=1, off a terminal too', async () => {
    const paint = await freshPaint({ NO_COLOR: undefined, FORCE_COLOR: '1' });
    expect(paint('pass', 'PASS')).toBe('\x1b[32mPASS\x1b[39m');
    expect(paint('fail', 'FAIL')).toBe('\x1b[31mFAIL\x1b[39m');
    expect(paint('unknown', 'UNKNOWN')).toBe('\x1b[33mUNKNOWN\x1b[39m');
  });

  it('is plain by default off a terminal (as unit tests run)', async () => {
    const paint = await freshPaint({ NO_COLOR: undefined, FORCE_COLOR: undefined });
    expect(process.stdout.isTTY).toBeFalsy();
    expect(paint('fail', 'FAIL')).toBe('FAIL');
  });

  it('decides from NO_COLOR, FORCE_COLOR, the terminal and TERM', () => {
    expect(colourWanted({}, true)).toBe(true);
    expect(colourWanted({}, false)).toBe(false);
    expect(colourWanted({ NO_COLOR: '1' }, true)).toBe(false);
    expect(colourWanted({ NO_COLOR: '' }, true)).toBe(true);
    expect(colourWanted({ FORCE_COLOR: '1' }, false)).toBe(true);
    expect(colourWanted({ FORCE_COLOR: '' }, false)).toBe(true);
    expect(colourWanted({ FORCE_COLOR: '0' }, true)).toBe(false);
    expect(colourWanted({ FORCE_COLOR: 'false' }, true)).toBe(false);
    expect(colourWanted({ NO_COLOR: 'yes', FORCE_COLOR: '1' }, true)).toBe(false);
    expect(colourWanted({ TERM: 'dumb' }, true)).toBe(false);
  });

  it('paints the verdict word and the check marks of the terminal summary, and only them', async () => {
    const result = {
      scenario: 'spread',
      runId: 'r1',
      verdict: 'fail',
      checks: [
        { check: 'no replacement', verdict: 'pass', detail: '', source: 's' },
        { check: 'reconnects', verdict: 'fail', detail: 'it did not', source: 'scenarios/spread.yaml' },
      ],
      timings: [
        { phase: 'deploy', seconds: 3.25, bound: 5, boundSource: undefined },
        { phase: 'reconnect', seconds: 12, bound: undefined, boundSource: undefined },
        { phase: 'heal', seconds: undefined, bound: undefined, boundSource: undefined },
      ],
      nomad: undefined,
      lab: undefined,
    } as unknown as RunResult;
    vi.stubEnv('NO_COLOR', '1');
    vi.resetModules();
    const plain = (await import('../../harness/report/terminal.ts')).formatSummary(result, '/runs/r1');
    expect(plain.split('\n')).toEqual([
      'spread: FAIL  (Nomad ?, lab ?, run r1)',
      '  ok   no replacement',
      '  FAIL reconnects',
      '       it did not',
      '       source: scenarios/spread.yaml',
      'phase timings:',
      '  deploy      3.25s  (bound 5s)',
      '  reconnect  12.00s',
      '  heal            -',
      'report: /runs/r1',
    ]);
    vi.stubEnv('NO_COLOR', undefined);
    vi.stubEnv('FORCE_COLOR', '1');
    vi.resetModules();
    const coloured = (await import('../../harness/report/terminal.ts')).formatSummary(result, '/runs/r1');
    expect(coloured.replace(/\x1b\[[0-9;]*m/g, '')).toBe(plain);
    expect(coloured).toContain('spread: \x1b[31mFAIL\x1b[39m  (Nomad');
    expect(coloured).toContain('  \x1b[32mok\x1b[39m   no replacement');
  });
});
