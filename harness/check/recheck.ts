// Re-checks a stored run directory against its scenario's current expectations. Offline and pure
// but for reading the files.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildResult, type RunResult } from '../report/result.ts';
import { findScenario } from '../scenario/catalog.ts';
import { readTrace, traceFileOf } from '../trace/writer.ts';
import { UsageError } from '../util/errors.ts';

/** Re-checks a run directory; the scenario comes from the trace's run header. */
export function recheck(runDir: string): RunResult {
  const file = traceFileOf(runDir);
  if (!file) throw new UsageError(`no trace.ndjson in ${runDir}`, 'pass a run directory such as reports/spread/<run-id>');
  let trace;
  try {
    trace = readTrace(file);
  } catch (cause) {
    throw new UsageError(`${file} is not a trace (NDJSON of trace events): ${(cause as Error).message}`);
  }
  const run = trace.find((e) => e.kind === 'run')?.run;
  if (!run) throw new UsageError(`${file} has no run header; cannot tell which scenario it belongs to`);
  // A run that stopped early (harness error, interrupt) stays unknown when re-checked.
  const stored = join(runDir, 'result.json');
  const harnessError = existsSync(stored) ? ((JSON.parse(readFileSync(stored, 'utf8')) as RunResult).harnessError ?? undefined) : undefined;
  return buildResult(trace, findScenario(run.scenario), harnessError, run.startedAt);
}
