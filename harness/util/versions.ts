// Nomad versions: the one place that wraps `semver` (npm's own version library, the best-kept
// implementation of semver ranges; ranges are what scenarios and expectations key behaviour on).
import semver from 'semver';

/** "1.6.0", "v1.6.3", "1.6.0-dev" -> a comparable version, or undefined when it is not one. */
export function parseNomadVersion(v: string): string | undefined {
  return semver.valid(semver.coerce(v, { includePrerelease: false })) ?? undefined;
}

/** Whether a Nomad version lies in a range (`>=1.6.3`, `>=1.3.10 <1.4.0 || >=1.4.5`). */
export function inRange(version: string, range: string): boolean {
  const v = parseNomadVersion(version);
  return v !== undefined && semver.satisfies(v, range);
}

/** Whether `range` is a range semver understands (for validating scenario files). */
export const isRange = (range: string): boolean => semver.validRange(range) !== null;

/** Order of two versions (`v1.5.3` < `1.6.0`), for sorting; unparseable ones last. */
export function compareVersions(a: string, b: string): number {
  const x = parseNomadVersion(a);
  const y = parseNomadVersion(b);
  if (x === undefined || y === undefined) return x === undefined ? (y === undefined ? 0 : 1) : -1;
  return semver.compare(x, y);
}
