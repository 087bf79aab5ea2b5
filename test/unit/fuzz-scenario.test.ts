// Unit: scenario files under hostile input. The checks after the schema report the real line of what
// they name; then fuzzing (fast-check): arbitrary text and bytes, and catalog scenarios mutated (keys
// dropped, wrong types, hostile names, alias bombs, deep nesting, duplicate keys) either load as a
// scenario whose names follow config/names.ts or are refused as `<file>:<line>: ...`, nothing else.
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isName } from '../../harness/config/names.ts';
import { repoRoot } from '../../harness/config/paths.ts';
import { InvalidFileError, parseUserDocument } from '../../harness/config/user-files.ts';
import { loadScenarioFile } from '../../harness/scenario/load.ts';
import type { Scenario } from '../../harness/scenario/types.ts';
import {
  arbitraryText,
  documentText,
  expectFileRefusal,
  expectNothingWritten,
  fuzz,
  hostileName,
  lineCount,
  mutate,
  mutation,
  runs,
  sandbox,
  sometimes,
  textMutation,
} from './fuzz-support.ts';
import { MINIMAL_SCENARIO } from './minimal-scenario.ts';

const box = sandbox('fuzz-scenario');

const valid = MINIMAL_SCENARIO;

/** The problems of a file that must be refused, as `line pointer message`. */
function problems(name: string, text: string): string[] {
  const file = box.write(name, text);
  try {
    loadScenarioFile(file);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidFileError);
    for (const line of (e as Error).message.split('\n')) expect(line.startsWith(`${file}:`)).toBe(true);
    return (e as InvalidFileError).problems.map((p) => `${p.line} ${p.pointer} ${p.message}`);
  }
  throw new Error(`${name} was accepted`);
}

describe('scenario files: the checks after the schema name real lines', () => {
  it('reports a rule of load.ts on the line of the node its pointer names', () => {
    // Line 16: the only status of a key transition is optional.
    expect(problems('optional.yaml', valid.replace('sequence: [running]', 'sequence: [{ optional: running }]'))).toEqual([
      '16 /expect/transitions/0/sequence has only optional statuses; a key transition must be required',
    ]);
    // Line 4: a job file that does not exist; the pointer names the value on that line.
    expect(problems('nojob.yaml', valid.replace('spread.nomad.hcl', 'nope.nomad.hcl'))).toEqual(['4 /job/file jobs/nope.nomad.hcl does not exist']);
    // Line 20: a metric of another job; line 8: a version range semver cannot read.
    const metric = `${valid}  metrics:\n    - name: nomad.nomad.job_summary.unknown\n      labels: { job: spraed }\n      sequence: [0]\n      source: a test\n`;
    expect(problems('metric.yaml', metric)).toEqual([
      `20 /expect/metrics/0/labels/job is "spraed", but the scenario's job is "spread": the series would never be found`,
    ]);
    const range = valid.replace('  - do: run_job\n', '  - do: run_job\n    nomad: ">=one"\n');
    expect(problems('range.yaml', range)).toEqual(['8 /steps/0/nomad ">=one" is not a version range (e.g. ">=1.6.3", "<1.6.3", ">=1.5.10 <1.6.0 || >=1.6.3")']);
  });

  it('a pointer to a block names its key; a missing key falls back to its nearest parent', () => {
    // /expect is a block: its line is the key's (12), not the first line inside it.
    const typo = valid.replace('    - subject: { alloc: "cache[0]#1" }', '    - subject: { alloc: "cahce[0]#1" }');
    expect(problems('typo.yaml', typo)).toEqual(['12 /expect names cahce[0]#1, but no step names an allocation of cahce[0] (the steps name cache[0])']);
    // /expect/delays/0 is the item on line 19 (delays: is line 18); a delay without bounds is reported there.
    const delay = `${valid}  delays:\n    - from: { alloc: "cache[0]#1", client: running }\n      to: { alloc: "cache[0]#1" }\n      source: a test\n`;
    expect(problems('delay.yaml', delay)).toEqual(['19 /expect/delays/0 has neither atLeast nor atMost: it would assert nothing']);
  });

  it('lineOf: a key line for a map entry, the item line for a sequence entry, the nearest parent for what is missing', () => {
    const { lineOf } = parseUserDocument('x.yaml', valid, {});
    expect(lineOf('')).toBe(1);
    expect(lineOf('/job/file')).toBe(4);
    expect(lineOf('/steps/1')).toBe(8);
    expect(lineOf('/steps/1/all/0/client')).toBe(10);
    expect(lineOf('/expect/transitions/0/sequence/0')).toBe(16);
    // Missing: the key (/job/nope), the item (/steps/7), a path through a scalar: the nearest existing parent.
    expect(lineOf('/job/nope')).toBe(4);
    expect(lineOf('/steps/7/do')).toBe(6);
    expect(lineOf('/name/deeper')).toBe(1);
    expect(lineOf('/expect/transitions/0/subject/alloc/x')).toBe(14);
  });

  it('names break their one rule with the rule as the message, on their line', () => {
    const bad = valid.replace('id: spread }', 'id: "sp;read" }').replace('  - do: run_job\n', '  - do: run_job\n    file: ../../etc/x.nomad.hcl\n');
    expect(problems('names.yaml', bad)).toEqual([
      '4 /job/id "sp;read": a job ID is 1-64 of [a-z0-9-], starting with a letter',
      '8 /steps/0/file "../../etc/x.nomad.hcl": a job file is a file name in jobs/ ending in .nomad.hcl, at most 128 of [A-Za-z0-9._-], starting with a letter or digit',
    ]);
    const write = valid.replace(
      '  - do: run_job\n',
      '  - do: run_job\n  - do: write_file\n    alloc: "cache[0]#1"\n    task: ../../../../root\n    path: local/../../x\n',
    );
    expect(problems('write.yaml', write)).toEqual(
      expect.arrayContaining([
        '10 /steps/1/task "../../../../root": a task name is 1-64 of [A-Za-z0-9._-], starting with a letter or digit',
        expect.stringMatching(/^11 \/steps\/1\/path must match pattern/),
      ]),
    );
  });

  it('a key with a newline, an alias bomb and a self-referencing alias are refused on one line each', () => {
    expect(problems('key.yaml', `${valid}"bad\\nkey": 1\n`)).toEqual(['18 /bad\nkey is not a known property']);
    expect(() => loadScenarioFile(box.write('key.yaml', `${valid}"bad\\nkey": 1\n`))).toThrow(/:18: \/bad\\u000akey is not a known property$/);
    expect(
      problems(
        'bomb.yaml',
        `${valid}x0: &x0 [a, a, a, a, a, a, a, a, a, a]\nx1: &x1 [*x0, *x0, *x0, *x0, *x0, *x0, *x0, *x0, *x0, *x0]\nx2: [*x1, *x1, *x1, *x1, *x1, *x1, *x1, *x1, *x1, *x1]\n`,
      ),
    ).toEqual([expect.stringMatching(/^1  expands its YAML aliases into too many nodes/)]);
    expect(problems('cycle.yaml', `${valid}cycle: &c [*c]\n`)).toEqual(['18  alias *c lies inside the collection &c it names (a cycle)']);
    expect(problems('unresolved.yaml', `${valid}x: *nope\n`)).toEqual(['18  alias *nope names no anchor &nope defined before it']);
  });
});

describe('scenario files: size and depth', () => {
  it('a file over a MiB, with too many aliases, or nested deeper than any scenario needs, is refused on one line', () => {
    expect(problems('big.yaml', `${valid}# ${'x'.repeat(1024 * 1024)}\n`)).toEqual([
      expect.stringMatching(/^1  is \d+ characters long; a user file holds at most 1048576$/),
    ]);
    // 70 levels of flow sequences on line 18: the parser copes, the depth guard refuses before toJS and ajv recurse.
    // 20000 aliases: each costs the yaml package a walk of the document; refused before that, in well under a second.
    const started = Date.now();
    expect(problems('aliases.yaml', `${valid}anchor: &a x\nmany: [${Array(20_000).fill('*a').join(', ')}]\n`)).toEqual([
      '19  uses more than 100 YAML aliases; write the values out instead',
    ]);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(problems('deep.yaml', `${valid}deep: ${'['.repeat(70)}${']'.repeat(70)}\n`)).toEqual(['18  nests collections more than 64 deep']);
  });
});

describe('scenario files: fuzzed', () => {
  const catalog = ['spread', 'failed-task', 'edge'].map((n) => {
    const { file: _file, ...data } = loadScenarioFile(join(repoRoot, 'scenarios', `${n}.yaml`));
    return data as Omit<Scenario, 'file'>;
  });
  const file = join(box.dir, 'case.yaml');
  box.written.add('case.yaml');

  /** Loads the text; on success every name follows its rule, on refusal every line is `<file>:<line>: `. */
  function check(data: string | Uint8Array): string {
    box.write('case.yaml', data);
    let scenario: Scenario;
    try {
      scenario = loadScenarioFile(file);
    } catch (e) {
      return expectFileRefusal(e, file, lineCount(data));
    }
    expect(isName('scenario', scenario.name)).toBe(true);
    expect(isName('job', scenario.job.id) && isName('jobFile', scenario.job.file)).toBe(true);
    for (const dc of scenario.lab.clientDatacenters ?? []) expect(isName('datacenter', dc)).toBe(true);
    for (const step of scenario.steps) {
      if ('file' in step && step.file !== undefined) expect(isName('jobFile', step.file)).toBe(true);
      if (step.do === 'write_file') {
        expect(isName('task', step.task)).toBe(true);
        expect(step.path.split('/')).not.toContain('..');
      }
    }
    return 'loaded';
  }

  // The name fields, so most structured cases hit a name rather than a key the schema refuses anyway.
  const nameTargets = [
    ['name'],
    ['job', 'id'],
    ['job', 'file'],
    ['lab', 'clientDatacenters', 0],
    ['steps', 0, 'file'],
    ['steps', 5, 'task'],
    ['steps', 5, 'path'],
  ];

  it('arbitrary text and bytes: refused as file:line, or loaded', { timeout: 60_000 }, () => {
    fuzz('scenario/arbitrary', arbitraryText(), check, runs(300));
  });

  it('catalog scenarios with hostile names, dropped keys, wrong types and YAML tricks', { timeout: 60_000 }, () => {
    const arb = fc.record({
      base: fc.constantFrom(...catalog),
      named: fc.array(fc.tuple(fc.constantFrom(...nameTargets), hostileName()), { maxLength: 2 }),
      mutations: fc.array(mutation(), { maxLength: 3 }),
      text: sometimes(textMutation(), 3),
      form: fc.nat(),
    });
    fuzz(
      'scenario/structured',
      arb.chain(({ base, named, mutations, text }) => {
        let doc = mutate(base, mutations);
        for (const [path, value] of named) doc = mutate(doc, [{ kind: 'set', pick: 0, value, key: '' }], [path]);
        return documentText(doc).map((t) => (text ? text(t) : t));
      }),
      check,
      runs(350),
    );
  });

  it('wrote nothing: no lab under the lab root, no file but the cases (the loader is pure; a refusal leaves no partial lab)', () => {
    expectNothingWritten(box);
  });
});
