// `npm run scenario <name>`: run a scenario on its own netns lab, print the verdict and timings,
// leave reports/<name>/<run-id>/ (trace.ndjson, result.json, junit.xml, logs/).
import { Command, CommanderError } from 'commander';
import { findScenario, listScenarios } from '../scenario/catalog.ts';
import { scenarioNames } from '../scenario/load.ts';
import { runScenario } from '../scenario/run.ts';
import { formatSummary } from '../report/terminal.ts';
import { ExitCode, HarnessError } from '../util/errors.ts';
import { info, out, waiting } from '../util/log.ts';
import { runCommand } from './entry.ts';

const program = new Command('scenario')
  .description('Run a scenario on real Nomad agents in a netns lab (needs root) and check what Nomad did.')
  .argument('[name]', `scenario to run: ${scenarioNames().join(', ')}`)
  .option('--list', 'list the scenarios')
  .option('--nomad <path>', 'nomad binary to run (env NOMAD_BINARY; default: nomad on PATH, else the pinned build)')
  .option('--job <file>', "use this job spec instead of the scenario's (e.g. a mutated one)")
  .option('--keep', 'leave the lab up afterwards')
  .option('--lab <name>', 'name of the lab the run creates (default sc-<scenario>)')
  .option('--reports <dir>', 'where run directories go (default: reports/)')
  .exitOverride()
  .showHelpAfterError('(run with --help for usage)')
  .action(async (name: string | undefined, flags: { list?: boolean; nomad?: string; job?: string; keep?: boolean; reports?: string; lab?: string }) => {
    await runCommand(async ({ signal }) => {
      if (flags.list || name === undefined) {
        for (const s of listScenarios()) out(`${s.name.padEnd(20)} ${s.summary}`);
        return name === undefined && !flags.list ? ExitCode.infra : ExitCode.pass;
      }
      const scenario = findScenario(name);
      if (process.getuid?.() !== 0) throw new HarnessError('scenarios need root (network namespaces, iptables, agents)', { hint: 'run it as root, e.g. sudo npm run scenario spread' });
      const { result, runDir } = await runScenario(scenario, {
        keep: flags.keep === true,
        signal,
        log: info,
        waiting,
        ...(flags.nomad === undefined ? {} : { nomad: flags.nomad }),
        ...(flags.job === undefined ? {} : { jobFile: flags.job }),
        ...(flags.reports === undefined ? {} : { reportsDir: flags.reports }),
        ...(flags.lab === undefined ? {} : { labName: flags.lab }),
      });
      out(formatSummary(result, runDir));
      return result.exitCode;
    });
  });

await program.parseAsync(process.argv).catch((error: unknown) => {
  process.exitCode = error instanceof CommanderError && error.exitCode === 0 ? ExitCode.pass : ExitCode.infra;
});
