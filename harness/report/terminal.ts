// The terminal summary of a run: verdict first, then what failed and why, then phase timings.
import { paint } from '../util/colour.ts';
import { table } from '../util/table.ts';
import type { RunResult } from './result.ts';

const MARK = { pass: 'ok', fail: 'FAIL', unknown: '??' } as const;

/** A check's mark, coloured like its verdict; padded outside the colour so the names line up. */
const mark = (v: keyof typeof MARK): string => `${paint(v, MARK[v])}${' '.repeat(4 - MARK[v].length)}`;

/** The run's verdict word; not-applicable stays plain (nothing was judged). */
const verdictWord = (v: RunResult['verdict']): string => (v === 'not-applicable' ? v.toUpperCase() : paint(v, v.toUpperCase()));

export function formatSummary(r: RunResult, runDir: string): string {
  const lines: string[] = [];
  // A lab with ACLs or TLS says so: the same verdict on a plain lab is another result.
  const secured = [r.lab?.acl === true ? 'ACLs' : '', r.lab?.tls === true ? 'TLS' : ''].filter((x) => x !== '').join(', ');
  lines.push(
    `${r.scenario}: ${verdictWord(r.verdict)}  (Nomad ${r.nomad?.version ?? '?'}, lab ${r.lab?.name ?? '?'}${secured ? ` with ${secured}` : ''}, run ${r.runId})`,
  );
  for (const c of r.checks) {
    lines.push(`  ${mark(c.verdict)} ${c.check}`);
    if (c.verdict !== 'pass') {
      lines.push(`       ${c.detail}`);
      lines.push(`       source: ${c.source}`);
    }
    for (const note of c.notes ?? []) lines.push(`       note: ${note}`);
  }
  if ((r.notApplied ?? []).length > 0) {
    lines.push(`not applied on Nomad ${r.nomad?.version ?? '?'} (keyed to other releases; not judged):`);
    for (const x of r.notApplied!) lines.push(`  --   ${x.expectation} (nomad ${x.range})`);
  }
  if (r.verdict === 'not-applicable') {
    lines.push(`report: ${runDir}`);
    return lines.join('\n');
  }
  lines.push('phase timings:');
  const timings = r.timings.map((t) => [
    t.phase,
    t.seconds === undefined ? '-' : `${t.seconds.toFixed(2)}s`,
    t.bound === undefined || t.seconds === undefined ? '' : t.seconds <= t.bound ? `(bound ${t.bound}s)` : `(over the ${t.bound}s bound)`,
  ]);
  for (const line of table(timings, { align: [undefined, 'right'] })) lines.push(`  ${line}`);
  if (r.goldenDiff !== undefined) {
    lines.push(
      r.goldenDiff.length === 0
        ? 'golden trace: same shape'
        : `golden trace: ${r.goldenDiff.length} difference(s) (information only; the verdict is the checker's):`,
    );
    for (const d of r.goldenDiff) lines.push(`  ${d}`);
  }
  lines.push(`report: ${runDir}`);
  return lines.join('\n');
}
