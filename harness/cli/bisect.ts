// `npm run bisect -- <scenario> [--from 1.6.0 --to 1.6.3 | --releases a,b,c | --nomad p1 --nomad p2 ...]`:
// runs one scenario on an ordered list of Nomad releases (built here, built on first use) or binaries,
// `--repeat n` per step, and prints the first release where the verdict changes, with the reports of
// both sides. Writes reports/bisect/<id>/bisect.md and bisect.json.
import { join, relative } from 'node:path';
import { Command } from 'commander';
import { repoRoot } from '../config/paths.ts';
import { releaseBinary, releaseName, resolveNomad, wrappedReleases } from '../nomad/binary.ts';
import { bisect, stepVerdict, type BisectOutcome, type BisectStep } from '../scenario/bisect.ts';
import { runBatch } from '../scenario/batch.ts';
import { findScenario } from '../scenario/catalog.ts';
import { loadScenarioFile, scenarioNames } from '../scenario/load.ts';
import { newRunId } from '../scenario/run.ts';
import type { Scenario } from '../scenario/types.ts';
import { ExitCode, HarnessError, UsageError } from '../util/errors.ts';
import { writeFileAtomic } from '../util/files.ts';
import { info, out, waiting } from '../util/log.ts';
import { compareVersions } from '../util/versions.ts';
import { runCommand } from './entry.ts';
import { labOptions, numberFlag, pickLab } from './flags.ts';
import { checkAccess, labRequest, type LabSelection } from '../lab/labs.ts';

type Flags = Omit<LabSelection, 'nomad'> & {
  file?: string;
  from?: string;
  to?: string;
  releases?: string;
  nomad?: string[];
  repeat: string;
  reports?: string;
  json?: boolean;
};

interface Candidate {
  label: string;
  /** The release built here (`v1.6.3`), or undefined for a binary given by path. */
  release: string | undefined;
  path: string | undefined;
}

/** The ordered candidates the flags name (pure but for reading build/nomad/). */
function candidates(flags: Flags): Candidate[] {
  const byPath = flags.nomad ?? [];
  const ranged = flags.from !== undefined || flags.to !== undefined;
  if (byPath.length > 0 && (ranged || flags.releases !== undefined))
    throw new UsageError('give releases (--from/--to or --releases) or binaries (--nomad ...), not both');
  if (ranged && flags.releases !== undefined) throw new UsageError('give --from/--to or --releases, not both');
  if (byPath.length > 0) return byPath.map((p, i) => ({ label: `#${i + 1} ${p}`, release: undefined, path: p }));
  const all = wrappedReleases();
  if (flags.releases !== undefined) {
    const list = flags.releases
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map(releaseName);
    return list.map((r) => ({ label: r, release: r, path: undefined }));
  }
  const from = flags.from === undefined ? all[0]! : releaseName(flags.from);
  const to = flags.to === undefined ? all.at(-1)! : releaseName(flags.to);
  if (compareVersions(from, to) >= 0) throw new UsageError(`--from ${from} must be an older release than --to ${to}`);
  return all.filter((r) => compareVersions(r, from) >= 0 && compareVersions(r, to) <= 0).map((r) => ({ label: r, release: r, path: undefined }));
}

function describe(outcome: BisectOutcome, list: Candidate[], dir: string): string[] {
  const at = (i: number) => list[i]!.label;
  const stepOf = (i: number) => outcome.steps.find((s) => s.at === i)!;
  const links = (s: BisectStep) => s.runs.map((r) => relative(dir, join(r, 'report.html'))).join(', ');
  const lines: string[] = [];
  for (const s of [...outcome.steps].sort((a, b) => a.at - b.at))
    lines.push(`- ${at(s.at)}: ${s.verdicts.map((v) => v.toUpperCase()).join(' ')} (${links(s)})`);
  if (outcome.kind === 'changed') {
    const before = stepOf(outcome.lastBefore);
    const after = stepOf(outcome.first);
    lines.unshift(
      `first release where the verdict changes: ${at(outcome.first)} (${stepVerdict(after)!.toUpperCase()}); the release before it, ${at(outcome.lastBefore)}, gives ${stepVerdict(before)!.toUpperCase()}`,
      `  reports: ${at(outcome.lastBefore)}: ${links(before)}; ${at(outcome.first)}: ${links(after)}`,
      '',
    );
  } else if (outcome.kind === 'same') {
    lines.unshift(`no change: ${outcome.verdict.toUpperCase()} on ${at(0)} and on ${at(list.length - 1)} (releases between not run)`, '');
  } else {
    lines.unshift(
      `stopped: the verdict on ${at(outcome.at)} is not stable over its repeats (${stepOf(outcome.at).verdicts.join(', ')}); a flaky verdict cannot be bisected`,
      '',
    );
  }
  return lines;
}

export function bisectCommand(): Command {
  const program = new Command('bisect')
    .description('Run one scenario over an ordered list of Nomad releases (or binaries) and find the first one where the verdict changes.')
    .argument('[name]', `scenario: ${scenarioNames().join(', ')}`)
    .option('--file <scenario.yaml>', 'a scenario file that is not in the catalog')
    .option('--from <x.y.z>', `oldest release built here to try (default: the oldest, ${wrappedReleases()[0] ?? '?'})`)
    .option('--to <x.y.z>', `newest release built here to try (default: the newest, ${wrappedReleases().at(-1) ?? '?'})`)
    .option('--releases <list>', 'an explicit ordered list of releases built here, comma-separated')
    .option('--nomad <path>', 'a binary to try, in order (repeat; e.g. builds of your own commits)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--repeat <n>', 'runs per release; a release whose runs disagree stops the search', '1')
    .option('--json', 'print the outcome as JSON on stdout; progress stays on stderr')
    .option('--reports <dir>', 'reports root (default reports/); the bisection goes to <dir>/bisect/<id>/')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  labOptions(program, { provider: true });
  program.action(async (name: string | undefined, flags: Flags) => {
    await runCommand(async ({ signal }) => {
      let scenario: Scenario;
      if (flags.file !== undefined) {
        if (name !== undefined) throw new UsageError('give a scenario name or --file, not both');
        scenario = loadScenarioFile(flags.file);
      } else if (name !== undefined) {
        scenario = findScenario(name);
      } else {
        program.outputHelp();
        return ExitCode.usage;
      }
      const repeat = numberFlag('repeat', flags.repeat, 1, 20, true);
      const list = candidates(flags);
      if (list.length < 2)
        throw new UsageError(`bisect needs at least two releases; the flags name ${list.length} (${list.map((c) => c.label).join(', ') || 'none'})`);
      checkAccess(labRequest({ ...pickLab(flags), lab: flags.lab ?? 'sc-bisect' }));
      const dir = join(flags.reports ?? join(repoRoot, 'reports'), 'bisect', newRunId());
      info(`bisect ${scenario.name} over ${list.map((c) => c.label).join(', ')}, ${repeat} run(s) per release; reports in ${dir}`);

      const outcome = await bisect(list.length, async (at) => {
        const c = list[at]!;
        const path = c.release !== undefined ? await releaseBinary(c.release, info, signal) : c.path!;
        const nomad = await resolveNomad({ path, source: 'flag' });
        info(`=== ${c.label} (Nomad ${nomad.version}, ${path})`);
        const plan = Array.from({ length: repeat }, (_, r) => ({ scenario, round: r + 1 }));
        const entries = await runBatch(plan, {
          keep: false,
          signal,
          log: info,
          waiting,
          print: flags.json ? info : out,
          header: info,
          lab: { ...pickLab(flags), lab: flags.lab ?? 'sc-bisect', nomad: path },
          reportsDir: join(dir, c.release ?? `binary-${at + 1}`),
        });
        const step = { at, verdicts: entries.map((e) => e.result.verdict), runs: entries.map((e) => e.runDir) };
        info(`${c.label}: ${step.verdicts.map((v) => v.toUpperCase()).join(' ')}`);
        return step;
      });

      const lines = describe(outcome, list, dir);
      writeFileAtomic(join(dir, 'bisect.md'), `## bisect ${scenario.name}\n\n${lines.join('\n')}\n`);
      writeFileAtomic(join(dir, 'bisect.json'), `${JSON.stringify({ scenario: scenario.name, candidates: list, repeat, outcome }, null, 2)}\n`);
      const say = flags.json ? info : out;
      say('');
      for (const l of lines) say(l);
      say(`bisect report: ${join(dir, 'bisect.md')}`);
      if (flags.json) out(JSON.stringify({ scenario: scenario.name, candidates: list, repeat, outcome, report: join(dir, 'bisect.md') }, null, 2));
      return outcome.kind === 'unstable' ? ExitCode.inconclusive : ExitCode.pass;
    });
  });

  return program;
}
