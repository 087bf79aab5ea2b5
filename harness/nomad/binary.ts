// Which nomad binary a run uses: flag / NOMAD_BINARY / lab file, then `nomad` on PATH, then the pinned
// release built into the cache by scripts/build-nomad.sh.
import { accessSync, constants, readFileSync, existsSync, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { nomadCache, repoRoot } from '../config/paths.ts';
import { run } from '../exec/local.ts';
import { HarnessError, UsageError } from '../util/errors.ts';

export type BinarySource = 'flag' | 'env' | 'file' | 'path' | 'pinned';

export interface NomadBinary {
  path: string;
  source: BinarySource;
  /** "1.6.0" */
  version: string;
  /** First lines of `nomad version`, as printed. */
  versionText: string;
}

export function pinnedVersion(): string {
  return readFileSync(join(repoRoot, 'build', 'nomad', 'PINNED'), 'utf8').trim();
}

export function pinnedBinaryPath(version = pinnedVersion()): string {
  return join(nomadCache(), 'nomad', version, 'nomad');
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

export function findOnPath(file: string, pathVar = process.env['PATH'] ?? ''): string | undefined {
  for (const dir of pathVar.split(delimiter)) {
    if (dir && executable(join(dir, file))) return join(dir, file);
  }
  return undefined;
}

/** Pure choice between the candidates, in order of precedence. */
export function chooseBinary(candidates: {
  explicit: { path: string; source: 'flag' | 'env' | 'file' } | undefined;
  onPath: string | undefined;
  pinned: string;
  pinnedExists: boolean;
}): { path: string; source: BinarySource } | undefined {
  if (candidates.explicit) return { path: resolve(candidates.explicit.path), source: candidates.explicit.source };
  if (candidates.onPath) return { path: candidates.onPath, source: 'path' };
  if (candidates.pinnedExists) return { path: candidates.pinned, source: 'pinned' };
  return undefined;
}

/** "Nomad v1.6.0\nRevision ..." -> "1.6.0" (pre-release and metadata suffixes kept). */
export function parseNomadVersion(text: string): string | undefined {
  return /^Nomad v(\d+\.\d+\.\d+(?:[-+][\w.+-]+)?)/m.exec(text)?.[1];
}

export async function resolveNomad(explicit: { path: string; source: 'flag' | 'env' | 'file' } | undefined): Promise<NomadBinary> {
  const pinned = pinnedBinaryPath();
  const choice = chooseBinary({ explicit, onPath: findOnPath('nomad'), pinned, pinnedExists: existsSync(pinned) });
  if (!choice) {
    throw new HarnessError(`no nomad binary: none given, none on PATH, and the pinned ${pinnedVersion()} is not built (${pinned})`, {
      hint: 'run `npm run setup` to build the pinned release, or pass --nomad PATH / set NOMAD_BINARY',
    });
  }
  if (!executable(choice.path)) {
    throw new UsageError(`nomad binary ${choice.path} (from ${choice.source}) does not exist or is not executable`);
  }
  const result = await run([choice.path, 'version'], { timeoutMs: 20_000, check: false });
  const versionText = `${result.stdout}\n${result.stderr}`.trim();
  const version = parseNomadVersion(versionText);
  if (result.exitCode !== 0 || !version) {
    throw new HarnessError(`${choice.path} does not answer \`nomad version\` like Nomad does`, {
      command: [choice.path, 'version'],
      hint: 'point --nomad / NOMAD_BINARY at a Nomad agent binary',
    });
  }
  return { ...choice, version, versionText: versionText.split('\n').slice(0, 2).join('; ') };
}

/** a < b on major.minor.patch (suffixes ignored). */
export function versionAtLeast(version: string, minimum: string): boolean {
  const a = version.split(/[.+-]/).slice(0, 3).map(Number);
  const b = minimum.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}
