// Running many scenarios: the order (name, reverse, seeded random) and the summary (verdict and
// wall time per run, verdicts that flip across repeats, the exit code of the whole). Pure.
import { worstExitCode, type RunResult, type RunVerdict } from '../report/result.ts';
import { ExitCode, UsageError } from '../util/errors.ts';
import { table } from '../util/table.ts';
import type { Scenario } from './types.ts';

export interface CatalogEntry {
  scenario: string;
  round: number;
  result: RunResult;
  runDir: string;
  wallSeconds: number;
}

/** A small seeded generator (mulberry32), so a random order can be replayed from its seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function orderScenarios(scenarios: Scenario[], order: string): Scenario[] {
  const byName = [...scenarios].sort((a, b) => a.name.localeCompare(b.name));
  if (order === 'name') return byName;
  if (order === 'reverse') return byName.reverse();
  const m = /^random(?::(\d+))?$/.exec(order);
  if (!m) throw new UsageError(`--order expects name, reverse or random[:seed], got ${JSON.stringify(order)}`);
  const random = seeded(m[1] === undefined ? Date.now() : Number(m[1]));
  const shuffled = [...byName];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  return shuffled;
}

/** The scenarios whose verdicts differ across their runs (repeats), in the entries' order. */
export function flippedScenarios(entries: CatalogEntry[]): string[] {
  const names = [...new Set(entries.map((e) => e.scenario))];
  return names.filter((name) => new Set(entries.filter((e) => e.scenario === name).map((e) => e.result.verdict)).size > 1);
}

/**
 * The summary of a batch. `side` (runs on several labs at once): the time from the first run's start
 * to the last one's end and the number of labs, since the runs' wall times then add up to more than
 * the batch took.
 */
export function summarizeCatalog(entries: CatalogEntry[], side?: { elapsedSeconds: number; labs: number }): { text: string; exitCode: ExitCode; data: object } {
  const names = [...new Set(entries.map((e) => e.scenario))];
  const rows = names.map((name) => {
    const runs = entries.filter((e) => e.scenario === name);
    const verdicts = runs.map((r) => r.result.verdict);
    return { name, verdicts, flips: new Set(verdicts).size > 1, wall: runs.map((r) => r.wallSeconds) };
  });
  const lines = [
    '',
    ...table([
      ['SCENARIO', `VERDICT${rows[0]!.verdicts.length > 1 ? 'S' : ''}`, 'WALL TIME', ''],
      ...rows.map((r) => [
        r.name,
        r.verdicts.map((v) => (v === 'not-applicable' ? 'N/A' : v.toUpperCase())).join(' '),
        r.wall.map((w) => `${w.toFixed(1)}s`).join(' '),
        r.flips ? 'FLIPPED' : '',
      ]),
    ]),
  ];
  const all: RunVerdict[] = entries.map((e) => e.result.verdict);
  const flipped = rows.filter((r) => r.flips).length;
  const total = entries.reduce((s, e) => s + e.wallSeconds, 0);
  lines.push(
    `${entries.length} run(s) of ${names.length} scenario(s): ${all.filter((v) => v === 'pass').length} pass, ${all.filter((v) => v === 'fail').length} fail, ${all.filter((v) => v === 'unknown').length} unknown${all.includes('not-applicable') ? `, ${all.filter((v) => v === 'not-applicable').length} not applicable` : ''}; ${flipped} flipped; ${total.toFixed(1)}s in all${side === undefined ? '' : ` (${side.elapsedSeconds.toFixed(1)}s elapsed on ${side.labs} labs side by side)`}`,
  );
  const exitCode = worstExitCode(entries.map((e) => e.result.exitCode));
  return {
    text: lines.join('\n'),
    exitCode,
    data: {
      runs: entries.map((e) => ({ scenario: e.scenario, round: e.round, verdict: e.result.verdict, wallSeconds: e.wallSeconds, runDir: e.runDir })),
      flipped,
      totalSeconds: total,
      ...(side === undefined ? {} : { elapsedSeconds: side.elapsedSeconds, labs: side.labs }),
    },
  };
}
