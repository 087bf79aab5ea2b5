// The scenarios `npm run scenario <name>` knows, and near-name suggestions for typos.
import { closest, distance } from 'fastest-levenshtein';
import { UsageError } from '../util/errors.ts';
import { spread } from './spread.ts';
import type { Scenario } from './types.ts';

export const catalog: ReadonlyMap<string, Scenario> = new Map([[spread.name, spread]]);

export function findScenario(name: string): Scenario {
  const s = catalog.get(name);
  if (s) return s;
  const names = [...catalog.keys()];
  const near = closest(name, names);
  const hint = near && distance(name, near) <= Math.max(2, Math.floor(name.length / 3)) ? `did you mean "${near}"? ` : '';
  throw new UsageError(`unknown scenario "${name}"`, `${hint}known scenarios: ${names.join(', ')}`);
}
