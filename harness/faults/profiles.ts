// Link profiles (profiles/<name>.yaml): loaded and checked like every user file (JSON Schema, then
// the rules a schema cannot say), and turned into the effect links.ts makes argv of.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import schema from '../config/schema/profile.schema.json' with { type: 'json' };
import { InvalidFileError, loadUserDocument, type Problem } from '../config/user-files.ts';
import { repoRoot } from '../config/paths.ts';
import { parseDuration } from '../util/duration.ts';
import { UsageError } from '../util/errors.ts';
import { parsePercent, type LinkEffect } from './links.ts';
import type { PartitionMode } from './partition.ts';

export interface LinkProfile {
  name: string;
  summary: string;
  source?: string;
  direction: PartitionMode;
  peers: 'servers';
  loss?: string;
  delay?: string;
  jitter?: string;
  flap?: { up: string; down: string; times: number };
}

export const profilesDir = (): string => join(repoRoot, 'profiles');

/** Every profile's name (without .yaml), sorted. */
export function profileNames(dir = profilesDir()): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

export function loadProfileFile(file: string): LinkProfile {
  const { data, lineOf } = loadUserDocument<LinkProfile>(file, schema);
  const problems: Problem[] = [];
  const problem = (pointer: string, message: string) => problems.push({ file, line: lineOf(pointer), pointer, message });
  const base = file
    .split('/')
    .pop()!
    .replace(/\.yaml$/, '');
  if (data.name !== base) problem('/name', `is ${JSON.stringify(data.name)}, but the file is ${base}.yaml: a step names the profile by its file`);
  // netem shapes what a device sends; what it receives would need an ifb device, which lab hosts lack.
  if (data.delay !== undefined && data.direction !== 'output')
    problem(
      '/direction',
      `is ${data.direction}, but a delay can only be added to packets the client sends (direction: output); the round trip to the servers is delayed all the same`,
    );
  // The proof of a delay is that connects take at least 0.8 × (delay − jitter): with no delay, or a jitter
  // as large as it, that bound is 0 and the proof could not fail.
  if (data.delay !== undefined) {
    const delayMs = parseDuration(data.delay);
    const jitterMs = data.jitter !== undefined ? parseDuration(data.jitter) : 0;
    if (delayMs <= 0) problem('/delay', 'is 0: a delay of nothing would assert nothing');
    else if (jitterMs >= delayMs)
      problem('/jitter', `is ${data.jitter}, not less than the delay of ${data.delay}: the connects' delay could then be 0, and its proof could not fail`);
  }
  if (data.flap !== undefined) {
    for (const k of ['up', 'down'] as const)
      if (parseDuration(data.flap[k]) < 500) problem(`/flap/${k}`, 'is shorter than 500ms: the harness could not apply and prove each cut in time');
  }
  if (problems.length > 0) throw new InvalidFileError(problems);
  return data;
}

/** Loads profiles/<name>.yaml; an unknown name is a usage error listing the profiles there are. */
export function loadProfile(name: string, dir = profilesDir()): LinkProfile {
  const file = join(dir, `${name}.yaml`);
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name) || !existsSync(file))
    throw new UsageError(`no link profile ${JSON.stringify(name)} in ${dir}`, `profiles there: ${profileNames(dir).join(', ') || 'none'}`);
  return loadProfileFile(file);
}

/** The profile's effect: loss as a probability, times in milliseconds. */
export function effectOf(p: LinkProfile): LinkEffect {
  return {
    direction: p.direction,
    ...(p.loss !== undefined ? { loss: parsePercent(p.loss) } : {}),
    ...(p.delay !== undefined ? { delayMs: parseDuration(p.delay) } : {}),
    ...(p.jitter !== undefined ? { jitterMs: parseDuration(p.jitter) } : {}),
    ...(p.flap !== undefined ? { flap: { upMs: parseDuration(p.flap.up), downMs: parseDuration(p.flap.down), times: p.flap.times } } : {}),
  };
}
