// `npm run scenario <name>`: run scenarios on netns labs, print verdicts and timings, leave
// reports/<name>/<run-id>/ (trace.ndjson, result.json, junit.xml, logs/). `--all` runs the catalog,
// `--repeat N` runs each N times and counts verdicts that flip.
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Command, CommanderError } from 'commander';
import { repoRoot } from '../config/paths.ts';
import { loadScenarioFile, scenarioNames } from '../scenario/load.ts';
import { findScenario, listScenarios } from '../scenario/catalog.ts';
import { orderScenarios, summarizeCatalog } from '../scenario/catalog-run.ts';
import { runBatch } from '../scenario/batch.ts';
import { newRunId } from '../scenario/run.ts';
import { inventoryLabName, type RemoteSource } from '../lab/ssh-lab.ts';
import { markdownSummary } from '../report/markdown.ts';
import type { Scenario } from '../scenario/types.ts';
import { junitXml } from '../report/junit.ts';
import { ExitCode, HarnessError, UsageError } from '../util/errors.ts';
import { writeFileAtomic } from '../util/files.ts';
import { info, out, waiting } from '../util/log.ts';
import { runCommand } from './entry.ts';
import { nomadFlag, nomadVersionHelp, numberFlag } from './flags.ts';

interface Flags {
  list?: boolean;
  all?: boolean;
  file?: string;
  order: string;
  repeat: string;
  nomad?: string;
  nomadVersion?: string;
  acl?: boolean;
  servers?: string;
  job?: string;
  keep?: boolean;
  record?: boolean;
  reports?: string;
  lab?: string;
  inventory?: string;
  provision: boolean;
  freshLabs?: boolean;
}

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
  .option('--nomad <path>', 'nomad binary to run (env NOMAD_BINARY; default: nomad on PATH, else the pinned build)')
  .option('--nomad-version <x.y.z>', nomadVersionHelp())
  .option('--job <file>', "use this job spec instead of the scenario's (e.g. a mutated one)")
  .option('--keep', 'leave the lab up afterwards (single runs only)')
  .option('--record', "write each run's shape as the scenario's golden trace (scenarios/golden/<name>.json); later runs print a diff")
  .option('--lab <name>', 'name of the lab a run creates (default sc-<scenario>); `vagrant`: the VMs of `vagrant up` (README, "The VM lab")')
  .option('--inventory <file>', 'run on existing hosts from an Ansible inventory (groups servers, clients), over SSH; provisioned with the role first')
  .option('--no-provision', 'with --inventory: take the hosts as they are (agents already running)')
  .option('--fresh-labs', 'with several runs: a new lab for every run (by default a lab is reused while the topology fits)')
  .option('--reports <dir>', 'where run directories go (default: reports/)')
  .exitOverride()
  .showHelpAfterError('(run with --help for usage)')
  .action(async (name: string | undefined, flags: Flags) => {
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
        return ExitCode.infra;
      }
      if (process.getuid?.() !== 0) throw new HarnessError('scenarios need root (network namespaces, iptables, agents)', { hint: 'run it as root, e.g. sudo npm run scenario spread' });
      if (flags.keep && (scenarios.length > 1 || repeat > 1)) throw new UsageError('--keep applies to a single run');
      if (flags.job !== undefined && !existsSync(flags.job)) throw new UsageError(`job file ${flags.job} does not exist`);

      if (flags.inventory !== undefined && flags.lab === 'vagrant') throw new UsageError('--inventory and --lab vagrant both name the hosts; give one');
      if (flags.inventory !== undefined && !existsSync(flags.inventory)) throw new UsageError(`inventory ${flags.inventory} does not exist`);
      if (!flags.provision && flags.inventory === undefined) throw new UsageError('--no-provision applies to --inventory');
      const remote: RemoteSource | undefined =
        flags.inventory !== undefined
          ? { kind: 'inventory', file: flags.inventory, provision: flags.provision }
          : flags.lab === 'vagrant'
            ? { kind: 'vagrant', dir: repoRoot, provision: false }
            : undefined;
      const servers = flags.servers === undefined ? undefined : numberFlag('servers', flags.servers, 1, 9, true);
      const nomad = await nomadFlag(flags, info, signal);
      const plan = Array.from({ length: repeat }, (_, r) => scenarios.map((s) => ({ scenario: s, round: r + 1 }))).flat();
      const entries = await runBatch(plan, {
        keep: flags.keep === true,
        record: flags.record === true,
        signal,
        log: info,
        waiting,
        print: out,
        header: info,
        ...(flags.freshLabs === undefined ? {} : { freshLabs: flags.freshLabs }),
        ...(nomad === undefined ? {} : { nomad }),
        ...(flags.acl === true ? { acl: true } : {}),
        ...(servers === undefined ? {} : { servers }),
        ...(flags.job === undefined ? {} : { jobFile: flags.job }),
        ...(flags.reports === undefined ? {} : { reportsDir: flags.reports }),
        ...(flags.lab === undefined ? {} : { labName: flags.lab }),
        ...(remote === undefined ? {} : { remote, labName: flags.lab ?? (remote.kind === 'inventory' ? inventoryLabName(remote.file) : 'vagrant') }),
      });
      if (entries.length === 1) return entries[0]!.result.exitCode;
      const summary = summarizeCatalog(entries);
      out(summary.text);
      const dir = join(flags.reports ?? join(repoRoot, 'reports'), 'catalog', newRunId());
      writeFileAtomic(join(dir, 'junit.xml'), junitXml(entries.map((e) => e.result)));
      writeFileAtomic(join(dir, 'summary.json'), `${JSON.stringify(summary.data, null, 2)}\n`);
      writeFileAtomic(join(dir, 'summary.md'), markdownSummary('nomad-lab scenarios', entries.map((e) => ({ result: e.result, wallSeconds: e.wallSeconds, link: relative(dir, join(e.runDir, 'report.html')) }))));
      out(`catalog report: ${dir}`);
      return summary.exitCode;
    });
  });

await program.parseAsync(process.argv).catch((error: unknown) => {
  process.exitCode = error instanceof CommanderError && error.exitCode === 0 ? ExitCode.pass : ExitCode.infra;
});
