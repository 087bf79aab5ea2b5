// `bench --catalog` (harness/bench/catalog.ts): the levels flag and the figures of a level, pure.
import { describe, expect, it } from 'vitest';
import { differingAcrossLevels, levelFigures, parseLevels } from '../../harness/bench/catalog.ts';
import { flippedScenarios, type CatalogEntry } from '../../harness/scenario/catalog-run.ts';
import type { RunResult, RunVerdict } from '../../harness/report/result.ts';
import { UsageError } from '../../harness/util/errors.ts';

const entry = (scenario: string, round: number, verdict: RunVerdict): CatalogEntry => ({
  scenario,
  round,
  runDir: '/r',
  wallSeconds: 10,
  result: { verdict } as RunResult,
});

describe('bench --catalog', () => {
  it('parses --levels into distinct whole numbers in ascending order, and refuses anything else', () => {
    expect(parseLevels('1,2,4')).toEqual([1, 2, 4]);
    expect(parseLevels('4, 1,2,2')).toEqual([1, 2, 4]);
    for (const bad of ['', '0', '1,,2', 'two', '1.5', '17', '-1']) expect(() => parseLevels(bad), bad).toThrow(UsageError);
  });

  it('counts verdicts and the speed-up per pass against the first level', () => {
    const f = levelFigures(2, 3, [entry('a', 1, 'pass'), entry('a', 2, 'pass'), entry('a', 3, 'unknown')], 60, 40);
    expect(f.perPassSeconds).toBe(20);
    expect(f.speedUp).toBe(2);
    expect(f.verdicts).toEqual({ pass: 2, fail: 0, unknown: 1, 'not-applicable': 0 });
    expect(levelFigures(1, 1, [], 40).speedUp).toBe(1);
  });

  it('names the scenarios whose verdict flips across repeats, and those that differ between levels', () => {
    expect(flippedScenarios([entry('a', 1, 'pass'), entry('b', 1, 'pass'), entry('a', 2, 'fail'), entry('b', 2, 'pass')])).toEqual(['a']);
    expect(flippedScenarios([entry('a', 1, 'pass'), entry('a', 2, 'pass')])).toEqual([]);
    expect(
      differingAcrossLevels([
        [entry('a', 1, 'pass'), entry('b', 1, 'pass')],
        [entry('a', 1, 'pass'), entry('b', 1, 'unknown'), entry('b', 2, 'pass')],
      ]),
    ).toEqual(['b']);
  });
});
