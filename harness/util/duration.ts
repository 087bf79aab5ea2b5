// Durations as scenario files write them ("500ms", "30s", "2m"). Pure.
import { UsageError } from './errors.ts';

/** "500ms", "30s", "2m" -> milliseconds. */
export function parseDuration(d: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(d);
  if (!m) throw new UsageError(`not a duration: ${JSON.stringify(d)} (expected e.g. 500ms, 30s, 2m)`);
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
}
