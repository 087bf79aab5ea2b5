// result.json: the verdict with its reasons, every check, phase timings, and what ran (Nomad, lab).
// Assembled by a pure function from the trace; written atomically.
import { check, type CheckOutcome, type Verdict } from '../check/checker.ts';
import { verdictOf } from '../check/outcome.ts';
import { phaseTimings, type PhaseTiming, type Timers } from '../check/timings.ts';
import { rolesInSteps } from '../scenario/steps.ts';
import type { Scenario } from '../scenario/types.ts';
import type { NotApplied } from '../check/versioned.ts';
import type { Positioned, RunInfo } from '../trace/types.ts';
import { ExitCode } from '../util/errors.ts';

/**
 * A run's verdict: the checker's, or `not-applicable` for a scenario whose Nomad range excludes the
 * release under test (nothing ran; never counted as a pass).
 */
export type RunVerdict = Verdict | 'not-applicable';

export interface RunResult {
  scenario: string;
  runId: string;
  verdict: RunVerdict;
  exitCode: ExitCode;
  reasons: CheckOutcome[];
  checks: CheckOutcome[];
  timings: PhaseTiming[];
  nomad: RunInfo['nomad'] | undefined;
  lab: RunInfo['lab'] | undefined;
  timers: Timers;
  startedAt: string | undefined;
  finishedAt: string;
  gitCommit: string | undefined;
  /** Why the run could not finish (the verdict is then unknown). */
  harnessError: string | undefined;
  /** Differences from scenarios/golden/<name>.json, if one exists (information, not the verdict). */
  goldenDiff?: string[];
  /** Expectations keyed to other Nomad releases: not judged on this one (absent in older results). */
  notApplied?: NotApplied[];
}

/**
 * A verdict's exit status: pass (and not applicable) 0, fail 1, unknown 3; an unknown verdict because
 * the harness broke (not a precondition or a gap, but an error of the harness or the lab) is 4.
 */
export const exitCodeFor = (v: RunVerdict, harnessError?: string): ExitCode =>
  v === 'pass' || v === 'not-applicable' ? ExitCode.pass : v === 'fail' ? ExitCode.fail : harnessError !== undefined ? ExitCode.infra : ExitCode.inconclusive;

/**
 * The exit status of several runs: a fail first (Nomad misbehaved: the headline), then a harness
 * error (results are missing), then inconclusive, else pass.
 */
export const worstExitCode = (codes: ExitCode[]): ExitCode =>
  ([ExitCode.fail, ExitCode.infra, ExitCode.inconclusive] as ExitCode[]).find((c) => codes.includes(c)) ?? ExitCode.pass;

/**
 * The verdict of several runs together: any fail fails, else any unknown is unknown; runs that did
 * not apply count for nothing (all of them not applicable: not applicable).
 */
export const worstVerdict = (verdicts: RunVerdict[]): RunVerdict => {
  if (verdicts.includes('fail')) return 'fail';
  if (verdicts.includes('unknown')) return 'unknown';
  return verdicts.length > 0 && verdicts.every((v) => v === 'not-applicable') ? 'not-applicable' : 'pass';
};

/** The result of a scenario that does not apply to the Nomad under test: nothing ran. */
export function notApplicableResult(scenario: Scenario, nomad: RunInfo['nomad'], runId: string): RunResult {
  const why: CheckOutcome = {
    check: 'scenario applies to this Nomad',
    verdict: 'pass',
    detail: `Nomad ${nomad.version} is outside the scenario's range ${scenario.nomad ?? '(any)'}: not run, not applicable`,
    source: scenario.source ?? 'scenario',
    kind: 'precondition',
  };
  const now = new Date().toISOString();
  return {
    scenario: scenario.name,
    runId,
    verdict: 'not-applicable',
    exitCode: ExitCode.pass,
    reasons: [why],
    checks: [why],
    timings: [],
    nomad,
    lab: undefined,
    timers: { minHeartbeatTtl: 2, heartbeatGrace: 2 },
    startedAt: now,
    finishedAt: now,
    gitCommit: undefined,
    harnessError: undefined,
    notApplied: [],
  };
}

const phaseSeconds = (r: RunResult, phase: string) => r.timings.find((t) => t.phase === phase)?.seconds;
export const detectionSeconds = (r: RunResult) => phaseSeconds(r, 'partition -> alloc unknown');
export const reconnectSeconds = (r: RunResult) => phaseSeconds(r, 'heal -> Reconnected');
export const totalSeconds = (r: RunResult) => phaseSeconds(r, 'total');

export function buildResult(
  trace: Positioned[],
  scenario: Scenario,
  harnessError?: string,
  finishedAt = new Date().toISOString(),
): RunResult & { verdict: Verdict } {
  const run = trace.find((e) => e.kind === 'run')?.run;
  const timers: Timers = run?.timers ?? { minHeartbeatTtl: 2, heartbeatGrace: 2 };
  // Expectations name the scenario's job; a run on a shared lab ran it under a fresh name.
  const actualJob = run?.job ?? scenario.job.id;
  const expect =
    actualJob === scenario.job.id
      ? scenario.expect
      : {
          ...scenario.expect,
          metrics: scenario.expect.metrics?.map((m) => (m.labels['job'] === scenario.job.id ? { ...m, labels: { ...m.labels, job: actualJob } } : m)),
        };
  const checked = check(trace, expect, { namedRoles: rolesInSteps(scenario) });
  let { verdict, reasons } = checked;
  const checks = [...checked.checks];
  if (harnessError !== undefined) {
    // A run that could not finish proves nothing by what it did not get to see; but a wait that had
    // already failed, or a step Nomad left nothing to act on, is what Nomad did before that: a fail.
    const outcome: CheckOutcome = { check: 'run', verdict: 'unknown', detail: harnessError, source: 'harness', kind: 'harness' };
    const nomadFailed = checks.some((c) => c.verdict === 'fail' && (c.check.startsWith('await: ') || c.check.startsWith('step not run: ')));
    checks.unshift(outcome);
    // Still only where the test happened: an unmet precondition or a fault without effect outranks it.
    verdict = nomadFailed && verdictOf(checks) === 'fail' ? 'fail' : 'unknown';
    reasons = nomadFailed ? [...reasons, outcome] : [outcome, ...reasons];
  }
  return {
    scenario: scenario.name,
    runId: run?.runId ?? 'unknown',
    verdict,
    exitCode: exitCodeFor(verdict, harnessError),
    reasons,
    checks,
    timings: phaseTimings(trace, scenario.roles, timers),
    nomad: run?.nomad,
    lab: run?.lab,
    timers,
    startedAt: run?.startedAt,
    finishedAt,
    gitCommit: run?.gitCommit,
    harnessError,
    notApplied: checked.notApplied,
  };
}
