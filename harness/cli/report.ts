// `nomad-lab report <run-dir>...`: re-renders report.html and summary.md of stored runs from their
// result.json and trace, offline. The same inputs give the same bytes.
import { Command } from 'commander';
import { writeRunReports } from '../report/write.ts';
import { describeError, ExitCode } from '../util/errors.ts';
import { out } from '../util/log.ts';
import { runCommand } from './entry.ts';

export function reportCommand(): Command {
  const program = new Command('report')
    .description('Render report.html (timeline) and summary.md of stored runs (reports/<scenario>/<run-id>), offline.')
    .argument('<run-dir...>', 'run directories holding result.json and trace.ndjson')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .option('--json', 'print, per directory, what was written or the error, as JSON')
    .action(async (dirs: string[], flags: { json?: boolean }) => {
      await runCommand(async () => {
        // One bad directory does not stop the others; it makes the exit code 2.
        let failed = 0;
        const done: Array<{ dir: string; written?: string; error?: string }> = [];
        for (const dir of dirs) {
          try {
            const written = writeRunReports(dir);
            done.push({ dir, written });
            if (!flags.json) out(written);
          } catch (error) {
            failed++;
            done.push({ dir, error: describeError(error) });
            process.stderr.write(`error: ${describeError(error)}\n`);
          }
        }
        if (flags.json) out(JSON.stringify(done, null, 2));
        return failed === 0 ? ExitCode.pass : ExitCode.usage;
      });
    });

  return program;
}
