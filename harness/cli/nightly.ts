// `nomad-lab nightly [--date YYYY-MM-DD] [--nomad a --nomad b]` (and `matrix`: every release built
// here): runs the scenario catalog on each Nomad binary given, then writes reports/nightly/<date>/
// (index.html, junit.xml, summary.md, nightly.json, matrix.md), appends the night to
// reports/nightly/history.ndjson and shows the trends against earlier nights. Exit codes as every
// command (docs/cli.md); the reports are written in every case, also after Ctrl-C (with the runs done so far).
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Command } from 'commander';
import { repoRoot } from '../config/paths.ts';
import { renderNightIndex, renderNightsIndex } from '../nightly/index-html.ts';
import { analyse, DEFAULT_TRENDS, formatHistory, mergeHistory, parseHistory, type NightRecord, type Trends } from '../nightly/trends.ts';
import { releaseBinary, releaseName, resolveNomad, wrappedReleases } from '../nomad/binary.ts';
import { differingRows, matrixMarkdown } from '../nightly/matrix.ts';
import { junitXml } from '../report/junit.ts';
import { markdownSummary } from '../report/markdown.ts';
import { detectionSeconds, reconnectSeconds, worstExitCode, worstVerdict, type RunVerdict } from '../report/result.ts';
import { runBatch } from '../scenario/batch.ts';
import { findScenario, listScenarios } from '../scenario/catalog.ts';
import { orderScenarios, type CatalogEntry } from '../scenario/catalog-run.ts';
import { ExitCode, HarnessError, UsageError } from '../util/errors.ts';
import { writeFileAtomic } from '../util/files.ts';
import { info, out, waiting, warn } from '../util/log.ts';
import { runCommand } from './entry.ts';
import { labOptions, nomadVersionHelp, numberFlag, pickLab } from './flags.ts';
import { checkAccess, checkSideBySide, labRequest, type LabSelection } from '../lab/labs.ts';

type Flags = Omit<LabSelection, 'nomad'> & {
  date?: string;
  nomad?: string[];
  nomadVersion?: string[];
  scenarios?: string;
  acl?: boolean;
  order: string;
  reports?: string;
  threshold: string;
  minSeconds: string;
  window: string;
  parallel: string;
  json?: boolean;
};

function validDate(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(text);
}

function trendLines(t: Trends): string[] {
  const lines: string[] = [];
  for (const x of t.newlyFailing)
    lines.push(`NEWLY FAILING: ${x.scenario} on Nomad ${x.version} (${x.verdict}; last passed: ${x.lastPass})${x.reason ? `: ${x.reason}` : ''}`);
  for (const x of t.stillFailing) lines.push(`still failing: ${x.scenario} on Nomad ${x.version} since ${x.since}`);
  for (const x of t.fixed) lines.push(`fixed: ${x.scenario} on Nomad ${x.version} (failed on ${x.failedOn})`);
  for (const x of t.flaky) lines.push(`flaky: ${x.scenario} on Nomad ${x.version}: ${x.verdicts.map((v) => `${v.date} ${v.verdict}`).join(', ')}`);
  for (const x of t.moved)
    lines.push(`timing moved: ${x.scenario} on Nomad ${x.version}: ${x.measure} ${x.tonight.toFixed(1)}s against ${x.baseline.toFixed(1)}s`);
  return lines;
}

/** `nightly`, or `matrix`: the same night on every release built here (unless --nomad / --nomad-version narrow it). */
export function nightlyCommand(name: 'nightly' | 'matrix' = 'nightly'): Command {
  const program = new Command(name)
    .description(
      name === 'matrix'
        ? 'Run the scenario catalog on every Nomad release built here (the version matrix), write matrix.md and the nightly index with history and trends.'
        : 'Run the scenario catalog (optionally on several Nomad binaries), write the nightly index with history and trends.',
    )
    .option('--date <YYYY-MM-DD>', 'the night to record (default: today, UTC); a re-run replaces that night')
    .option('--nomad <path>', 'a nomad binary to run; repeat for a version matrix (default: as `scenario` resolves it)', (v: string, prev: string[] = []) => [
      ...prev,
      v,
    ])
    .option(
      '--nomad-version <x.y.z|all>',
      `${nomadVersionHelp()}; repeat for a version matrix; \`all\`: every one (the default of \`matrix\`)`,
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--acl', 'run every scenario with Nomad ACLs on')
    .option('--scenarios <names>', 'comma-separated scenarios to run (default: the whole catalog)')
    .option('--order <order>', 'order of the runs: name, reverse, or random[:seed]', 'name')
    .option('--reports <dir>', 'reports root; the night goes to <dir>/nightly/<date>/ (default: reports/)')
    .option('--threshold <percent>', 'flag a timing that moved by more than this percentage of its baseline', String(DEFAULT_TRENDS.threshold * 100))
    .option('--min-seconds <s>', '...and by more than this many seconds', String(DEFAULT_TRENDS.minSeconds))
    .option('--json', 'print the night (verdict, records, trends) as JSON on stdout; progress stays on stderr')
    .option(
      '--parallel <n>',
      'labs at once: releases side by side, each on a lab of its own; with one release, its catalog over n labs (a catalog run loads about one core)',
      '1',
    )
    .option('--window <nights>', 'nights (tonight included) that baselines and flakiness look at', String(DEFAULT_TRENDS.window))
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  labOptions(program, { provider: true, tls: true });
  program.action(async (flags: Flags) => {
    await runCommand(async ({ signal }) => {
      const date = flags.date ?? new Date().toISOString().slice(0, 10);
      if (!validDate(date)) throw new UsageError(`--date expects a calendar date as YYYY-MM-DD, got ${JSON.stringify(date)}`);
      const options = {
        threshold: numberFlag('threshold', flags.threshold, 0, 10_000) / 100,
        minSeconds: numberFlag('min-seconds', flags.minSeconds, 0, 3600),
        window: numberFlag('window', flags.window, 2, 365, true),
      };
      const picked =
        flags.scenarios === undefined
          ? listScenarios()
          : flags.scenarios
              .split(',')
              .map((s) => s.trim())
              .filter((s) => s !== '')
              .map(findScenario);
      if (picked.length === 0) throw new UsageError('--scenarios named no scenario');
      const scenarios = orderScenarios(picked, flags.order);
      checkAccess(labRequest(pickLab(flags), { name: 'sc-catalog' }));

      // The version matrix: each binary with the version it reports; two binaries of one version are one column too many.
      const envBinary = process.env['NOMAD_BINARY'];
      // Releases built here (built on first use), oldest first, then binaries given by path.
      const asked = flags.nomadVersion ?? (name === 'matrix' && flags.nomad === undefined ? ['all'] : []);
      const releases = [...new Set(asked.flatMap((v) => (v === 'all' ? wrappedReleases() : [releaseName(v)])))];
      const paths: Array<string | undefined> = [];
      for (const r of releases) paths.push(await releaseBinary(r, info, signal));
      paths.push(...(flags.nomad ?? []));
      const binaries = await Promise.all(
        (paths.length > 0 ? paths : [undefined]).map(async (path) => ({
          path,
          nomad: await resolveNomad(path !== undefined ? { path, source: 'flag' } : envBinary ? { path: envBinary, source: 'env' } : undefined),
        })),
      );
      // A night with ACLs or TLS on is its own column (and history key): `1.6.0+acl`, `1.6.0+acl+tls`.
      const label = (version: string) => `${version}${flags.acl === true ? '+acl' : ''}${flags.tls === true ? '+tls' : ''}`;
      const versions = binaries.map((b) => label(b.nomad.version));
      const dup = versions.find((v, i) => versions.indexOf(v) !== i);
      if (dup !== undefined) throw new UsageError(`two of the --nomad binaries report version ${dup}; give each version once`);

      const root = join(flags.reports ?? join(repoRoot, 'reports'), 'nightly');
      const nightDir = join(root, date);
      info(`nightly ${date}: ${scenarios.length} scenario(s) x Nomad ${versions.join(', ')}; reports in ${nightDir}`);
      const entries: Array<CatalogEntry & { version: string }> = [];
      let stopped: unknown;
      // Several releases at once (--parallel): each on a lab of its own, its lines prefixed by its version.
      // One release: its catalog over `parallel` labs (sc-catalog-1 ...), its lines prefixed by scenario.
      const parallel = numberFlag('parallel', flags.parallel, 1, 4, true);
      const many = parallel > 1 && binaries.length > 1;
      const request = labRequest(pickLab(flags), { name: 'sc-catalog' });
      if (binaries.length > 1 || scenarios.length > 1) checkSideBySide(request, parallel);
      const oneRelease = async (b: (typeof binaries)[number]) => {
        const version = label(b.nomad.version);
        const tag = (m: string) => (many ? `[${version}] ${m}` : m);
        info(tag(`=== Nomad ${version} (${b.nomad.path})`));
        const done: CatalogEntry[] = [];
        const plan = scenarios.map((scenario) => ({ scenario, round: 1 }));
        const lab = many ? `${flags.lab ?? 'sc-catalog'}-${version.replace(/[^a-z0-9]/g, '')}` : flags.lab;
        const batch = {
          keep: false,
          signal,
          log: (m: string) => info(tag(m)),
          waiting: (what: string, elapsed: number, deadline: number, detail: string) => waiting(tag(what), elapsed, deadline, detail),
          print: (text: string) => (flags.json ? info : out)(many ? text.split('\n').map(tag).join('\n') : text),
          header: (m: string) => info(tag(m)),
          lab: { ...pickLab(flags), ...(lab === undefined ? {} : { lab }), nomad: b.nomad.path },
          reportsDir: join(nightDir, 'runs', version),
          ...(binaries.length === 1 ? { parallel } : {}),
        };
        try {
          await runBatch(plan, batch, done);
        } finally {
          // The runs this binary finished, also when the batch was interrupted half-way.
          entries.push(...done.map((e) => ({ ...e, version })));
        }
      };
      try {
        // A pool of `parallel` workers over the releases, oldest first; the first error stops the night.
        const queue = [...binaries];
        const worker = async () => {
          for (let b = queue.shift(); b !== undefined; b = queue.shift()) await oneRelease(b);
        };
        const results = await Promise.allSettled(Array.from({ length: Math.min(parallel, binaries.length) }, worker));
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      } catch (error) {
        // Write the night with what ran, then let the error (or the signal) decide the exit.
        stopped = error;
      }

      const records: NightRecord[] = entries.map((e) => ({
        date,
        scenario: e.scenario,
        version: e.version,
        verdict: e.result.verdict,
        wallSeconds: Math.round(e.wallSeconds * 10) / 10,
        detectSeconds: detectionSeconds(e.result),
        reconnectSeconds: reconnectSeconds(e.result),
        report: existsSync(join(e.runDir, 'report.html')) ? relative(root, join(e.runDir, 'report.html')) : undefined,
        reason: e.result.reasons[0]?.detail,
      }));
      const historyFile = join(root, 'history.ndjson');
      const stored = existsSync(historyFile) ? parseHistory(readFileSync(historyFile, 'utf8')) : { records: [], problems: [] };
      for (const p of stored.problems) warn(`${historyFile} ${p} (line skipped)`);
      const history = mergeHistory(stored.records, records);
      const trends = analyse(history, date, options);
      const verdicts: RunVerdict[] = records.map((r) => r.verdict);
      // A night that was stopped early proves nothing about what did not run.
      const verdict = worstVerdict(stopped === undefined ? verdicts : [...verdicts, 'unknown']);

      writeFileAtomic(historyFile, formatHistory(history));
      writeFileAtomic(join(nightDir, 'junit.xml'), junitXml(entries.map((e) => e.result)));
      const news = trendLines(trends);
      const md = markdownSummary(
        `nomad-lab nightly ${date}`,
        entries.map((e) => ({ result: e.result, wallSeconds: e.wallSeconds, link: relative(nightDir, join(e.runDir, 'report.html')) })),
      );
      writeFileAtomic(join(nightDir, 'summary.md'), `${md}${news.length > 0 ? `\n### Trends\n\n${news.map((l) => `- ${l}`).join('\n')}\n` : ''}`);
      // The version matrix as Markdown (also the table the README shows).
      const matrix = matrixMarkdown(
        `nomad-lab matrix ${date}`,
        records.map((r) => ({ ...r, report: r.report === undefined ? undefined : relative(nightDir, join(root, r.report)) })),
      );
      if (versions.length > 1) writeFileAtomic(join(nightDir, 'matrix.md'), matrix);
      writeFileAtomic(join(nightDir, 'nightly.json'), `${JSON.stringify({ date, verdict, versions, records, trends }, null, 2)}\n`);
      const windowDates = new Set([date, ...trends.previousNights]);
      writeFileAtomic(
        join(nightDir, 'index.html'),
        renderNightIndex({
          date,
          verdict,
          versions,
          tonight: records,
          trends,
          history: history.filter((r) => windowDates.has(r.date)),
          junit: 'junit.xml',
          summary: 'summary.md',
        }),
      );
      writeFileAtomic(join(root, 'index.html'), renderNightsIndex(history));

      const say = flags.json ? info : out;
      say('');
      say(
        `nightly ${date}: ${verdict.toUpperCase()}: ${records.length} run(s), ${verdicts.filter((v) => v === 'pass').length} pass, ${verdicts.filter((v) => v === 'fail').length} fail, ${verdicts.filter((v) => v === 'unknown').length} unknown${verdicts.includes('not-applicable') ? `, ${verdicts.filter((v) => v === 'not-applicable').length} not applicable` : ''}`,
      );
      for (const l of news) say(`  ${l}`);
      if (news.length === 0) say('  nothing new against earlier nights');
      if (versions.length > 1) {
        const differ = differingRows(records);
        say(
          `matrix: ${join(nightDir, 'matrix.md')}; ${differ.length === 0 ? 'every verdict the same on every release' : `verdicts differ between releases for ${differ.join(', ')}: each needs a cited explanation (docs/findings.md)`}`,
        );
      }
      say(`nightly report: ${join(nightDir, 'index.html')}`);
      if (flags.json) out(JSON.stringify({ date, verdict, versions, records, trends, report: join(nightDir, 'index.html') }, null, 2));
      if (stopped !== undefined) throw stopped;
      return worstExitCode(entries.map((e) => e.result.exitCode));
    });
  });

  return program;
}
