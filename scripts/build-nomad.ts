// Builds the pinned Nomad release from the Go module proxy with the wrapper module in build/nomad/<version>,
// into a cache outside the checkout keyed by version. Records cold/warm build figures in build.json.
//   node --import tsx scripts/build-nomad.ts [--quiet] [--force]
// Environment: NOMAD_LAB_CACHE (default ~/.cache/nomad-lab), NOMAD_LAB_NOMAD_VERSION (default: build/nomad/PINNED;
// `1.6.3` and `v1.6.3` both name the release). Exit 2 for a usage or machine problem (unknown option, no
// wrapper module, no Go, low disk); a failing command's own exit code otherwise.
// While `go build` runs (1-4 min) it shows a spinner with the elapsed seconds on a terminal, and a plain
// line every 15 s otherwise (a pipe, a log, CI=true).
import { accessSync, constants, mkdirSync, readFileSync, readdirSync, renameSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { $, which, type ProcessOutput } from 'zx';
import { nomadCache, repoRoot } from '../harness/config/paths.ts';
import { complainer, runScript } from './lib/script.ts';

const say = (line: string): void => void process.stdout.write(`build-nomad: ${line}\n`);
const complain = complainer('build-nomad');

async function main(args: string[]): Promise<number> {
  let quiet = false;
  let force = false;
  for (const a of args) {
    if (a === '--quiet') quiet = true;
    else if (a === '--force') force = true;
    else {
      complain(`unknown option ${a} (expected --quiet, --force)`);
      return 2;
    }
  }

  const wrappers = join(repoRoot, 'build', 'nomad');
  if (process.env['NOMAD_LAB_VERSION']) {
    process.stderr.write(
      `build-nomad: NOMAD_LAB_VERSION is now NOMAD_LAB_NOMAD_VERSION (rename it: NOMAD_LAB_NOMAD_VERSION=${process.env['NOMAD_LAB_VERSION']})\n`,
    );
    return 2;
  }
  const asked = process.env['NOMAD_LAB_NOMAD_VERSION'] || readFileSync(join(wrappers, 'PINNED'), 'utf8').trim();
  const version = /^\d+\.\d+\.\d+$/.test(asked) ? `v${asked}` : asked;
  const moduleDir = join(wrappers, version);
  const outDir = join(nomadCache(), 'nomad', version);
  const binary = join(outDir, 'nomad');

  if (!isFile(join(moduleDir, 'go.mod'))) {
    complain(`no wrapper module for ${version} (expected ${join(moduleDir, 'go.mod')})`);
    complain(
      `versions with a wrapper: ${readdirSync(wrappers)
        .filter((d) => d.startsWith('v'))
        .sort()
        .join(' ')}`,
    );
    return 2;
  }
  if (!force && executable(binary) && (await $`${binary} version`.nothrow().quiet()).exitCode === 0) {
    if (!quiet) say(`cached ${binary}`);
    return 0;
  }

  // Go: Nomad needs a recent toolchain; Debian's golang-go is too old, so prefer /usr/local/go.
  process.env['PATH'] = `/usr/local/go/bin:${process.env['PATH'] ?? ''}`;
  if (!(await which('go', { nothrow: true }))) {
    complain('no Go toolchain found (looked on PATH and in /usr/local/go/bin).');
    complain('install Go >= 1.24 from go.dev, or point NOMAD_BINARY at a nomad you built.');
    return 2;
  }

  // A cold build fills the module and build caches with several GB.
  const goModCache = (await $`go env GOMODCACHE`).stdout.trim();
  const goBuildCache = (await $`go env GOCACHE`).stdout.trim();
  mkdirSync(goModCache, { recursive: true });
  const fs = statfsSync(goModCache);
  const freeKiB = Math.floor((fs.bavail * fs.bsize) / 1024);
  if (freeKiB < 6 * 1024 * 1024) {
    complain(`only ${Math.floor(freeKiB / 1024)} MiB free under ${goModCache}; a cold Nomad build needs about 6 GiB`);
    return 2;
  }

  const go = (await $`go version`).stdout.trim().split(' ')[2] ?? 'go?';
  say(`building Nomad ${version} with ${go} (cold build: about 4 min on 2 cores; cached afterwards)`);
  mkdirSync(outDir, { recursive: true });
  // Cold or warm is decided by the Go build cache: with Nomad's packages compiled in it, a build is
  // mostly a link step. 1 GiB is well below what a Nomad build leaves there.
  const kind = (await sizeMiB(goBuildCache)) > 1024 ? 'warm' : 'cold';
  const start = performance.now();
  // -mod=readonly: go.sum is committed; a build that would change it is a bug in the wrapper module.
  const build = $({
    cwd: moduleDir,
    env: { ...process.env, GOFLAGS: '-mod=readonly -buildvcs=false', CGO_ENABLED: '1' },
    stdio: ['inherit', 'inherit', 'pipe'],
    quiet: true, // its stderr is forwarded below
    nothrow: true,
  })`go build -trimpath -tags ${'codegen_generated release'} -ldflags ${`-X github.com/hashicorp/nomad/version.GitCommit=${version}-nomad-lab`} -o ${`${binary}.tmp`} github.com/hashicorp/nomad`;
  const ticker = progress(`building Nomad ${version}`);
  // go's own messages (compile errors, cgo warnings) go to stderr as they come, not over the spinner.
  build.stderr.on('data', (chunk: Buffer) => {
    ticker.clear();
    process.stderr.write(chunk);
  });
  // Ctrl-C, or the harness cancelling (SIGTERM): stop the whole go build, not only this process.
  let interrupted: NodeJS.Signals | undefined;
  const stop = (signal: NodeJS.Signals): void => {
    interrupted = signal;
    try {
      build.kill('SIGTERM').catch(() => undefined);
    } catch {
      // already ended
    }
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  let result: ProcessOutput;
  try {
    result = await build;
  } finally {
    ticker.stop();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  if (interrupted) {
    complain(`interrupted (${interrupted}); no binary written`);
    return interrupted === 'SIGINT' ? 130 : 143;
  }
  if (result.exitCode !== 0) return result.exitCode ?? 1;
  const seconds = ((performance.now() - start) / 1000).toFixed(1);
  renameSync(`${binary}.tmp`, binary);

  const [modCacheMiB, buildCacheMiB, binaryMiB] = [await sizeMiB(goModCache), await sizeMiB(goBuildCache), await sizeMiB(binary)];
  const builtAt = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const j = JSON.stringify;
  writeFileSync(
    join(outDir, 'build.json.tmp'),
    `{"version": ${j(version)}, "go": ${j(go)}, "seconds": ${seconds}, "kind": ${j(kind)},\n` +
      ` "builtAt": ${j(builtAt)}, "binaryMiB": ${binaryMiB}, "goModCacheMiB": ${modCacheMiB}, "goBuildCacheMiB": ${buildCacheMiB}}\n`,
  );
  renameSync(join(outDir, 'build.json.tmp'), join(outDir, 'build.json'));
  say(`built ${binary} in ${seconds}s (${kind}); binary ${binaryMiB} MiB, module cache ${modCacheMiB} MiB, build cache ${buildCacheMiB} MiB`);
  return (await $({ stdio: 'inherit', nothrow: true })`${binary} version`).exitCode ?? 1;
}

/** `du -sm`: MiB a file or directory takes on disk; 0 when it is missing or unreadable. */
async function sizeMiB(path: string): Promise<number> {
  const out = await $`du -sm ${path}`.nothrow().quiet();
  return Number(/^(\d+)/.exec(out.stdout)?.[1] ?? 0);
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Progress of a long step: on a terminal a spinner with the elapsed seconds (stderr, redrawn in place);
 * otherwise, or with CI=true, a plain line every 15 s on stdout.
 */
function progress(title: string): { clear: () => void; stop: () => void } {
  const started = performance.now();
  const elapsed = (): number => Math.floor((performance.now() - started) / 1000);
  if (process.stderr.isTTY && process.env['CI'] !== 'true') {
    const frames = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏';
    let i = 0;
    const clear = (): void => void process.stderr.write('\r\x1b[K');
    const draw = (): void => void process.stderr.write(`\r  ${frames[i++ % frames.length]} ${title}: ${elapsed()} s\x1b[K`);
    draw();
    const timer = setInterval(draw, 100);
    return {
      clear,
      stop: () => {
        clearInterval(timer);
        clear();
      },
    };
  }
  const timer = setInterval(() => say(`${title}: ${elapsed()} s so far`), 15_000);
  return { clear: () => undefined, stop: () => clearInterval(timer) };
}

await runScript('build-nomad', main);
