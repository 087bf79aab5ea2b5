// `nomad-lab scenario <name>`: run scenarios on any lab (netns, inventory, vagrant), print verdicts and timings, leave
// reports/<name>/<run-id>/ (trace.ndjson, result.json, junit.xml, logs/). `--all` runs the catalog,
// `--repeat N` runs each N times and counts verdicts that flip.
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Command } from 'commander';
import { repoRoot } from '../config/paths.ts';
import { loadScenarioFile, scenarioNames } from '../scenario/load.ts';
import { findScenario, listScenarios } from '../scenario/catalog.ts';
import { orderScenarios, summarizeCatalog } from '../scenario/catalog-run.ts';
import { runBatch } from '../scenario/batch.ts';
import { newRunId } from '../scenario/run.ts';
import { checkAccess, labRequest, type LabSelection } from '../lab/labs.ts';
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
  json?: boolean;
};

export function scenarioCommand(): Command {
  const program = new Command('scenario')
    .description('Run scenarios (scenarios/*.yaml) on real Nomad agents in netns labs (needs root), or on hosts over SSH and check what Nomad did.')
    .argument('[name]', `scenario to run: ${scenarioNames().join(', ')}`)
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
    .option('--reports <dir>', 'where run directories go (default: reports/)')
    .option('--json', 'print the results as JSON on stdout (verdict, exit code, run directory per run)')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  labOptions(program, { provider: true, nomad: true, tls: true });
  program.action(async (name: string | undefined, flags: Flags) => {
    await runCommand(async ({ signal }) => {
      if (flags.list) {
        for (const s of listScenarios()) out(`${s.name.padEnd(20)} ${s.summary}`);
        return ExitCode.pass;
      }
      const repeat = numberFlag('repeat', flags.repeat, 1, 100, true);
      let scenarios: Scenario[];
      if (flags.all) {
        if (name !== undefined || flags.file) throw new UsageError('--all runs the whole catalog; give no name and no --file with it');
        scenarios = orderScenarios(listScenarios(), flags.order);
      } else if (flags.file) {
        scenarios = [loadScenarioFile(flags.file)];
      } else if (name !== undefined) {
        scenarios = [findScenario(name)];
      } else {
        program.outputHelp();
        return ExitCode.usage;
      }
      if (flags.keep && (scenarios.length > 1 || repeat > 1)) throw new UsageError('--keep applies to a single run');
      if (flags.job !== undefined && !existsSync(flags.job)) throw new UsageError(`job file ${flags.job} does not exist`);
      if (flags.servers !== undefined) numberFlag('servers', flags.servers, 1, 9, true);
      // The lab flags are checked once here, before anything runs (a bad one is a usage error, exit 2),
      // and whether this user may have that lab at all (netns labs need root).
      checkAccess(labRequest(flags));
      const nomad = await nomadFlag(flags, info, signal);
      const plan = Array.from({ length: repeat }, (_, r) => scenarios.map((s) => ({ scenario: s, round: r + 1 }))).flat();
      const entries = await runBatch(plan, {
        lab: { ...pickLab(flags), ...(nomad === undefined ? {} : { nomad }) },
        keep: flags.keep === true,
        record: flags.record === true,
        signal,
        log: info,
        waiting,
        print: flags.json ? info : out,
        header: info,
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
      const summary = summarizeCatalog(entries);
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
