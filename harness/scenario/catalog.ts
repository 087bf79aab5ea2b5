// The scenarios `nomad-lab scenario <name>` knows (scenarios/*.yaml), and near-name suggestions.
import { join } from 'node:path';
import { closest, distance } from 'fastest-levenshtein';
import { UsageError } from '../util/errors.ts';
import { loadScenarioFile, scenarioNames, scenariosDir } from './load.ts';
import type { Scenario } from './types.ts';

export function listScenarios(): Scenario[] {
  return scenarioNames().map((n) => loadScenarioFile(join(scenariosDir(), `${n}.yaml`)));
}

export function findScenario(name: string): Scenario {
  const names = scenarioNames();
  if (names.includes(name)) return loadScenarioFile(join(scenariosDir(), `${name}.yaml`));
  const near = names.length > 0 ? closest(name, names) : undefined;
  const hint = near && distance(name, near) <= Math.max(2, Math.floor(name.length / 3)) ? `did you mean "${near}"? ` : '';
  throw new UsageError(`unknown scenario "${name}"`, `${hint}known scenarios: ${names.join(', ') || '(none)'} (scenarios/*.yaml)`);
}
