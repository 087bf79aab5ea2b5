// What every command shares: signal handling that lets teardown run, exit codes, errors printed
// without stack traces. Commands set process.exitCode and return; nothing calls process.exit.
import { CommanderError } from 'commander';
import { describeError, ExitCode, InterruptedError, signalExitCode, UsageError } from '../util/errors.ts';
import { info } from '../util/log.ts';

export interface CommandContext {
  /** Aborted on SIGINT, SIGTERM or SIGHUP; long waits and commands stop, then teardown runs. */
  signal: AbortSignal;
}

export async function runCommand(body: (context: CommandContext) => Promise<ExitCode>): Promise<void> {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (!controller.signal.aborted) {
      info(`${sig} received: stopping, then tearing down what this run created`);
      controller.abort(new InterruptedError(sig));
    } else {
      info(`${sig} received again: teardown is in progress; it ends by itself`);
    }
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);
  try {
    process.exitCode = await body({ signal: controller.signal });
  } catch (thrown) {
    // Whatever a cancelled operation threw, the story is the signal that stopped the run.
    const error = controller.signal.aborted ? controller.signal.reason : thrown;
    process.exitCode = exitCodeOf(error);
    if (error instanceof CommanderError) return;
    process.stderr.write(`${error instanceof InterruptedError ? error.message : `error: ${describeError(error)}`}\n`);
    // What went wrong while stopping (a teardown step that failed) must not hide behind the signal.
    if (thrown !== error && !(thrown instanceof InterruptedError) && !(thrown instanceof Error && thrown.name === 'AbortError')) {
      process.stderr.write(`error while stopping: ${describeError(thrown)}\n`);
    }
  } finally {
    for (const s of signals) process.off(s, onSignal);
  }
}

/** The exit status for what a command threw: a signal, a usage error, or the harness failing. */
export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.pass : ExitCode.usage;
  if (error instanceof InterruptedError) return signalExitCode(error.signal);
  if (error instanceof UsageError) return ExitCode.usage;
  return ExitCode.infra;
}
