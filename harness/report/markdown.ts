// A Markdown summary for CI job summaries ($GITHUB_STEP_SUMMARY): one row per run with verdict,
// wall time, detection and reconnect times, the checker's reasons and any terminal captures under
// the table. Pure.
import type { ScreenEvent } from '../trace/types.ts';
import { detectionSeconds, reconnectSeconds, totalSeconds, type RunResult } from './result.ts';

export interface SummaryRow {
  result: RunResult;
  /** Terminal captures of the run, shown under the table (a single run's summary). */
  screens?: ScreenEvent[];
  /** Wall time of the run as the caller measured it; else the trace's total. */
  wallSeconds?: number;
  /** Link to the run's report.html, relative to where the summary is read. */
  link?: string;
}

const secs = (s: number | undefined) => (s === undefined ? '–' : `${s.toFixed(1)} s`);
const icon = { pass: '✅ PASS', fail: '❌ FAIL', unknown: '⚠️ UNKNOWN', 'not-applicable': '➖ N/A' } as const;
// Table cells hold no pipes or line breaks.
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

const wallOf = (row: SummaryRow) => row.wallSeconds ?? totalSeconds(row.result);

export function markdownSummary(title: string, rows: SummaryRow[]): string {
  const lines = [`## ${title}`, ''];
  const count = (v: string) => rows.filter((x) => x.result.verdict === v).length;
  lines.push(
    `${rows.length} run(s): ${count('pass')} pass, ${count('fail')} fail, ${count('unknown')} unknown${count('not-applicable') > 0 ? `, ${count('not-applicable')} not applicable` : ''}.`,
    '',
  );
  lines.push('| scenario | Nomad | verdict | wall | partition → unknown | heal → Reconnected |', '| --- | --- | --- | --- | --- | --- |');
  for (const row of rows) {
    const r = row.result;
    const name = row.link ? `[${cell(r.scenario)}](${row.link})` : cell(r.scenario);
    lines.push(
      `| ${name} | ${cell(r.nomad?.version ?? '?')} | ${icon[r.verdict]} | ${secs(wallOf(row))} | ${secs(detectionSeconds(r))} | ${secs(reconnectSeconds(r))} |`,
    );
  }
  const failing = rows.filter((x) => x.result.verdict === 'fail' || x.result.verdict === 'unknown');
  if (failing.length > 0) {
    lines.push('', '### Reasons', '');
    for (const { result: r } of failing) {
      for (const x of r.reasons) lines.push(`- **${cell(r.scenario)}** (Nomad ${cell(r.nomad?.version ?? '?')}), ${x.check}: ${cell(x.detail)}`);
    }
  }
  // What Nomad did that a check named and did not count (its own races): rare, and worth a look.
  const noted = rows.flatMap(({ result: r }) => r.checks.flatMap((c) => (c.notes ?? []).map((note) => ({ r, c, note }))));
  if (noted.length > 0) {
    lines.push('', "### Notes (Nomad's races, named and not counted)", '');
    for (const { r, c, note } of noted) lines.push(`- **${cell(r.scenario)}** (Nomad ${cell(r.nomad?.version ?? '?')}), ${c.check}: ${cell(note)}`);
  }
  const captured = rows.filter((x) => (x.screens ?? []).length > 0);
  if (captured.length > 0) {
    lines.push('', '### Terminal captures');
    for (const { result: r, screens = [] } of captured) {
      for (const s of screens) lines.push('', `**${cell(r.scenario)}**: ${cell(s.title)} (exit ${s.exitCode})`, '', ...fenced(s.text));
    }
  }
  return `${lines.join('\n')}\n`;
}

/** A code block that the text cannot close: its fence is longer than any backtick run inside. */
function fenced(text: string): string[] {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return [`${fence}text`, text, fence];
}
