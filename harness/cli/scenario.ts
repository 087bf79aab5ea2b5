// `nomad-lab scenario <name>...`: run scenarios on any lab (netns, inventory, vagrant), print verdicts and timings, leave
// reports/<name>/<run-id>/ (trace.ndjson, result.json, junit.xml, logs/). `--all` runs the catalog,
// `--repeat N` runs each N times and counts verdicts that flip; `--parallel N` runs them on N netns labs at once.
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Command } from 'commander';
import { repoRoot } from '../config/paths.ts';
import { loadScenarioFile, scenarioNames } from '../scenario/load.ts';
import { findScenario, listScenarios } from '../scenario/catalog.ts';
import { orderScenarios, summarizeCatalog } from '../scenario/catalog-run.ts';
import { runBatch } from '../scenario/batch.ts';
import { defaultParallel, largestLab, machineShape } from '../scenario/parallel.ts';
import { newRunId } from '../scenario/run.ts';
import { checkAccess, checkSideBySide, labRequest, runsSideBySide, type LabSelection } from '../lab/labs.ts';
import { markdownSummary } from '../report/markdown.ts';
import type { Scenario } from '../scenario/types.ts';
import { junitXml } from '../report/junit.ts';
import { ExitCode, HarnessError, UsageError } from '../util/errors.ts';
import { writeFileAtomic } from '../util/files.ts';
import { info, out, waiting } from '../util/log.ts';
import { runCommand } from './entry.ts';
import { labOptions, nomadFlag, numberFlag, pickLab } from './flags.ts';

type Flags = LabSelection & {
  list?: boolean;
  all?: boolean;
  file?: string;
  order: string;
  repeat: string;
  nomadVersion?: string;
  job?: string;
  keep?: boolean;
  record?: boolean;
  reports?: string;
  freshLabs?: boolean;
  parallel?: string;
  json?: boolean;
};

export function scenarioCommand(): Command {
  const program = new Command('scenario')
    .description('Run scenarios (scenarios/*.yaml) on real Nomad agents in netns labs (needs root), or on hosts over SSH and check what Nomad did.')
    .argument('[names...]', `scenarios to run (several run in --order, as --all does): ${scenarioNames().join(', ')}`)
    .option('--list', 'list the scenarios with a one-line description')
    .option('--all', 'run every scenario of the catalog')
    .option('--file <scenario.yaml>', 'run a scenario file that is not in the catalog (e.g. a mutant)')
    .option('--order <order>', 'order of --all: name, reverse, or random[:seed]', 'name')
    .option('--repeat <n>', 'run each scenario n times and count verdicts that flip', '1')
    .option('--acl', 'run with Nomad ACLs on (bootstrapped; the harness uses a scoped token)')
    .option('--servers <n>', "number of servers instead of the scenario's (e.g. 1 for a quicker edge lab)")
    .option('--job <file>', "use this job spec instead of the scenario's (e.g. a mutated one)")
    .option('--keep', 'leave the lab up afterwards (single runs only)')
    .option('--record', "write each run's shape as the scenario's golden trace (scenarios/golden/<name>.json); later runs print a diff")
    .option('--fresh-labs', 'with several runs: a new lab for every run (by default a lab is reused while the topology fits)')
    .option(
      '--parallel <n>',
      'with several runs: n netns labs at once (<lab>-1 ..., default sc-catalog-1 ...), one queue of runs, results in order (default: one lab per core, at most as many as the available memory holds of the largest lab, 512 MiB and 100 MiB per agent, at most 4; 1: one run after another)',
    )
    .option('--reports <dir>', 'where run directories go (default: reports/)')
    .option('--json', 'print the results as JSON on stdout (verdict, exit code, run directory per run)')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  labOptions(program, { provider: true, nomad: true, tls: true });
  program.action(async (names: string[], flags: Flags) => {
    await runCommand(async ({ signal }) => {
      if (flags.list) {
        for (const s of listScenarios()) out(`${s.name.padEnd(20)} ${s.summary}`);
        return ExitCode.pass;
      }
      const repeat = numberFlag('repeat', flags.repeat, 1, 100, true);
      let scenarios: Scenario[];
      if (flags.all) {
        if (names.length > 0 || flags.file) throw new UsageError('--all runs the whole catalog; give no name and no --file with it');
        scenarios = orderScenarios(listScenarios(), flags.order);
      } else if (flags.file) {
        if (names.length > 0) throw new UsageError(`--file runs the scenario in that file; give no scenario name with it (got ${names.join(', ')})`);
        scenarios = [loadScenarioFile(flags.file)];
      } else if (names.length > 0) {
        // Several named scenarios run in --order (by name unless told), as the catalog does.
        const picked = [...new Set(names)].map(findScenario);
        scenarios = picked.length > 1 ? orderScenarios(picked, flags.order) : picked;
      } else {
        program.outputHelp();
        return ExitCode.usage;
      }
      if (flags.keep && (scenarios.length > 1 || repeat > 1)) throw new UsageError('--keep applies to a single run');
      if (flags.job !== undefined && !existsSync(flags.job)) throw new UsageError(`job file ${flags.job} does not exist`);
      if (flags.servers !== undefined) numberFlag('servers', flags.servers, 1, 9, true);
      // The lab flags are checked once here, before anything runs (a bad one is a usage error, exit 2),
      // and whether this user may have that lab at all (netns labs need root).
      const request = labRequest(flags);
      checkAccess(request);
      const plan = Array.from({ length: repeat }, (_, r) => scenarios.map((s) => ({ scenario: s, round: r + 1 }))).flat();
      const agents = largestLab(
        scenarios.map((sc) => sc.lab),
        flags.servers === undefined ? undefined : Number(flags.servers),
      );
      const parallel = parallelOf(flags.parallel, request, plan.length, agents);
      const nomad = await nomadFlag(flags, info, signal);
      const started = Date.now();
      const entries = await runBatch(plan, {
        lab: { ...pickLab(flags), ...(nomad === undefined ? {} : { nomad }) },
        keep: flags.keep === true,
        record: flags.record === true,
        signal,
        log: info,
        waiting,
        print: flags.json ? info : out,
        header: info,
        parallel,
        ...(flags.freshLabs === undefined ? {} : { freshLabs: flags.freshLabs }),
        ...(flags.job === undefined ? {} : { jobFile: flags.job }),
        ...(flags.reports === undefined ? {} : { reportsDir: flags.reports }),
      });
      if (flags.json)
        out(
          JSON.stringify(
            entries.map((e) => ({
              scenario: e.scenario,
              round: e.round,
              verdict: e.result.verdict,
              exitCode: e.result.exitCode,
              reasons: e.result.reasons.map((r) => r.detail),
              runDir: e.runDir,
              wallSeconds: e.wallSeconds,
            })),
            null,
            2,
          ),
        );
      if (entries.length === 1) return entries[0]!.result.exitCode;
      const summary = summarizeCatalog(entries, parallel > 1 ? { elapsedSeconds: (Date.now() - started) / 1000, labs: parallel } : undefined);
      (flags.json ? info : out)(summary.text);
      const dir = join(flags.reports ?? join(repoRoot, 'reports'), 'catalog', newRunId());
      writeFileAtomic(join(dir, 'junit.xml'), junitXml(entries.map((e) => e.result)));
      writeFileAtomic(join(dir, 'summary.json'), `${JSON.stringify(summary.data, null, 2)}\n`);
      writeFileAtomic(
        join(dir, 'summary.md'),
        markdownSummary(
          'nomad-lab scenarios',
          entries.map((e) => ({ result: e.result, wallSeconds: e.wallSeconds, link: relative(dir, join(e.runDir, 'report.html')) })),
        ),
      );
      info(`catalog report: ${dir}`);
      return summary.exitCode;
    });
  });

  return program;
}

/**
 * How many labs at once: `--parallel` as given (refused above 1 where labs cannot stand side by
 * side), else for several runs on netns labs the machine's default for labs of `agents` agents (the
 * plan's largest; said on stderr), else 1.
 */
function parallelOf(flag: string | undefined, request: ReturnType<typeof labRequest>, runs: number, agents: number): number {
  if (flag !== undefined) {
    const n = numberFlag('parallel', flag, 1, 16, true);
    checkSideBySide(request, n);
    return n;
  }
  // Hosts that are there already, and a subnet given for one lab, keep the runs one after another.
  if (runs <= 1 || !runsSideBySide(request) || request.config.spec.subnet !== undefined) return 1;
  const chosen = defaultParallel(machineShape(), agents);
  const n = Math.min(chosen.labs, runs);
  if (n > 1) info(`${n} labs at once (the machine's default: ${chosen.why}); --parallel 1 runs one after another`);
  return n;
}
