// One check's outcome, and how outcomes make a verdict. Pure.
//
// pass: Nomad did what the scenario expects, and the harness saw all of it.
// fail: Nomad did something else (a wrong status, an extra allocation, a step that could not run
//       because Nomad misbehaved earlier); the detail names the allocations and trace lines.
// unknown: the test did not happen: a precondition unmet before the faults, a fault that did not
//       take effect, a gap in the recording, or the checker itself broke.

export type Verdict = 'pass' | 'fail' | 'unknown';

/**
 * What a check is about: `precondition` and `fault` decide whether the test happened at all;
 * `recording` whether the trace can show what Nomad did; `nomad` is what Nomad did; `harness` the
 * harness's own trouble.
 */
export type CheckKind = 'precondition' | 'fault' | 'recording' | 'nomad' | 'harness';

export interface CheckOutcome {
  check: string;
  verdict: Verdict;
  /** What was expected and what was seen, in a sentence; for failures, where. */
  detail: string;
  source: string;
  /** Absent in results written before kinds existed; read as `nomad`. */
  kind?: CheckKind;
  /**
   * What Nomad did that the check names and does not count: a race of Nomad's own, in the exact shape
   * its source explains (check/reconnect.ts). Shown with the check even when it passes.
   */
  notes?: string[];
}

export type Outcome = CheckOutcome & { kind: CheckKind };

/**
 * A test that did not happen proves nothing, so an unknown precondition or fault outranks all; then
 * anything Nomad did wrong is a fail, even beside a gap in the recording elsewhere; then any unknown.
 */
export function verdictOf(checks: CheckOutcome[]): Verdict {
  const notHappened = checks.some((c) => c.verdict === 'unknown' && (c.kind === 'precondition' || c.kind === 'fault'));
  if (notHappened) return 'unknown';
  if (checks.some((c) => c.verdict === 'fail')) return 'fail';
  if (checks.some((c) => c.verdict === 'unknown')) return 'unknown';
  return 'pass';
}
