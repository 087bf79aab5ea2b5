// Writes the human reports of a run directory from what is stored in it (result.json and the
// trace): summary.md, then report.html. The run writes them at its end and `nomad-lab report`
// re-renders them; the inputs are the same files, so the bytes are the same.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Positioned, ScreenEvent } from '../trace/types.ts';
import { readTrace, traceFileOf } from '../trace/writer.ts';
import { UsageError } from '../util/errors.ts';
import { writeFileAtomic } from '../util/files.ts';
import { timelineSvg } from './chart.ts';
import { renderRunReport } from './html.ts';
import { markdownSummary } from './markdown.ts';
import type { RunResult } from './result.ts';
import { buildTimeline } from './timeline.ts';

const LINKED = ['result.json', 'trace.ndjson', 'trace.ndjson.partial', 'junit.xml', 'summary.md', 'job.nomad.hcl'];

export function readRunDir(runDir: string): { result: RunResult; traceFile: string } {
  const resultFile = join(runDir, 'result.json');
  const traceFile = traceFileOf(runDir);
  if (!existsSync(resultFile) || !traceFile)
    throw new UsageError(`${runDir} is not a run directory (it needs result.json and trace.ndjson)`, 'pass a directory such as reports/spread/<run-id>');
  let result: RunResult;
  try {
    result = JSON.parse(readFileSync(resultFile, 'utf8')) as RunResult;
  } catch (cause) {
    throw new UsageError(`${resultFile} is not valid JSON: ${(cause as Error).message}`);
  }
  return { result, traceFile };
}

/** Renders report.html (and summary.md) of a run directory; returns the report's path. */
export function writeRunReports(runDir: string): string {
  const { result, traceFile } = readRunDir(runDir);
  const trace = readTrace(traceFile);
  const screens = trace.filter((e): e is Positioned<ScreenEvent> => e.kind === 'screen');
  writeFileAtomic(join(runDir, 'summary.md'), markdownSummary(`nomad-lab: ${result.scenario}`, [{ result, screens }]));
  const timeline = buildTimeline(trace, result);
  const logs = existsSync(join(runDir, 'logs'))
    ? readdirSync(join(runDir, 'logs'))
        .filter((f) => f.endsWith('.log'))
        .sort()
        .map((f) => `logs/${f}`)
    : [];
  const files = [...LINKED.filter((f) => existsSync(join(runDir, f))), ...logs];
  const html = renderRunReport({ result, timeline, svg: timelineSvg(timeline), files, screens });
  const out = join(runDir, 'report.html');
  writeFileAtomic(out, html);
  return out;
}
