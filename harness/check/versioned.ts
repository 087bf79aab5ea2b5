// Behaviour keyed by Nomad version. A scenario, a step or an expectation may carry `nomad: <range>`
// (semver, e.g. ">=1.6.3"): it applies only to releases in that range. What did not apply is listed,
// never counted as passed. Pure.
import { inRange, parseNomadVersion } from '../util/versions.ts';
import type { Expectations } from './expectations.ts';

/** Anything that may carry a version range. */
export interface Keyed {
  nomad?: string;
}

/** An expectation left out for this release: which list it was in, what it was about, its range. */
export interface NotApplied {
  expectation: string;
  range: string;
  source: string;
}

/** The keys of Expectations that hold lists of expectations. */
const LISTS = [
  'transitions',
  'never',
  'placements',
  'absent',
  'metrics',
  'taskEvents',
  'notBefore',
  'minDelay',
  'delays',
  'strictReconnect',
  'noRestart',
] as const;
/** The keys that hold one expectation. */
const SINGLES = ['distinctNodes', 'deploymentActive', 'finalRunning', 'finalCounts', 'reconnectByScore'] as const;

export const applies = (item: Keyed, version: string): boolean => item.nomad === undefined || inRange(version, item.nomad);

/** A few words on what an expectation is about, for the list of those that did not apply. */
function about(list: string, item: Record<string, unknown>): string {
  const subject = item['subject'] as { alloc?: string; nodeOf?: string } | undefined;
  const end = (e: unknown) => {
    const x = e as { alloc?: string; client?: string };
    return `${x.alloc ?? '?'} ${x.client ?? 'created'}`;
  };
  const bound = [
    item['atLeast'] !== undefined ? `at least ${String(item['atLeast'])}` : '',
    item['atMost'] !== undefined ? `at most ${String(item['atMost'])}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  const ends = item['from'] && typeof item['from'] === 'object' ? `${end(item['from'])} -> ${end(item['to'])} (${bound})` : undefined;
  const who = subject ? (subject.alloc ?? `node of ${subject.nodeOf}`) : (item['alloc'] ?? item['name'] ?? ends ?? '');
  const what =
    item['value'] ??
    (Array.isArray(item['sequence']) ? (item['sequence'] as unknown[]).map((s) => (typeof s === 'string' ? s : JSON.stringify(s))).join(' -> ') : undefined);
  return [list, who, what].filter((p) => p !== undefined && p !== '').join(' ');
}

/**
 * The expectations that apply to `version`, and those that do not. With no version known, every keyed
 * expectation is left out and reported (`unknownVersion`): the checker cannot tell which behaviour is due.
 */
export function expectationsFor(x: Expectations, version: string | undefined): { applied: Expectations; notApplied: NotApplied[]; unknownVersion: boolean } {
  const known = version !== undefined && parseNomadVersion(version) !== undefined;
  const notApplied: NotApplied[] = [];
  const keep = (list: string, item: Keyed & { source: string }) => {
    if (item.nomad === undefined || (known && inRange(version, item.nomad))) return true;
    notApplied.push({ expectation: about(list, item as unknown as Record<string, unknown>), range: item.nomad, source: item.source });
    return false;
  };
  const applied: Expectations = { ...x };
  for (const key of LISTS) {
    const list = x[key] as Array<Keyed & { source: string }> | undefined;
    if (list !== undefined) (applied as unknown as Record<string, unknown>)[key] = list.filter((item) => keep(key, item));
  }
  for (const key of SINGLES) {
    const item = x[key] as (Keyed & { source: string }) | undefined;
    if (item !== undefined && !keep(key, item)) delete applied[key];
  }
  return { applied, notApplied, unknownVersion: !known && notApplied.length > 0 };
}

/** Every range a scenario file names (for validation). */
export function rangesIn(x: Expectations): Array<{ pointer: string; range: string }> {
  const out: Array<{ pointer: string; range: string }> = [];
  for (const key of LISTS) {
    ((x[key] ?? []) as Keyed[]).forEach((item, i) => item.nomad !== undefined && out.push({ pointer: `/expect/${key}/${i}/nomad`, range: item.nomad }));
  }
  for (const key of SINGLES) {
    const item = x[key] as Keyed | undefined;
    if (item?.nomad !== undefined) out.push({ pointer: `/expect/${key}/nomad`, range: item.nomad });
  }
  return out;
}
