// Loads scenario files (scenarios/<name>.yaml): JSON-Schema validation with every problem as
// `file:line: /pointer message`, then the rules a schema cannot say.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import schema from '../config/schema/scenario.schema.json' with { type: 'json' };
import { InvalidFileError, loadUserDocument, type Problem } from '../config/user-files.ts';
import { repoRoot } from '../config/paths.ts';
import { rolesInExpectations, stepStatus } from '../check/expectations.ts';
import { rangesIn } from '../check/versioned.ts';
import { parseRole } from '../trace/roles.ts';
import { isRange } from '../util/versions.ts';
import { rolesInSteps } from './steps.ts';
import { isManySubject, parseWildcard } from '../check/many.ts';
import { loadProfile } from '../faults/profiles.ts';
import { serverStepProblems } from '../faults/servers.ts';
import { targetOf, targetProblem } from './targets.ts';
import type { Scenario } from './types.ts';

export const scenariosDir = (): string => process.env['NOMAD_LAB_SCENARIOS'] ?? join(repoRoot, 'scenarios');

export function loadScenarioFile(file: string): Scenario {
  const { data: scenario, lineOf } = loadUserDocument<Scenario>(file, schema);
  // Every problem of the checks below is reported on the line of the node its pointer names.
  const problems: Problem[] = [];
  const problem = (pointer: string, message: string) => problems.push({ file, line: lineOf(pointer), pointer, message });
  scenario.expect.transitions.forEach((t, i) => {
    // A transition of optional steps only asserts nothing: it could never fail.
    if (t.sequence.every((s) => stepStatus(s).optional)) {
      problem(`/expect/transitions/${i}/sequence`, 'has only optional statuses; a key transition must be required');
    }
  });
  // A role names a slot (`cache[0]`) the steps act on or wait for; a typo in an expectation would
  // otherwise name an allocation that never exists, and an `absent` of it would pass forever.
  const slotOf = (role: string) => {
    const p = parseRole(role);
    return p ? `${p.group}[${p.index}]` : role;
  };
  const slots = new Set(rolesInSteps(scenario).map(slotOf));
  // A wildcard role (`cache[*]#1`) names no slot; its count says how many it must match.
  for (const role of rolesInExpectations(scenario.expect).filter((r) => parseWildcard(r) === undefined)) {
    if (!slots.has(slotOf(role))) {
      problem('/expect', `names ${role}, but no step names an allocation of ${slotOf(role)} (the steps name ${[...slots].sort().join(', ') || 'none'})`);
    }
  }
  manyProblems(scenario, problem);
  for (const [i, why] of serverStepProblems(scenario.steps, scenario.lab.servers)) problem(`/steps/${i}`, why);
  // A metric names the job by the scenario's job ID (a run on a shared lab renames both together).
  for (const [i, m] of (scenario.expect.metrics ?? []).entries()) {
    if (m.labels['job'] !== undefined && m.labels['job'] !== scenario.job.id) {
      problem(
        `/expect/metrics/${i}/labels/job`,
        `is ${JSON.stringify(m.labels['job'])}, but the scenario's job is ${JSON.stringify(scenario.job.id)}: the series would never be found`,
      );
    }
  }
  for (const [i, d] of (scenario.expect.delays ?? []).entries()) {
    if (d.atLeast === undefined && d.atMost === undefined) problem(`/expect/delays/${i}`, 'has neither atLeast nor atMost: it would assert nothing');
  }
  // Version ranges: semver's grammar, which a schema pattern cannot hold.
  const ranges = [
    ...(scenario.nomad === undefined ? [] : [{ pointer: '/nomad', range: scenario.nomad }]),
    ...scenario.steps.flatMap((s, i) => (s.nomad === undefined ? [] : [{ pointer: `/steps/${i}/nomad`, range: s.nomad }])),
    ...rangesIn(scenario.expect),
  ];
  for (const { pointer, range } of ranges) {
    if (!isRange(range)) problem(pointer, `${JSON.stringify(range)} is not a version range (e.g. ">=1.6.3", "<1.6.3", ">=1.5.10 <1.6.0 || >=1.6.3")`);
  }
  if (!existsSync(join(repoRoot, 'jobs', scenario.job.file))) {
    problem('/job/file', `jobs/${scenario.job.file} does not exist`);
  }
  for (const [i, step] of scenario.steps.entries()) {
    if ((step.do === 'run_job' || step.do === 'update_job') && step.file !== undefined && !existsSync(join(repoRoot, 'jobs', step.file))) {
      problem(`/steps/${i}/file`, `jobs/${step.file} does not exist`);
    }
  }
  // Link profiles: each degrade names a valid one; a flap restores itself, so no `for` and no restore.
  for (const [i, step] of scenario.steps.entries()) {
    if (step.do !== 'degrade' && step.do !== 'restore') continue;
    // Exactly one target form (the schema cannot say it in strict mode without repeating every form).
    const targetWrong = targetProblem(targetOf(step), scenario.lab.clients);
    if (targetWrong !== undefined) problem(`/steps/${i}`, targetWrong);
    if (step.do !== 'degrade') continue;
    try {
      const profile = loadProfile(step.profile);
      if (profile.flap !== undefined && step.for !== undefined)
        problem(`/steps/${i}/for`, `profile ${step.profile} is a flap: its schedule says how long, not for`);
    } catch (error) {
      problem(`/steps/${i}/profile`, error instanceof Error ? error.message : String(error));
    }
  }
  if (problems.length > 0) throw new InvalidFileError(problems);
  return { ...scenario, file };
}

/** Every scenario file's name (without .yaml), sorted. */
export function scenarioNames(dir = scenariosDir()): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

/** Fault targets and many-subjects: what the schema cannot say. */
function manyProblems(scenario: Scenario, problem: (pointer: string, message: string) => void): void {
  for (const [i, step] of scenario.steps.entries()) {
    if (step.do !== 'partition' && step.do !== 'heal') continue;
    const why = targetProblem(targetOf(step), scenario.lab.clients);
    if (why !== undefined) problem(`/steps/${i}`, why);
  }
  const lists = { transitions: scenario.expect.transitions, never: scenario.expect.never ?? [], notBefore: scenario.expect.notBefore ?? [] };
  for (const [key, list] of Object.entries(lists)) {
    for (const [i, e] of list.entries()) {
      if ('count' in e.subject && !isManySubject(e.subject))
        problem(`/expect/${key}/${i}/subject/count`, 'applies only to a many-subject (cache[*]#1, allocsOn, nodes)');
    }
  }
  for (const [i, e] of (scenario.expect.taskEvents ?? []).entries()) {
    if (e.count !== undefined && e.allocsOn === undefined && parseWildcard(e.alloc ?? '') === undefined)
      problem(`/expect/taskEvents/${i}/count`, 'applies only to a wildcard role (cache[*]#1) or allocsOn');
  }
}
