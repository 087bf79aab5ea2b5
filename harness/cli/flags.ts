// Command-line flags several commands share: numbers (with the message every command gives for a bad one) and the Nomad binary (--nomad / --nomad-version).
import { releaseBinary, releaseName, wrappedReleases } from '../nomad/binary.ts';
import { UsageError } from '../util/errors.ts';

export function numberFlag(name: string, text: string, min: number, max: number, integer = false): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} expects ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return n;
}

/**
 * `--nomad PATH` or `--nomad-version X.Y.Z` (a release built here, built on first use) -> the binary
 * path to run, or undefined for the default resolution (NOMAD_BINARY, PATH, the pinned release).
 */
export async function nomadFlag(flags: { nomad?: string; nomadVersion?: string }, log: (message: string) => void, signal?: AbortSignal): Promise<string | undefined> {
  if (flags.nomad !== undefined && flags.nomadVersion !== undefined) throw new UsageError('--nomad and --nomad-version both name the binary; give one');
  if (flags.nomadVersion === undefined) return flags.nomad;
  return releaseBinary(releaseName(flags.nomadVersion), log, signal);
}

export const nomadVersionHelp = (): string => `run a Nomad release built here (${wrappedReleases().map((v) => v.slice(1)).join(', ')}: build/nomad/), built into the cache on first use`;
