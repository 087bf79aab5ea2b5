// Which nomad binary a run uses: flag / NOMAD_BINARY / lab file, then `nomad` on PATH, then the pinned
// release built into the cache by scripts/build-nomad.ts.
import { accessSync, constants, readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { nomadCache, repoRoot } from '../config/paths.ts';
import { run } from '../exec/local.ts';
import { HarnessError, UsageError } from '../util/errors.ts';
import { BUSL } from '../check/releases.ts';
import { compareVersions, inRange } from '../util/versions.ts';

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

/** Releases this checkout can build: a wrapper module under build/nomad/<vX.Y.Z>, oldest first. */
export function wrappedReleases(): string[] {
  const dir = join(repoRoot, 'build', 'nomad');
  return readdirSync(dir)
    .filter((d) => /^v\d+\.\d+\.\d+$/.test(d) && existsSync(join(dir, d, 'go.mod')))
    .sort(compareVersions);
}

/** `1.6.3` or `v1.6.3` -> `v1.6.3`, a release this checkout builds; a clear refusal otherwise. */
export function releaseName(text: string): string {
  const v = text.startsWith('v') ? text : `v${text}`;
  if (!/^v\d+\.\d+\.\d+$/.test(v)) throw new UsageError(`--nomad-version expects a release such as 1.6.3, got ${JSON.stringify(text)}`);
  if (inRange(v, BUSL)) {
    throw new UsageError(
      `Nomad ${v} is not open source (BUSL: 1.5.13+, 1.6.6+, 1.7.0 on): this project never builds or fetches it`,
      'bring your own binary with --nomad PATH',
    );
  }
  const known = wrappedReleases();
  if (!known.includes(v))
    throw new UsageError(
      `no wrapper module for Nomad ${v} under build/nomad/ (releases built here: ${known.join(', ')})`,
      'add one with scripts/nomad-wrapper.ts, or pass a binary with --nomad PATH',
    );
  return v;
}

/**
 * The binary of a release built here (`v1.6.3`), built into the cache on first use (about 1 min
 * with a warm Go cache, 4 min cold). Checksums are verified by the go command as always.
 */
export async function releaseBinary(release: string, log: (message: string) => void, signal?: AbortSignal): Promise<string> {
  const path = pinnedBinaryPath(release);
  if (executable(path)) return path;
  log(`building Nomad ${release} on first use (about 1 min with a warm Go cache, 4 min cold); cached in ${dirname(path)}`);
  // cwd: node resolves `--import tsx` from the working directory, so from the checkout's node_modules.
  await run([process.execPath, '--import', 'tsx', join(repoRoot, 'scripts', 'build-nomad.ts'), '--quiet'], {
    env: { ...(process.env as Record<string, string>), NOMAD_LAB_NOMAD_VERSION: release },
    cwd: repoRoot,
    timeoutMs: 30 * 60_000,
    ...(signal === undefined ? {} : { signal }),
  });
  if (!executable(path))
    throw new HarnessError(`building Nomad ${release} left no binary at ${path}`, { command: ['node', '--import', 'tsx', 'scripts/build-nomad.ts'] });
  return path;
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

/** version >= minimum on major.minor.patch (pre-release suffixes ignored), through util/versions.ts. */
export function versionAtLeast(version: string, minimum: string): boolean {
  return inRange(version, `>=${minimum}`);
}
