// Unit: the README's table of environment variables is the harness's own list, and every variable the
// code reads is on it (or is the shell's, Nomad's CLI's or the terminal's own).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENVIRONMENT, RETIRED, refuseRetiredEnvironment } from '../../harness/config/environment.ts';
import { repoRoot } from '../../harness/config/paths.ts';

/** Variables the harness reads that belong to others: the shell's, the terminal's, the nomad CLI's (set for a shell). */
const NOT_OURS = new Set([
  'PATH',
  'TERM',
  'XDG_CACHE_HOME',
  'XDG_STATE_HOME',
  'SUDO_USER',
  'SSH_AUTH_SOCK',
  'NOMAD_ADDR',
  'NOMAD_TOKEN',
  'NO_PROXY',
  'no_proxy',
  'HOME',
]);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : /\.(ts|js)$/.test(n) ? [p] : [];
  });
}

describe('environment variables', () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const table = [...readme.matchAll(/^\| `([A-Z_*]+)` \|/gm)].map((m) => m[1]);

  it("the README's table lists exactly the harness's variables, in its order", () => {
    expect(table).toEqual(ENVIRONMENT.map((e) => e.name));
  });

  it('every variable the harness, its scripts and bin read is in the table (or not ours)', () => {
    const read = new Set<string>();
    for (const file of [...sources(join(repoRoot, 'harness')), ...sources(join(repoRoot, 'scripts')), ...sources(join(repoRoot, 'bin'))]) {
      for (const m of readFileSync(file, 'utf8').matchAll(/env\[['"]([A-Z_]+)['"]\]/g)) read.add(m[1]!);
    }
    const listed = new Set(ENVIRONMENT.map((e) => e.name));
    const unlisted = [...read].filter((v) => !listed.has(v) && !NOT_OURS.has(v) && !(v in RETIRED));
    expect(unlisted).toEqual([]);
  });

  it('a retired name is refused with its new name; the current names pass', () => {
    expect(() => refuseRetiredEnvironment({ NOMAD_LAB_VERSION: '1.6.3' })).toThrow('NOMAD_LAB_VERSION is now NOMAD_LAB_NOMAD_VERSION');
    expect(() => refuseRetiredEnvironment({ NOMAD_LAB_NOMAD_BINARY: '/x/nomad' })).toThrow('NOMAD_LAB_NOMAD_BINARY is now NOMAD_BINARY');
    expect(() => refuseRetiredEnvironment({ NOMAD_LAB_NOMAD_VERSION: '1.6.3', NOMAD_BINARY: '/x/nomad', NOMAD_LAB_VM_SERVERS: '3' })).not.toThrow();
  });
});
