// Unit: scenario files (schema, extra rules, line numbers), catalog lookup, and the pure parts of
// the step interpreter (conditions, when a wait is hopeless) and of catalog runs (order, summary).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidFileError } from '../../harness/config/user-files.ts';
import { findScenario, listScenarios } from '../../harness/scenario/catalog.ts';
import { orderScenarios, summarizeCatalog } from '../../harness/scenario/catalog-run.ts';
import { loadScenarioFile } from '../../harness/scenario/load.ts';
import { hopeless, holds, parseDuration, runSteps } from '../../harness/scenario/steps.ts';
import type { Scenario, ScenarioContext } from '../../harness/scenario/types.ts';
import type { Recorder } from '../../harness/trace/recorder.ts';
import { exitCodeFor, type RunResult } from '../../harness/report/result.ts';
import { HarnessError, UsageError } from '../../harness/util/errors.ts';
import { MINIMAL_SCENARIO } from './minimal-scenario.ts';

const dir = mkdtempSync(join(tmpdir(), 'nomad-lab-scenarios-'));
function file(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

const valid = MINIMAL_SCENARIO;

describe('scenario files', () => {
  it('every scenario of the catalog loads, cites sources, and names a job that exists', () => {
    const all = listScenarios();
    expect(all.map((s) => s.name)).toEqual([
      'agent-kill',
      'control',
      'deploy-cut',
      'edge',
      'expired',
      'failed-replacement',
      'failed-task',
      'flapping',
      'full-cut',
      'job-version',
      'leader-kill-cut',
      'link-flap',
      'lossy-link',
      'mass-disconnect',
      'no-replacement',
      'partial-partition',
      'servers-down',
      'spread',
    ]);
    for (const s of all) {
      expect(s.expect.transitions.length).toBeGreaterThan(0);
      for (const t of s.expect.transitions) expect(t.source.length).toBeGreaterThan(4);
    }
  });

  it('loads a minimal valid file', () => {
    expect(loadScenarioFile(file('ok.yaml', valid)).name).toBe('demo');
  });

  it('refuses a role in an expectation whose slot no step names, and a metric of another job (typos that would pass forever)', () => {
    const typo = valid.replace('    - subject: { alloc: "cache[0]#1" }', '    - subject: { alloc: "cahce[0]#1" }');
    expect(() => loadScenarioFile(file('typo.yaml', typo))).toThrow(
      /\/expect names cahce\[0\]#1, but no step names an allocation of cahce\[0\] \(the steps name cache\[0\]\)/,
    );
    const absent = `${valid}  absent:\n    - { alloc: "cache[1]#2", source: a test }\n`;
    expect(() => loadScenarioFile(file('absent.yaml', absent))).toThrow(/names cache\[1\]#2, but no step names an allocation of cache\[1\]/);
    const metric = `${valid}  metrics:\n    - { name: nomad.nomad.job_summary.unknown, labels: { job: spraed }, sequence: [0], source: a test }\n`;
    expect(() => loadScenarioFile(file('metric.yaml', metric))).toThrow(/\/expect\/metrics\/0\/labels\/job is "spraed", but the scenario's job is "spread"/);
    const role0 = valid.replace('{ alloc: "cache[0]#1" }', '{ alloc: "cache[0]#0" }');
    expect(() => loadScenarioFile(file('zero.yaml', role0))).toThrow(/must match pattern/);
  });

  it('reports every problem with its line and JSON pointer', () => {
    const broken = valid
      .replace(
        '  - do: run_job',
        '  - do: run_job\n  - do: partition\n    clientOf: cache0\n  - do: wait_for_it\n  - do: await\n    for: x\n    all: [{ alloc: "cache[0]#1", client: runing }]\n    within: soon',
      )
      .replace('field: client', 'field: clients');
    let error: unknown;
    try {
      loadScenarioFile(file('broken.yaml', broken));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidFileError);
    const lines = (error as Error).message.split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/broken\.yaml:9: \/steps\/1\/clientOf must match pattern/),
        expect.stringMatching(/broken\.yaml:10: \/steps\/2 do: "wait_for_it" is not known; one of: run_job, update_job, await, partition/),
        expect.stringMatching(/broken\.yaml:12: \/steps\/3\/for must NOT have fewer than 3 characters/),
        expect.stringMatching(/broken\.yaml:13: \/steps\/3\/all\/0\/client must be one of/),
        expect.stringMatching(/broken\.yaml:14: \/steps\/3\/within must match pattern/),
        expect.stringMatching(/broken\.yaml:22: \/expect\/transitions\/0\/field must be one of/),
      ]),
    );
  });

  it('checks the probe steps: an http_probe needs what to expect, token refusals need API paths', () => {
    const probes = valid.replace(
      '  - do: run_job',
      '  - do: run_job\n  - do: http_probe\n    for: the web answers\n    from: { clientOf: "web[0]#1" }\n    service: web\n    alloc: "web[0]#1"\n    within: 10s\n  - do: refused_without_token\n    paths: [nodes]',
    );
    let error: unknown;
    try {
      loadScenarioFile(file('probes.yaml', probes));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidFileError);
    expect((error as Error).message).toMatch(/probes\.yaml:\d+: \/steps\/1 must have required property 'expect'/);
    expect((error as Error).message).toMatch(/probes\.yaml:\d+: \/steps\/2\/paths\/0 must match pattern/);
  });

  it('accepts a capture step naming an allocation role, with an optional title', () => {
    const capture = valid.replace(
      '  - do: run_job',
      '  - do: run_job\n  - do: capture\n    alloc: "cache[0]#1"\n  - do: capture\n    alloc: "cache[1]#2"\n    title: the other one',
    );
    expect(loadScenarioFile(file('capture.yaml', capture)).steps.slice(1, 3)).toEqual([
      { do: 'capture', alloc: 'cache[0]#1' },
      { do: 'capture', alloc: 'cache[1]#2', title: 'the other one' },
    ]);
  });

  it('rejects a capture step without an allocation, with a host instead of a role, or with a command of its own', () => {
    const bad = valid.replace(
      '  - do: run_job',
      '  - do: run_job\n  - do: capture\n  - do: capture\n    alloc: client1\n  - do: capture\n    alloc: "cache[0]#1"\n    argv: [nomad, node, status]',
    );
    let error: unknown;
    try {
      loadScenarioFile(file('capture-bad.yaml', bad));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidFileError);
    const message = (error as Error).message;
    expect(message).toMatch(/capture-bad\.yaml:\d+: \/steps\/1 must have required property 'alloc'/);
    expect(message).toMatch(/capture-bad\.yaml:\d+: \/steps\/2\/alloc must match pattern/);
    expect(message).toMatch(/capture-bad\.yaml:13: \/steps\/3\/argv is not a known property/);
  });

  it("spread ends with the seed's last look: a capture of the reconnected original", () => {
    const spread = findScenario('spread');
    expect(spread.steps.at(-1)).toEqual({ do: 'capture', alloc: spread.roles.original });
  });

  it('rejects a scenario whose key transitions are all optional, and a job file that does not exist', () => {
    const optional = valid.replace('sequence: [running]', 'sequence: [{ optional: running }]').replace('spread.nomad.hcl', 'nope.nomad.hcl');
    expect(() => loadScenarioFile(file('optional.yaml', optional))).toThrow(
      /\/expect\/transitions\/0\/sequence has only optional statuses[\s\S]*jobs\/nope\.nomad\.hcl does not exist/,
    );
  });

  it('suggests a near name for an unknown scenario', () => {
    expect(() => findScenario('sprd')).toThrow(UsageError);
    try {
      findScenario('failed-tsk');
    } catch (e) {
      expect((e as UsageError).hint).toMatch(/did you mean "failed-task"/);
    }
  });
});

function recorder(
  allocs: Record<string, { client: string; desired?: string; node?: string; taskEvents?: string[]; jobVersion?: number }>,
  nodes: Record<string, string> = {},
  extra: Partial<Recorder> = {},
): Recorder {
  return {
    byRole: (role: string) => {
      const a = allocs[role];
      return a
        ? {
            id: role,
            name: role,
            node: a.node ?? 'client1',
            client: a.client,
            desired: a.desired ?? 'run',
            previous: undefined,
            jobVersion: a.jobVersion ?? 0,
            taskEvents: a.taskEvents ?? [],
          }
        : undefined;
    },
    nodes: new Map(Object.entries(nodes)),
    metric: () => undefined,
    hasBlockedEval: () => false,
    runningAtVersion: (v: number) =>
      Object.values(allocs).filter((a) => a.client === 'running' && (a.desired ?? 'run') === 'run' && (a.jobVersion ?? 0) === v).length,
    ...extra,
  } as unknown as Recorder;
}

describe('conditions', () => {
  it('hold when every field given holds', () => {
    const r = recorder({ 'cache[0]#1': { client: 'running', taskEvents: ['Started', 'Reconnected'] } }, { client1: 'ready' });
    expect(holds({ alloc: 'cache[0]#1', client: 'running', taskEvent: 'Reconnected' }, r)).toBe(true);
    expect(holds({ alloc: 'cache[0]#1', client: 'unknown' }, r)).toBe(false);
    expect(holds({ alloc: 'cache[0]#2', client: 'running' }, r)).toBe(false);
    expect(holds({ clientOf: 'cache[0]#1', status: 'ready' }, r)).toBe(true);
    expect(holds({ running: 1, version: 0 }, r)).toBe(true);
    expect(holds({ running: 1, version: 1 }, r)).toBe(false);
  });

  it('are hopeless once Nomad has settled otherwise: complete/failed are final, lost may still complete, down is not disconnected', () => {
    const r = recorder({ a: { client: 'complete' }, b: { client: 'lost' }, c: { client: 'running' } }, { client1: 'down' });
    expect(hopeless({ alloc: 'a', client: 'running' }, r)).toBe('a is complete');
    expect(hopeless({ alloc: 'b', client: 'complete' }, r)).toBeUndefined();
    expect(hopeless({ alloc: 'b', client: 'unknown' }, r)).toBe('b is lost');
    expect(hopeless({ alloc: 'c', client: 'unknown' }, r)).toBeUndefined();
    expect(hopeless({ clientOf: 'c', status: 'disconnected' }, r)).toBe('client1 is down, not disconnected');
  });

  it('parses durations', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('2m')).toBe(120_000);
    expect(() => parseDuration('soon')).toThrow(UsageError);
  });
});

describe('the capture step', () => {
  // The interpreter against a context that only records what it was asked to do.
  const runCaptures = async (steps: Scenario['steps'], r: Recorder) => {
    const calls: Array<[string, string[]]> = [];
    const labels: string[] = [];
    const ctx = {
      recorder: r,
      signal: new AbortController().signal,
      log: () => undefined,
      step: async (name: string, body: () => Promise<unknown>) => (labels.push(name), body()),
      captureCli: async (title: string, args: string[]) => void calls.push([title, args]),
    } as unknown as ScenarioContext;
    const scenario = { steps, expect: { transitions: [] } } as unknown as Scenario;
    await runSteps(scenario, ctx);
    return { calls, steps: labels };
  };

  it("runs `nomad alloc status` with the role's allocation ID, titled by the role unless the scenario names it", async () => {
    const r = recorder({ 'cache[0]#1': { client: 'running' }, 'cache[1]#1': { client: 'running' } });
    const { calls, steps } = await runCaptures(
      [
        { do: 'capture', alloc: 'cache[0]#1' },
        { do: 'capture', alloc: 'cache[1]#1', title: 'the other one' },
      ],
      r,
    );
    // The fake recorder's allocation ID is the role itself.
    expect(calls).toEqual([
      ['nomad alloc status cache[0]#1', ['alloc', 'status', 'cache[0]#1']],
      ['the other one', ['alloc', 'status', 'cache[1]#1']],
    ]);
    expect(steps).toEqual(['capture nomad alloc status cache[0]#1', 'capture the other one']);
  });

  it('stops with a harness error naming the step when the role was never seen', async () => {
    const r = recorder({}, {}, { describe: () => 'no allocations yet' });
    await expect(runCaptures([{ do: 'capture', alloc: 'cache[0]#2' }], r)).rejects.toThrow(HarnessError);
    await expect(runCaptures([{ do: 'capture', alloc: 'cache[0]#2' }], r)).rejects.toThrow(/step 1: no allocation cache\[0\]#2 has been seen/);
  });
});

describe('steps keyed by version and the deployment before the first fault', () => {
  // The interpreter against a context that records what it was asked to do.
  const drive = async (scenario: Partial<Scenario>, version: string, deploymentOk = true) => {
    const done: string[] = [];
    const notes: string[] = [];
    const r = recorder({ 'cache[0]#1': { client: 'running' } });
    const ctx = {
      recorder: r,
      nomadVersion: version,
      signal: new AbortController().signal,
      log: () => undefined,
      trace: { add: (e: { message?: string }) => void (e.message && notes.push(e.message)) },
      step: async (name: string, body: () => Promise<unknown>) => (done.push(name), body()),
      registerJob: async () => ({ ID: 'spread', Version: 0, TaskGroups: [] }),
      awaitDeployment: async () => (done.push('deployment'), deploymentOk),
      partition: async () => undefined,
      heal: async () => undefined,
      sleepUntil: async () => undefined,
      host: (name: string) => ({ name }),
    } as unknown as ScenarioContext;
    await runSteps({ expect: { transitions: [] }, job: { file: 'spread.nomad.hcl', id: 'spread' }, steps: [], ...scenario } as unknown as Scenario, ctx);
    return { done, notes };
  };
  const steps: Scenario['steps'] = [
    { do: 'run_job' },
    { do: 'partition', clientOf: 'cache[0]#1' },
    { do: 'sleep', duration: '1ms', why: 'new releases only', nomad: '>=1.6.3' },
    { do: 'heal', clientOf: 'cache[0]#1' },
  ];

  it('runs a keyed step only on releases in its range, and notes the one it left out', async () => {
    expect((await drive({ steps }, '1.6.3')).done).toEqual(['register job', 'deployment', 'partition of cache[0]#1', 'sleep 1ms', 'heal of cache[0]#1']);
    const old = await drive({ steps }, '1.6.2');
    expect(old.done).toEqual(['register job', 'deployment', 'partition of cache[0]#1', 'heal of cache[0]#1']);
    expect(old.notes).toEqual(['step 3 (sleep 1ms) is for Nomad >=1.6.3, not run on 1.6.2']);
  });

  it('waits for the deployment before the first fault, unless the scenario cuts during it; injects no fault when it did not succeed', async () => {
    expect((await drive({ steps, faultsDuringDeployment: true }, '1.6.3')).done).not.toContain('deployment');
    expect((await drive({ steps }, '1.6.3', false)).done).toEqual(['register job', 'deployment']);
  });
});

describe('catalog runs', () => {
  const scenarios = listScenarios();
  it('orders by name, reversed, or by a seeded shuffle that replays', () => {
    const names = (o: string) => orderScenarios(scenarios, o).map((s) => s.name);
    expect(names('name')).toEqual([...names('name')].sort());
    expect(names('reverse')).toEqual([...names('name')].reverse());
    expect(names('random:7')).toEqual(names('random:7'));
    expect(new Set(names('random:7'))).toEqual(new Set(names('name')));
    expect(() => orderScenarios(scenarios, 'sideways')).toThrow(UsageError);
  });

  it('summarises verdicts and wall time, counts flips, and exits with the worst verdict', () => {
    const entry = (scenario: string, round: number, verdict: 'pass' | 'fail' | 'unknown') => ({
      scenario,
      round,
      runDir: '/r',
      wallSeconds: 10,
      result: { verdict, exitCode: exitCodeFor(verdict) } as RunResult,
    });
    const flaky = summarizeCatalog([entry('spread', 1, 'pass'), entry('control', 1, 'pass'), entry('spread', 2, 'fail'), entry('control', 2, 'pass')]);
    expect(flaky.text).toMatch(/spread\s+PASS FAIL\s+10\.0s 10\.0s\s+FLIPPED/);
    expect(flaky.text).toMatch(/4 run\(s\) of 2 scenario\(s\): 3 pass, 1 fail, 0 unknown; 1 flipped/);
    expect(flaky.exitCode).toBe(1);
    expect(summarizeCatalog([entry('a', 1, 'pass'), entry('b', 1, 'unknown')]).exitCode).toBe(3);
    expect(summarizeCatalog([entry('a', 1, 'pass'), entry('b', 1, 'pass')]).exitCode).toBe(0);
  });
});
