// JUnit XML for CI: one testcase per scenario and Nomad version; a failure carries the checker's
// reasons, an unknown verdict is an error. The one place junit-report-builder is imported.
import junitModule, { type Builder } from 'junit-report-builder';
import type { RunResult } from './result.ts';

// The package is CommonJS: Node hands over module.exports (the builder), while its types describe
// an ES module with the builder under `default`. Take whichever holds it.
const junit = ((junitModule as unknown as { default?: Builder }).default ?? junitModule) as Builder;

export function junitXml(results: RunResult[]): string {
  const builder = junit.newBuilder();
  const suite = builder.testSuite().name('nomad-lab');
  for (const r of results) {
    const seconds = r.timings.find((t) => t.phase === 'total')?.seconds ?? 0;
    const tc = suite
      .testCase()
      .className(`nomad-lab.${r.scenario}`)
      .name(`${r.scenario} (nomad ${r.nomad?.version ?? '?'})`)
      .time(seconds);
    const text = r.reasons.map((x) => `${x.check}: ${x.detail}\n  source: ${x.source}`).join('\n');
    if (r.verdict === 'fail')
      tc.failure(
        r.reasons
          .filter((x) => x.verdict === 'fail')
          .map((x) => x.detail)
          .join('; '),
        'verdict',
      ).stacktrace(text);
    else if (r.verdict === 'unknown') tc.error(r.reasons.map((x) => x.detail).join('; '), 'unknown').stacktrace(text);
    else if (r.verdict === 'not-applicable') tc.skipped();
    tc.standardOutput(r.timings.map((t) => `${t.phase}: ${t.seconds === undefined ? '-' : `${t.seconds.toFixed(2)}s`}`).join('\n'));
  }
  return builder.build();
}
