// Bisecting a verdict over an ordered list of Nomad releases: run the ends, then halve the range
// between two releases with different verdicts until they are neighbours. Each step runs `repeat`
// times; a step whose repeats disagree stops the search (a flaky verdict cannot be bisected). The
// search is pure over `judge`; runScenario supplies real runs.
import type { RunVerdict } from '../report/result.ts';

export interface BisectStep {
  /** Index into the candidate list. */
  at: number;
  verdicts: RunVerdict[];
  /** Report directories of the runs of this step. */
  runs: string[];
}

export type BisectOutcome =
  | { kind: 'changed'; lastBefore: number; first: number; steps: BisectStep[] }
  | { kind: 'same'; verdict: RunVerdict; steps: BisectStep[] }
  | { kind: 'unstable'; at: number; steps: BisectStep[] };

/** The one verdict of a step, or undefined when its repeats disagree. */
export const stepVerdict = (s: BisectStep): RunVerdict | undefined => (new Set(s.verdicts).size === 1 ? s.verdicts[0] : undefined);

export async function bisect(count: number, judge: (at: number) => Promise<BisectStep>): Promise<BisectOutcome> {
  if (count < 2) throw new Error('bisect needs at least two releases');
  const steps: BisectStep[] = [];
  const run = async (at: number) => {
    const s = await judge(at);
    steps.push(s);
    return stepVerdict(s);
  };
  let lo = 0;
  let hi = count - 1;
  const first = await run(lo);
  if (first === undefined) return { kind: 'unstable', at: lo, steps };
  const last = await run(hi);
  if (last === undefined) return { kind: 'unstable', at: hi, steps };
  if (first === last) return { kind: 'same', verdict: first, steps };
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    const v = await run(mid);
    if (v === undefined) return { kind: 'unstable', at: mid, steps };
    if (v === first) lo = mid;
    else hi = mid;
  }
  return { kind: 'changed', lastBefore: lo, first: hi, steps };
}
