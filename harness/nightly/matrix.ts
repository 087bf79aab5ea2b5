// The version matrix as a table a person reads: scenario x Nomad release -> verdict and the two key
// timings (partition -> alloc unknown, heal -> Reconnected). Rows whose verdicts differ between
// releases are marked: each such row needs a cited explanation (docs/findings.md). Pure.
import type { RunVerdict } from '../report/result.ts';
import { compareVersions } from '../util/versions.ts';

export interface MatrixRecord {
  scenario: string;
  version: string;
  verdict: RunVerdict;
  detectSeconds: number | undefined;
  reconnectSeconds: number | undefined;
  wallSeconds: number;
  /** Link to the run's report, relative to where the table is read. */
  report?: string | undefined;
}

const WORD: Record<RunVerdict, string> = { pass: 'PASS', fail: 'FAIL', unknown: 'UNKNOWN', 'not-applicable': 'n/a' };

/** Verdicts of one row by release; several runs of one cell are joined ("PASS PASS"). */
function cell(runs: MatrixRecord[]): string {
  if (runs.length === 0) return 'not run';
  const verdicts = runs.map((r) => (r.report ? `[${WORD[r.verdict]}](${r.report})` : WORD[r.verdict])).join(' ');
  const t = (f: (r: MatrixRecord) => number | undefined) => {
    const v = runs.map(f).filter((x): x is number => x !== undefined);
    return v.length === 0 ? '–' : `${(v.reduce((a, b) => a + b, 0) / v.length).toFixed(1)}`;
  };
  return runs.every((r) => r.verdict === 'not-applicable') ? verdicts : `${verdicts} ${t((r) => r.detectSeconds)} / ${t((r) => r.reconnectSeconds)}`;
}

/** Scenarios whose verdicts (not-applicable aside) are not the same on every release that ran them. */
export function differingRows(records: MatrixRecord[]): string[] {
  const scenarios = [...new Set(records.map((r) => r.scenario))].sort();
  return scenarios.filter((s) => new Set(records.filter((r) => r.scenario === s && r.verdict !== 'not-applicable').map((r) => r.verdict)).size > 1);
}

export function matrixMarkdown(title: string, records: MatrixRecord[]): string {
  const versions = [...new Set(records.map((r) => r.version))].sort(compareVersions);
  const scenarios = [...new Set(records.map((r) => r.scenario))].sort();
  const differ = new Set(differingRows(records));
  const lines = [`## ${title}`, ''];
  lines.push(
    "Each cell: verdict, then seconds from the cut to the allocation `unknown` / from the heal to `Reconnected` (mean over the cell's runs). n/a: the scenario is keyed to other releases.",
    '',
  );
  lines.push(`| scenario | ${versions.map((v) => `Nomad ${v}`).join(' | ')} | same everywhere |`);
  lines.push(`| --- | ${versions.map(() => '---').join(' | ')} | --- |`);
  for (const s of scenarios) {
    const cells = versions.map((v) => cell(records.filter((r) => r.scenario === s && r.version === v)));
    lines.push(`| ${s} | ${cells.join(' | ')} | ${differ.has(s) ? '**no**: see docs/findings.md' : 'yes'} |`);
  }
  const wall = records.reduce((sum, r) => sum + r.wallSeconds, 0);
  lines.push(
    '',
    `${records.length} run(s) on ${versions.length} release(s), ${(wall / 60).toFixed(1)} min of runs; ${differ.size === 0 ? 'every verdict the same on every release' : `verdicts differ for ${[...differ].join(', ')}`}.`,
  );
  return `${lines.join('\n')}\n`;
}
