// `nomad-lab bench --catalog`: figures, not assertions. The scenario catalog at several levels of
// labs side by side (`--levels 1,2,4`): the wall time of each level and its speed-up against the
// first; with `--repeat n` the highest level runs every scenario n times and the scenarios whose
// verdict flips across those runs are named (there should be none: a verdict must not depend on the
// load of the labs beside it).
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { repoRoot } from '../config/paths.ts';
import { checkAccess, checkSideBySide, labRequest } from '../lab/labs.ts';
import { runBatch } from '../scenario/batch.ts';
import { findScenario, listScenarios } from '../scenario/catalog.ts';
import { flippedScenarios, orderScenarios, type CatalogEntry } from '../scenario/catalog-run.ts';
import { GIB, machineShape } from '../scenario/parallel.ts';
import { newRunId } from '../scenario/run.ts';
import type { RunVerdict } from '../report/result.ts';
import { ExitCode, HarnessError, UsageError } from '../util/errors.ts';
import { info, out, waiting } from '../util/log.ts';

export interface CatalogBenchFlags {
  catalog?: boolean;
  levels: string;
  repeat: string;
  scenarios?: string;
  reports?: string;
  json?: boolean;
}

/** Adds `--catalog` and its options to `bench` (the command's action calls benchCatalog when it is set). */
export function catalogBenchOptions(program: Command): Command {
  return program
    .option('--catalog', 'the scenario catalog at several levels of labs side by side: wall time per level, verdicts that flip across --repeat')
    .option('--levels <list>', 'with --catalog: labs side by side at each level, comma-separated', '1,2,4')
    .option('--repeat <n>', 'with --catalog: runs of every scenario at the highest level, to count verdicts that flip', '1')
    .option('--scenarios <names>', 'with --catalog: comma-separated scenarios instead of the whole catalog')
    .option('--reports <dir>', 'with --catalog: where the runs go (default: reports/bench/catalog/<run-id>/level-<n>/)');
}

/** `--levels 1,2,4` -> [1, 2, 4]: whole numbers from 1 to 16, each once, in ascending order. */
export function parseLevels(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const bad = parts.find((p) => !/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 16);
  if (parts.length === 0 || bad !== undefined) {
    throw new UsageError(`--levels expects whole numbers from 1 to 16, comma-separated (e.g. 1,2,4), got ${JSON.stringify(text)}`);
  }
  return [...new Set(parts.map(Number))].sort((a, b) => a - b);
}

export interface LevelFigures {
  labs: number;
  rounds: number;
  runs: number;
  wallSeconds: number;
  /** The wall time of one pass over the scenarios (wall time / rounds). */
  perPassSeconds: number;
  /** Against the first level's per-pass time. */
  speedUp: number;
  verdicts: Record<RunVerdict, number>;
  /** The 1-minute load average when the level started (other work on the machine shows here). */
  loadAtStart: number;
}

/** The figures of one level from its runs (pure). */
export function levelFigures(labs: number, rounds: number, entries: CatalogEntry[], wallSeconds: number, firstPerPass?: number): LevelFigures {
  const verdicts: Record<RunVerdict, number> = { pass: 0, fail: 0, unknown: 0, 'not-applicable': 0 };
  for (const e of entries) verdicts[e.result.verdict]++;
  const perPassSeconds = wallSeconds / rounds;
  return {
    labs,
    rounds,
    runs: entries.length,
    wallSeconds,
    perPassSeconds,
    speedUp: firstPerPass === undefined ? 1 : firstPerPass / perPassSeconds,
    verdicts,
    loadAtStart: 0,
  };
}

/** Scenarios whose first verdict differs between levels (the load of the labs beside it changed it). */
export function differingAcrossLevels(byLevel: CatalogEntry[][]): string[] {
  const first = (entries: CatalogEntry[]) => new Map(entries.filter((e) => e.round === 1).map((e) => [e.scenario, e.result.verdict]));
  const maps = byLevel.map(first);
  const names = [...new Set(maps.flatMap((m) => [...m.keys()]))];
  return names.filter((n) => new Set(maps.map((m) => m.get(n)).filter((v) => v !== undefined)).size > 1);
}

export async function benchCatalog(flags: CatalogBenchFlags, signal: AbortSignal): Promise<ExitCode> {
  if (process.getuid?.() !== 0) throw new HarnessError('bench --catalog needs root (it runs the catalog on netns labs)');
  const levels = parseLevels(flags.levels);
  const repeat = Number(flags.repeat);
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 20)
    throw new UsageError(`--repeat expects a whole number from 1 to 20, got ${JSON.stringify(flags.repeat)}`);
  const picked =
    flags.scenarios === undefined
      ? listScenarios()
      : flags.scenarios
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '')
          .map(findScenario);
  if (picked.length === 0) throw new UsageError('--scenarios named no scenario');
  const scenarios = orderScenarios(picked, 'name');
  const request = labRequest({ lab: 'bench-cat' });
  checkAccess(request);
  checkSideBySide(request, Math.max(...levels));
  const dir = flags.reports ?? join(repoRoot, 'reports', 'bench', 'catalog', newRunId());
  const machine = machineShape();
  info(
    `bench --catalog: ${scenarios.length} scenario(s) at ${levels.join(', ')} lab(s) side by side${repeat > 1 ? `, ${repeat} runs each at ${Math.max(...levels)}` : ''}; this machine: ${availableParallelism()} cores, ${(machine.availableBytes / GIB).toFixed(1)} GiB available, load ${loadavg()[0]!.toFixed(1)}; runs in ${dir}`,
  );
  const figures: LevelFigures[] = [];
  const byLevel: CatalogEntry[][] = [];
  for (const labs of levels) {
    const rounds = labs === Math.max(...levels) ? repeat : 1;
    const plan = Array.from({ length: rounds }, (_, r) => scenarios.map((scenario) => ({ scenario, round: r + 1 }))).flat();
    const tag = (m: string) => `[level ${labs}] ${m}`;
    const loadAtStart = loadavg()[0]!;
    info(tag(`${plan.length} run(s) on ${labs} lab(s)`));
    const started = Date.now();
    const entries = await runBatch(plan, {
      lab: { lab: 'bench-cat' },
      keep: false,
      signal,
      log: (m) => info(tag(m)),
      waiting: (what, elapsed, deadline, detail) => waiting(tag(what), elapsed, deadline, detail),
      // Each run's summary is progress here; the figures are the result.
      print: (text) => info(tag(text.split('\n')[0] ?? '')),
      parallel: labs,
      reportsDir: join(dir, `level-${labs}`),
    });
    const level = { ...levelFigures(labs, rounds, entries, (Date.now() - started) / 1000, figures[0]?.perPassSeconds), loadAtStart };
    figures.push(level);
    byLevel.push(entries);
    info(tag(`${level.wallSeconds.toFixed(1)}s wall`));
  }
  const highest = byLevel.at(-1)!;
  const flips = repeat > 1 ? flippedScenarios(highest) : [];
  const differ = differingAcrossLevels(byLevel);
  if (flags.json) {
    out(
      JSON.stringify(
        {
          scenarios: scenarios.map((s) => s.name),
          machine: { cores: availableParallelism(), availableGiB: Math.round((machine.availableBytes / GIB) * 10) / 10 },
          levels: figures,
          repeat,
          flips,
          differAcrossLevels: differ,
          reports: dir,
        },
        null,
        2,
      ),
    );
    return ExitCode.pass;
  }
  out(`the catalog (${scenarios.length} scenario(s)) by labs side by side:`);
  for (const f of figures) {
    const v = Object.entries(f.verdicts)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ');
    out(
      `  ${String(f.labs).padStart(2)} lab(s): ${f.wallSeconds.toFixed(1)}s wall${f.rounds > 1 ? ` for ${f.rounds} passes, ${f.perPassSeconds.toFixed(1)}s per pass` : ''}; speed-up ${f.speedUp.toFixed(2)}x; ${f.runs} run(s): ${v}; load at start ${f.loadAtStart.toFixed(1)}`,
    );
  }
  if (repeat > 1) {
    out(
      flips.length === 0
        ? `verdicts that flip across ${repeat} runs at ${figures.at(-1)!.labs} lab(s): 0`
        : `verdicts that flip across ${repeat} runs at ${figures.at(-1)!.labs} lab(s): ${flips.length}: ${flips.join(', ')}`,
    );
  }
  if (differ.length > 0) out(`verdicts that differ between levels: ${differ.join(', ')}`);
  out(`runs: ${dir}`);
  return ExitCode.pass;
}
