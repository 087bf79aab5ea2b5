// `npm run report -- <run-dir>...`: re-renders report.html and summary.md of stored runs from their
// result.json and trace, offline. The same inputs give the same bytes.
import { Command, CommanderError } from 'commander';
import { writeRunReports } from '../report/write.ts';
import { ExitCode } from '../util/errors.ts';
import { out } from '../util/log.ts';
import { runCommand } from './entry.ts';

const program = new Command('report')
  .description('Render report.html (timeline) and summary.md of stored runs (reports/<scenario>/<run-id>), offline.')
  .argument('<run-dir...>', 'run directories holding result.json and trace.ndjson')
  .exitOverride()
  .showHelpAfterError('(run with --help for usage)')
  .action(async (dirs: string[]) => {
    await runCommand(async () => {
      for (const dir of dirs) out(writeRunReports(dir));
      return ExitCode.pass;
    });
  });

await program.parseAsync(process.argv).catch((error: unknown) => {
  process.exitCode = error instanceof CommanderError && error.exitCode === 0 ? ExitCode.pass : ExitCode.infra;
});
