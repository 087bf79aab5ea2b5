// Unit: golden shapes of real runs, and the diff a person reads.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { diffGolden, goldenOf } from '../../harness/check/golden.ts';
import { readTrace } from '../../harness/trace/writer.ts';

const runs = join(import.meta.dirname, '..', 'fixtures', 'runs');
const pass = goldenOf(readTrace(join(runs, 'spread-pass', 'trace.ndjson')));
const mutant = goldenOf(readTrace(join(runs, 'spread-without-disconnect', 'trace.ndjson')));

describe('golden traces', () => {
  it('keep the shape of a run by role, not by host', () => {
    expect(pass.allocs['cache[0]#1']?.client.slice(-3)).toEqual(['running', 'unknown', 'running']);
    expect(pass.allocs['cache[0]#2']?.desired).toEqual(['run', 'stop']);
    expect(pass.allocs['cache[0]#1']?.taskEvents).toContain('Reconnected');
    expect(Object.keys(pass.nodes)).toEqual(['clientOf cache[0]#1', 'clientOf cache[0]#2']);
    expect(pass.metrics['nomad.nomad.job_summary.unknown{task_group=cache}']).toEqual([0, 1, 0]);
  });
  it('a run diffed against itself has no differences; against the mutant, the differences read plainly', () => {
    expect(diffGolden(pass, pass)).toEqual([]);
    const diff = diffGolden(pass, mutant);
    expect(diff).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^cache\[0\]#1 client: golden .*running -> unknown -> running; this run .*running -> lost( -> complete)?$/),
      ]),
    );
    expect(diff.some((l) => l.startsWith('nomad.nomad.job_summary.unknown{task_group=cache}: golden 0 -> 1 -> 0; this run 0'))).toBe(true);
  });
});
