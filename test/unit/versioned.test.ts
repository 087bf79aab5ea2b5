// Unit: behaviour keyed by Nomad version (ranges on scenarios, steps and expectations), the timing
// of a replacement (delays), the release list and its refusals, the matrix table and the bisection.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { check } from '../../harness/check/checker.ts';
import type { Expectations } from '../../harness/check/expectations.ts';
import { RESCHEDULE_ON_DISCONNECT } from '../../harness/check/releases.ts';
import { expectationsFor } from '../../harness/check/versioned.ts';
import { releaseName, wrappedReleases } from '../../harness/nomad/binary.ts';
import { differingRows, matrixMarkdown, type MatrixRecord } from '../../harness/nightly/matrix.ts';
import { buildResult, exitCodeFor, notApplicableResult, worstVerdict } from '../../harness/report/result.ts';
import { bisect, type BisectStep } from '../../harness/scenario/bisect.ts';
import { findScenario } from '../../harness/scenario/catalog.ts';
import { InvalidFileError } from '../../harness/config/user-files.ts';
import { loadScenarioFile } from '../../harness/scenario/load.ts';
import { deploymentWait } from '../../harness/scenario/run.ts';
import { readTrace } from '../../harness/trace/writer.ts';
import type { Positioned } from '../../harness/trace/types.ts';
import { inRange } from '../../harness/util/versions.ts';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'runs');
/** A real run's trace, with its run header saying another Nomad version ran. */
const asVersion = (trace: Positioned[], version: string): Positioned[] =>
  trace.map((e) => (e.kind === 'run' ? { ...e, run: { ...e.run, nomad: { ...e.run.nomad, version } } } : e));

describe('expectationsFor', () => {
  const x: Expectations = {
    transitions: [{ subject: { alloc: 'a[0]#1' }, field: 'client', sequence: ['running'], source: 's' }],
    absent: [
      { alloc: 'a[0]#2', source: 'new', nomad: '>=1.6.3' },
      { alloc: 'a[0]#3', source: 'any' },
    ],
    placements: [{ alloc: 'a[0]#2', otherNodeThan: 'a[0]#1', source: 'old', nomad: '<1.6.3' }],
    finalRunning: { count: 2, version: 0, source: 'f', nomad: '>=1.6.3' },
  };

  it('keeps what applies to the release and lists the rest with its range and source', () => {
    const old = expectationsFor(x, '1.6.2');
    expect(old.applied.absent).toEqual([{ alloc: 'a[0]#3', source: 'any' }]);
    expect(old.applied.placements).toHaveLength(1);
    expect(old.applied.finalRunning).toBeUndefined();
    expect(old.notApplied.map((n) => [n.expectation, n.range, n.source])).toEqual([
      ['absent a[0]#2', '>=1.6.3', 'new'],
      ['finalRunning', '>=1.6.3', 'f'],
    ]);
    const fresh = expectationsFor(x, 'v1.6.3');
    expect(fresh.applied.absent).toHaveLength(2);
    expect(fresh.applied.placements).toEqual([]);
    expect(fresh.notApplied.map((n) => n.expectation)).toEqual(['placements a[0]#2']);
    expect(fresh.unknownVersion).toBe(false);
  });

  it('with no version known applies none of the keyed ones and says so', () => {
    const r = expectationsFor(x, undefined);
    expect(r.unknownVersion).toBe(true);
    expect(r.applied.absent).toEqual([{ alloc: 'a[0]#3', source: 'any' }]);
    expect(r.notApplied).toHaveLength(3);
    // Nothing keyed: nothing to choose, the version does not matter.
    expect(expectationsFor({ transitions: x.transitions }, undefined).unknownVersion).toBe(false);
  });

  it('the #18701 range holds the releases the backports went into and not the ones before', () => {
    for (const v of ['1.4.14', '1.5.10', '1.5.17', '1.6.3', '1.7.0']) expect(inRange(v, RESCHEDULE_ON_DISCONNECT)).toBe(true);
    for (const v of ['1.4.13', '1.5.3', '1.5.9', '1.6.0', '1.6.2']) expect(inRange(v, RESCHEDULE_ON_DISCONNECT)).toBe(false);
  });
});

describe('the checker on one real trace judged as two releases', () => {
  // spread on Nomad 1.6.0: the replacement was created in the plan that marked the original unknown.
  const trace = readTrace(join(fixtures, 'spread-pass', 'trace.ndjson'));
  const spread = findScenario('spread');

  it('as 1.6.0 the at-once delay applies and passes; the reschedule-delay one is listed as not applied', () => {
    const r = buildResult(trace, spread);
    expect(r.verdict).toBe('pass');
    const delay = r.checks.find((c) => c.check.startsWith('delay: '))!;
    expect(delay.check).toContain('at most 2s');
    expect(delay.verdict).toBe('pass');
    expect(r.notApplied?.map((n) => [n.expectation, n.range])).toEqual([
      ['delays cache[0]#1 unknown -> cache[0]#2 created (at least reschedule_delay)', '>=1.4.14 <1.5.0 || >=1.5.10 <1.6.0 || >=1.6.3 <1.8.0 || >=1.11.2'],
    ]);
  });

  it('as 1.6.3 the same run FAILs: a replacement at once, where #18701 makes it wait for the reschedule delay', () => {
    // The fixture predates recording the reschedule policy in the job read-back: add the job's (5s constant).
    const withPolicy = trace.map((e) =>
      e.kind === 'job-read'
        ? {
            ...e,
            job: {
              ...e.job,
              TaskGroups: (e.job['TaskGroups'] as object[]).map((g) => ({
                ...g,
                ReschedulePolicy: { Delay: 5e9, DelayFunction: 'constant', Unlimited: true },
              })),
            },
          }
        : e,
    );
    const r = buildResult(asVersion(withPolicy, '1.6.3'), spread);
    expect(r.verdict).toBe('fail');
    const delay = r.reasons.find((c) => c.check.startsWith('delay: '))!;
    expect(delay.check).toContain('at least reschedule_delay');
    expect(delay.detail).toMatch(/0\.000s by Nomad's ModifyTime.*took 0\.000s, less than 4\.5s/);
    expect(delay.source).toContain('#18701');
  });

  it('an unknown version is unknown for the version-keyed part, not a pass', () => {
    const noRun = trace.filter((e) => e.kind !== 'run');
    const r = check(noRun, spread.expect);
    expect(r.checks.find((c) => c.check === 'recording: Nomad version')?.verdict).toBe('unknown');
  });

  it('a scenario that wants the deployment active at the cut is unknown on a run cut after it succeeded', () => {
    const r = check(trace, { ...spread.expect, deploymentActive: { source: 'test' } });
    const pre = r.checks.find((c) => c.check.startsWith("precondition: the job's deployment"))!;
    expect(pre.verdict).toBe('unknown');
    expect(r.verdict).toBe('unknown');
  });
});

describe('scenario files with version ranges', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nomad-lab-versioned-'));
  const spreadFile = join(import.meta.dirname, '..', '..', 'scenarios', 'spread.yaml');
  const variant = (edit: (text: string) => string) => {
    const file = join(dir, `s${Math.random().toString(16).slice(2)}.yaml`);
    writeFileSync(file, edit(readFileSync(spreadFile, 'utf8')));
    return file;
  };
  it('refuses a range semver cannot read, naming where it is', () => {
    const file = variant((t) => t.replace('atMost: 2s\n      nomad: "', 'atMost: 2s\n      nomad: "not a range || '));
    expect(() => loadScenarioFile(file)).toThrow(InvalidFileError);
    try {
      loadScenarioFile(file);
    } catch (e) {
      expect((e as Error).message).toMatch(/\/expect\/delays\/0\/nomad.*is not a version range/);
    }
  });
  it('refuses a delay with neither bound (it would assert nothing)', () => {
    const file = variant((t) => t.replace('      atMost: 2s\n', ''));
    expect(() => loadScenarioFile(file)).toThrow(/has neither atLeast nor atMost/);
  });
  it('takes nomad on a scenario and on a step', () => {
    const file = variant((t) =>
      t.replace('name: spread\n', 'name: spread\nnomad: ">=1.6.0"\n').replace('  - do: capture\n', '  - do: capture\n    nomad: "<2.0.0"\n'),
    );
    const s = loadScenarioFile(file);
    expect(s.nomad).toBe('>=1.6.0');
    expect(s.steps.at(-1)).toMatchObject({ do: 'capture', nomad: '<2.0.0' });
  });
});

describe('a scenario keyed to other releases', () => {
  it('is not applicable: exit 0, never counted as a pass, and ignored by the worst verdict', () => {
    const s = { ...findScenario('spread'), nomad: '>=1.7.0' };
    const r = notApplicableResult(s, { path: '/x/nomad', version: '1.6.0', source: 'flag' }, 'run-1');
    expect(r.verdict).toBe('not-applicable');
    expect(r.exitCode).toBe(exitCodeFor('pass'));
    expect(r.checks[0]!.detail).toContain("outside the scenario's range >=1.7.0");
    expect(worstVerdict(['not-applicable', 'pass'])).toBe('pass');
    expect(worstVerdict(['not-applicable', 'fail'])).toBe('fail');
    expect(worstVerdict(['not-applicable'])).toBe('not-applicable');
  });
});

describe('releases built here', () => {
  it('lists the wrapped releases oldest first', () => {
    expect(wrappedReleases()).toEqual(['v1.5.3', 'v1.6.0', 'v1.6.1', 'v1.6.2', 'v1.6.3']);
  });
  it('takes 1.6.3 or v1.6.3, refuses BUSL releases and unknown ones with what to do instead', () => {
    expect(releaseName('1.6.3')).toBe('v1.6.3');
    expect(releaseName('v1.5.3')).toBe('v1.5.3');
    expect(() => releaseName('1.7.0')).toThrow(/BUSL/);
    expect(() => releaseName('1.9.3')).toThrow(/not open source/);
    // Late patch releases of 1.5 and 1.6 are BUSL too (LICENSE at v1.5.13 and v1.6.6); the last MPL ones are not refused as such.
    expect(() => releaseName('1.5.13')).toThrow(/BUSL/);
    expect(() => releaseName('1.6.6')).toThrow(/BUSL/);
    expect(() => releaseName('1.6.5')).toThrow(/no wrapper module/);
    expect(() => releaseName('1.5.12')).toThrow(/no wrapper module/);
    expect(() => releaseName('1.6.4')).toThrow(/no wrapper module for Nomad v1.6.4.*v1.5.3, v1.6.0/);
    expect(() => releaseName('latest')).toThrow(/expects a release such as 1.6.3/);
  });
});

describe('deploymentWait', () => {
  const group = (update: object | null) => ({ Name: 'g', Count: 1, Update: update });
  it('waits for service jobs with an update strategy, min_healthy_time plus a minute', () => {
    expect(deploymentWait({ ID: 'j', Type: 'service', TaskGroups: [group({ MaxParallel: 1, MinHealthyTime: 10e9 })] })).toEqual({ timeoutMs: 70_000 });
  });
  it('has nothing to wait for on batch jobs or groups without an update strategy', () => {
    expect(deploymentWait({ ID: 'j', Type: 'batch', TaskGroups: [group({ MaxParallel: 1 })] })).toBeUndefined();
    expect(deploymentWait({ ID: 'j', Type: 'service', TaskGroups: [group(null)] })).toBeUndefined();
    expect(deploymentWait({ ID: 'j', Type: 'service', TaskGroups: [group({ MaxParallel: 0 })] })).toBeUndefined();
  });
});

describe('matrix table', () => {
  const rec = (scenario: string, version: string, verdict: MatrixRecord['verdict']): MatrixRecord => ({
    scenario,
    version,
    verdict,
    detectSeconds: 7.2,
    reconnectSeconds: 2.5,
    wallSeconds: 30,
  });
  it('orders releases by version, marks rows whose verdicts differ, and does not count n/a as a difference', () => {
    const records = [
      rec('spread', '1.6.3', 'fail'),
      rec('spread', '1.5.3', 'pass'),
      rec('spread', '1.6.0', 'pass'),
      rec('new', '1.5.3', 'not-applicable'),
      rec('new', '1.6.3', 'pass'),
    ];
    expect(differingRows(records)).toEqual(['spread']);
    const md = matrixMarkdown('m', records);
    expect(md).toContain('| scenario | Nomad 1.5.3 | Nomad 1.6.0 | Nomad 1.6.3 | same everywhere |');
    expect(md).toContain('| spread | PASS 7.2 / 2.5 | PASS 7.2 / 2.5 | FAIL 7.2 / 2.5 | **no**: see docs/findings.md |');
    expect(md).toContain('| new | n/a | not run | PASS 7.2 / 2.5 | yes |');
  });
});

describe('bisect', () => {
  const judge = (verdicts: string[][]) => {
    const asked: number[] = [];
    const fn = async (at: number): Promise<BisectStep> => {
      asked.push(at);
      return { at, verdicts: verdicts[at] as BisectStep['verdicts'], runs: [`run-${at}`] };
    };
    return { fn, asked };
  };
  it('finds the first release where the verdict changes, running the ends and halving between', async () => {
    const { fn, asked } = judge([['pass'], ['pass'], ['pass'], ['pass'], ['fail'], ['fail'], ['fail']]);
    const r = await bisect(7, fn);
    expect(r).toMatchObject({ kind: 'changed', lastBefore: 3, first: 4 });
    expect(asked).toEqual([0, 6, 3, 4]);
  });
  it('says when the ends agree, and stops on a release whose repeats disagree', async () => {
    expect(await bisect(3, judge([['pass'], ['fail'], ['pass']]).fn)).toMatchObject({ kind: 'same', verdict: 'pass' });
    expect(await bisect(4, judge([['pass', 'pass'], ['pass', 'fail'], ['fail'], ['fail', 'fail']]).fn)).toMatchObject({ kind: 'unstable', at: 1 });
  });
  it('works on two releases: the second is the first change', async () => {
    expect(await bisect(2, judge([['pass'], ['fail']]).fn)).toMatchObject({ kind: 'changed', lastBefore: 0, first: 1 });
  });
});
