// `nomad-lab`: the one program. Subcommands for labs, scenarios, the matrix and nightly runs,
// bisection, reports, offline checks, mutation and benchmarks; the npm scripts are aliases of these.
// Exit codes (every command): 0 pass, 1 fail, 2 usage error, 3 inconclusive (UNKNOWN), 4 harness or
// infrastructure error, 128+n after a signal (130 SIGINT, 143 SIGTERM). docs/cli.md has them all.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { refuseRetiredEnvironment } from '../config/environment.ts';
import { repoRoot } from '../config/paths.ts';
import { describeError, ExitCode, UsageError } from '../util/errors.ts';
import { benchCommand } from './bench.ts';
import { bisectCommand } from './bisect.ts';
import { checkCommand } from './check.ts';
import { labCommand } from './lab.ts';
import { mutateCommand } from './mutate.ts';
import { nightlyCommand } from './nightly.ts';
import { reportCommand } from './report.ts';
import { scenarioCommand } from './scenario.ts';

export function program(): Command {
  const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const root = new Command('nomad-lab')
    .description("Bench tests of HashiCorp Nomad's disconnected-client behaviour on real agents: labs, scenarios, verdicts, reports.")
    .version(version)
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  sudo npx nomad-lab scenario spread              run one scenario on a netns lab (root)',
        '  sudo npx nomad-lab scenario spread --nomad ./bin/nomad --keep',
        '  sudo npx nomad-lab lab up --clients 3 && sudo npx nomad-lab lab status',
        '  sudo npx nomad-lab matrix --parallel 2          every scenario on every release built here',
        '  npx nomad-lab check reports/spread/<run-id>     re-judge a stored run, offline',
        '',
        'Exit codes: 0 pass, 1 fail, 2 usage error, 3 inconclusive (UNKNOWN), 4 harness error, 130/143 interrupted.',
      ].join('\n'),
    );
  for (const cmd of [
    labCommand(),
    scenarioCommand(),
    nightlyCommand('matrix'),
    nightlyCommand('nightly'),
    bisectCommand(),
    reportCommand(),
    checkCommand(),
    mutateCommand(),
    benchCommand(),
  ])
    root.addCommand(cmd);
  configure(root);
  return root;
}

/** Every command: usage errors come back here (no process.exit), and the help hint follows them. */
function configure(cmd: Command): void {
  cmd.exitOverride().showHelpAfterError('(run with --help for usage)');
  for (const sub of cmd.commands) configure(sub);
}

/** Parses argv and runs the command; sets process.exitCode, never throws. */
export async function main(argv: string[]): Promise<void> {
  try {
    refuseRetiredEnvironment(process.env);
    const root = program();
    if (argv.length <= 2) {
      root.outputHelp();
      process.exitCode = ExitCode.usage;
      return;
    }
    await root.parseAsync(argv);
  } catch (error) {
    // Commander printed its own message (with the help hint); --help and --version exit 0.
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? ExitCode.pass : ExitCode.usage;
      return;
    }
    process.stderr.write(`error: ${describeError(error)}\n`);
    process.exitCode = error instanceof UsageError ? ExitCode.usage : ExitCode.infra;
  }
}
