// `nomad-lab check <run-dir>`: re-checks a stored run's trace against the scenario's current
// expectations, offline (no lab, no root). Prints the verdict; exit 0 pass, 1 fail, 3 unknown, 4 unknown because the harness broke (docs/cli.md).
import { Command } from 'commander';
import { recheck } from '../check/recheck.ts';
import { formatSummary } from '../report/terminal.ts';
import { ExitCode } from '../util/errors.ts';
import { out } from '../util/log.ts';
import { runCommand } from './entry.ts';

export function checkCommand(): Command {
  const program = new Command('check')
    .description('Re-check a stored run (reports/<scenario>/<run-id>) against the scenario, offline.')
    .argument('<run-dir>', 'a run directory holding trace.ndjson')
    .option('--json', 'print the result as JSON')
    .exitOverride()
    .action(async (runDir: string, flags: { json?: boolean }) => {
      await runCommand(async () => {
        const result = recheck(runDir);
        out(flags.json ? JSON.stringify(result, null, 2) : formatSummary(result, runDir));
        return result.exitCode;
      });
    });

  return program;
}
