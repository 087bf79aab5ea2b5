// Writes build/nomad/<version>/go.mod + go.sum: the wrapper module scripts/build-nomad.ts builds that release with.
//   node --import tsx scripts/nomad-wrapper.ts VERSION API_PSEUDO_VERSION
// VERSION is an MPL-2.0 Nomad release (1.6.x or older; 1.7.0 and later are BUSL and are never built here).
// API_PSEUDO_VERSION is github.com/hashicorp/nomad/api at the release tag's own commit,
// v0.0.0-<commit time UTC, YYYYmmddHHMMSS>-<first 12 hex of the commit>: Nomad's go.mod builds against ./api,
// which a dependency cannot, so the api module is pinned to the same source. Checksums come from the Go
// checksum database as usual; this script never turns verification off.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from 'zx';
import { repoRoot } from '../harness/config/paths.ts';
import { complainer, runScript } from './lib/script.ts';

const complain = complainer('nomad-wrapper');

interface Download {
  Error?: string;
  GoMod?: string;
  Zip?: string;
}

/** Only MPL-2.0 releases: up to 1.5.12 and 1.6.5. Nomad 1.5.13+, 1.6.6+ and 1.7.0+ are under the BUSL
 * (LICENSE at each tag; harness/check/releases.ts BUSL) and are never fetched or built here. */
function mplRelease(version: string): boolean {
  const m = /^v1\.([0-6])\.([0-9]+)$/.exec(version);
  if (!m) return false;
  const patch = Number(m[2]);
  return !((m[1] === '5' && patch >= 13) || (m[1] === '6' && patch >= 6));
}

/** Every replace line of Nomad's go.mod (single or in a block) except the one pointing at ./api. */
function replaceLines(goMod: string): string[] {
  const lines: string[] = [];
  let inBlock = false;
  for (const line of goMod.split('\n')) {
    if (/^replace \(/.test(line)) inBlock = true;
    else if (inBlock && line.startsWith(')')) inBlock = false;
    else if (inBlock && line.includes('=>')) lines.push(`replace ${line.replace(/^\t/, '')}`);
    else if (!inBlock && line.startsWith('replace ') && line.includes('=>')) lines.push(line);
  }
  return lines.filter((l) => !l.includes('=> ./api'));
}

async function main(args: string[]): Promise<number> {
  const [version, api] = args;
  if (args.length !== 2 || version === undefined || api === undefined) {
    process.stderr.write('usage: node --import tsx scripts/nomad-wrapper.ts VERSION API_PSEUDO_VERSION   (e.g. v1.6.3 v0.0.0-20231030125810-e0497bff1437)\n');
    return 2;
  }
  if (!mplRelease(version)) {
    complain(`${version} is not an MPL-2.0 release of Nomad (BUSL: 1.5.13+, 1.6.6+, 1.7.0+); bring such a binary with --nomad`);
    return 2;
  }
  process.env['PATH'] = `/usr/local/go/bin:${process.env['PATH'] ?? ''}`;
  const dir = join(repoRoot, 'build', 'nomad', version);
  if (existsSync(join(dir, 'go.mod'))) {
    complain(`${join(dir, 'go.mod')} exists; remove it first to regenerate`);
    return 2;
  }

  // go's own messages (stderr) reach the terminal; its JSON answer (stdout) is read here.
  const download = await $({ stdio: ['inherit', 'pipe', 'inherit'], nothrow: true })`go mod download -json ${`github.com/hashicorp/nomad@${version}`}`;
  let info: Download = {};
  try {
    info = JSON.parse(download.stdout) as Download;
  } catch {
    // no JSON at all: reported below with go's exit code
  }
  if (download.exitCode !== 0) {
    complain(`the Go module proxy did not give nomad@${version}: ${info.Error ?? `go mod download exited ${download.exitCode}`}`);
    return 1;
  }
  const { GoMod: upstream, Zip: zip } = info;
  if (!upstream || !zip || !existsSync(upstream) || !existsSync(zip)) {
    complain(`the module proxy gave no module for nomad@${version}`);
    return 1;
  }
  // A second guard: the release's own LICENSE must be the MPL.
  const license = await $`unzip -p ${zip} ${`github.com/hashicorp/nomad@${version}/LICENSE`}`.nothrow().quiet();
  if (license.exitCode !== 0 || !license.stdout.includes('Mozilla Public License')) {
    complain(`nomad@${version}'s LICENSE is not the MPL-2.0; not building it`);
    return 2;
  }

  mkdirSync(dir, { recursive: true });
  const goMod = [
    `// Wrapper module that builds Nomad ${version} (MPL-2.0) from the Go module proxy; written by scripts/nomad-wrapper.ts.`,
    `// Nomad's own go.mod has replace directives, so \`go install nomad@${version}\` is refused;`,
    "// a dependency's replaces are ignored, so the non-./api ones are copied here verbatim.",
    `// The api module is pinned at the ${version} tag's commit (${api}).`,
    'module nomad-lab.local/build/nomad',
    '',
    'go 1.24',
    '',
    'tool github.com/hashicorp/nomad',
    '',
    'require (',
    `\tgithub.com/hashicorp/nomad ${version}`,
    `\tgithub.com/hashicorp/nomad/api ${api}`,
    ')',
    '',
    ...replaceLines(readFileSync(upstream, 'utf8')),
  ];
  writeFileSync(join(dir, 'go.mod'), `${goMod.join('\n')}\n`);

  // The module graph of the release, with Nomad's own minimum versions (tidy keeps them; it only adds).
  const tidy = await $({ cwd: dir, env: { ...process.env, GOFLAGS: '-mod=mod' }, stdio: 'inherit', nothrow: true })`go mod tidy`;
  if (tidy.exitCode !== 0) return tidy.exitCode ?? 1;
  const lines = readFileSync(join(dir, 'go.mod'), 'utf8')
    .split('\n')
    .filter((l) => l !== '').length;
  process.stdout.write(
    `nomad-wrapper: wrote ${join(dir, 'go.mod')} (${lines} lines) and go.sum; build with NOMAD_LAB_NOMAD_VERSION=${version} node --import tsx scripts/build-nomad.ts\n`,
  );
  return 0;
}

await runScript('nomad-wrapper', main);
