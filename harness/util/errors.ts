// Errors the harness raises on purpose, and the exit codes every command uses.

/**
 * What a command's exit status says (docs/cli.md, "Exit codes"): 0 pass, 1 fail (Nomad did something
 * the scenario does not expect), 2 usage error (bad flags or input files), 3 inconclusive (an UNKNOWN
 * verdict: the test did not happen), 4 harness or infrastructure error, 128+n interrupted by signal n
 * (130 SIGINT, 143 SIGTERM, 129 SIGHUP; after teardown). CI can tell "Nomad result inconclusive"
 * from "the harness broke".
 */
export const ExitCode = { pass: 0, fail: 1, usage: 2, inconclusive: 3, infra: 4, sighup: 129, sigint: 130, sigterm: 143 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit status of a command stopped by `signal` (128 + its number, as a shell reports it). */
export function signalExitCode(signal: string): ExitCode {
  return signal === 'SIGINT' ? ExitCode.sigint : signal === 'SIGTERM' ? ExitCode.sigterm : signal === 'SIGHUP' ? ExitCode.sighup : ExitCode.infra;
}

export interface ErrorContext {
  /** The lab host the failure happened on ("server1", "client2", or "local" for the harness host). */
  host?: string;
  /** The command that failed, as the argument array that was run. */
  command?: readonly string[];
  /** What the user can do about it. */
  hint?: string;
  cause?: unknown;
}

/** A failure of the lab or the harness: printed without a stack trace, exit code 4. */
export class HarnessError extends Error {
  readonly host: string | undefined;
  readonly command: readonly string[] | undefined;
  readonly hint: string | undefined;

  constructor(message: string, context: ErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = 'HarnessError';
    this.host = context.host;
    this.command = context.command;
    this.hint = context.hint;
  }
}

/** Bad flags, bad config files, unknown names: exit code 2. */
export class UsageError extends HarnessError {
  constructor(message: string, hint?: string) {
    super(message, hint === undefined ? {} : { hint });
    this.name = 'UsageError';
  }
}

/** The run was interrupted by a signal; teardown has run by the time this is reported. */
export class InterruptedError extends HarnessError {
  constructor(readonly signal: string) {
    super(`interrupted by ${signal}`);
    this.name = 'InterruptedError';
  }
}

/** Renders a command for a message; arguments are quoted only where a reader needs it. */
export function showCommand(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

/** The headline and detail lines for an error, cause first. */
export function describeError(error: unknown): string {
  if (error instanceof HarnessError) {
    const lines = [error.host ? `${error.host}: ${error.message}` : error.message];
    if (error.command) lines.push(`  command: ${showCommand(error.command)}`);
    const cause = error.cause;
    if (cause instanceof Error && cause.message && !error.message.includes(cause.message)) {
      lines.push(`  cause: ${cause.message}`);
    }
    if (error.hint) lines.push(`  fix: ${error.hint}`);
    return lines.join('\n');
  }
  if (error instanceof Error) return `internal error: ${error.stack ?? error.message}`;
  return `internal error: ${String(error)}`;
}
