// `npm run mutate [-- <run-dir>...]`: the oracle's own test. Applies every trace mutation (a library of
// Nomad misbehaviours, harness/check/mutations.ts) to passing real runs, the committed fixtures by
// default, re-checks each mutant against its scenario, and prints the matrix run x mutation ->
// FAIL / UNKNOWN / PASS (survived) / n.a. Exit 0 when every applicable mutant is killed as it must be,
// 1 when one survives (or is killed the wrong way), 2 on bad input. Offline: no root, no lab.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Command } from 'commander';
import { formatMatrix, matrixProblems, mutateRun, type MutantRow } from '../check/mutations.ts';
import { expectationsFor } from '../check/versioned.ts';
import { repoRoot } from '../config/paths.ts';
import { buildResult } from '../report/result.ts';
import { findScenario } from '../scenario/catalog.ts';
import { loadScenarioFile } from '../scenario/load.ts';
import type { Scenario } from '../scenario/types.ts';
import { readTrace, traceFileOf } from '../trace/writer.ts';
import { ExitCode, UsageError } from '../util/errors.ts';
import { out } from '../util/log.ts';
import { runCommand } from './entry.ts';

export const fixturesDir = join(repoRoot, 'test', 'fixtures', 'runs');

/** The committed real runs that passed: the runs a mutation matrix is made over by default. */
export function passingFixtures(): string[] {
  return readdirSync(fixturesDir)
    .map((d) => join(fixturesDir, d))
    .filter((d) => existsSync(join(d, 'fixture.json')) && (JSON.parse(readFileSync(join(d, 'fixture.json'), 'utf8')) as { verdict: string }).verdict === 'pass')
    .sort();
}

/** One run directory's mutation row. A fixture may name its scenario file (`scenarioFile`, relative to the repo). */
export function mutateRunDir(dir: string): MutantRow {
  const file = traceFileOf(dir);
  if (!file) throw new UsageError(`no trace.ndjson in ${dir}`, 'pass run directories such as reports/spread/<run-id>, or none for the committed fixtures');
  const trace = readTrace(file);
  const run = trace.find((e) => e.kind === 'run')?.run;
  if (!run) throw new UsageError(`${file} has no run header; cannot tell which scenario it belongs to`);
  const fixture = join(dir, 'fixture.json');
  const scenarioFile = existsSync(fixture) ? (JSON.parse(readFileSync(fixture, 'utf8')) as { scenarioFile?: string }).scenarioFile : undefined;
  const scenario: Scenario = scenarioFile ? loadScenarioFile(join(repoRoot, scenarioFile)) : findScenario(run.scenario);
  return mutateRun(
    basename(dir),
    scenario.name,
    trace,
    scenario.roles,
    (t) => buildResult(t, scenario, undefined, run.startedAt),
    expectationsFor(scenario.expect, run.nomad.version).applied,
  );
}

export function mutateCommand(): Command {
  const program = new Command('mutate')
    .description('Apply every Nomad misbehaviour to passing runs and show whether the oracle kills each mutant (offline).')
    .argument('[run-dirs...]', 'passing run directories (default: the committed fixtures in test/fixtures/runs that passed)')
    .option('--json', 'print the matrix as JSON')
    .option('--why', 'print, for every mutant, the reason the oracle gave')
    .exitOverride()
    .action(async (dirs: string[], flags: { json?: boolean; why?: boolean }) => {
      await runCommand(async () => {
        const runs = dirs.length > 0 ? dirs : passingFixtures();
        if (runs.length === 0) throw new UsageError(`no passing runs to mutate in ${fixturesDir}`);
        const rows = runs.map(mutateRunDir);
        const problems = matrixProblems(rows);
        if (flags.json) {
          out(JSON.stringify({ rows, problems }, null, 2));
        } else {
          out(formatMatrix(rows));
          if (flags.why) for (const r of rows) for (const c of r.cells) out(`  ${r.run} x ${c.mutation}: ${c.verdict} - ${c.reason}`);
          const applicable = rows.flatMap((r) => r.cells).filter((c) => c.killed !== undefined);
          out(
            `\n${applicable.filter((c) => c.killed).length} of ${applicable.length} applicable mutants killed as they must be (FAIL; UNKNOWN for a gap in the recording) over ${rows.length} run(s)`,
          );
          for (const p of problems) out(`  problem: ${p}`);
        }
        return problems.length === 0 ? ExitCode.pass : ExitCode.fail;
      });
    });

  return program;
}
