// The terminal summary of a run: verdict first, then what failed and why, then phase timings.
import type { RunResult } from './result.ts';

const mark = { pass: 'ok  ', fail: 'FAIL', unknown: '??  ' } as const;

export function formatSummary(r: RunResult, runDir: string): string {
  const lines: string[] = [];
  lines.push(`${r.scenario}: ${r.verdict.toUpperCase()}  (Nomad ${r.nomad?.version ?? '?'}, lab ${r.lab?.name ?? '?'}, run ${r.runId})`);
  for (const c of r.checks) {
    lines.push(`  ${mark[c.verdict]} ${c.check}`);
    if (c.verdict !== 'pass') {
      lines.push(`       ${c.detail}`);
      lines.push(`       source: ${c.source}`);
    }
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
  const w = Math.max(...r.timings.map((t) => t.phase.length));
  for (const t of r.timings) {
    const s = t.seconds === undefined ? '     -' : `${t.seconds.toFixed(2).padStart(6)}s`;
    const b = t.bound === undefined || t.seconds === undefined ? '' : t.seconds <= t.bound ? `  (bound ${t.bound}s)` : `  (over the ${t.bound}s bound)`;
    lines.push(`  ${t.phase.padEnd(w)}  ${s}${b}`);
  }
  if (r.goldenDiff !== undefined) {
    lines.push(r.goldenDiff.length === 0 ? 'golden trace: same shape' : `golden trace: ${r.goldenDiff.length} difference(s) (information only; the verdict is the checker's):`);
    for (const d of r.goldenDiff) lines.push(`  ${d}`);
  }
  lines.push(`report: ${runDir}`);
  return lines.join('\n');
}
