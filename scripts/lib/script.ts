// What every zx script of the project shares: messages prefixed with the script's name on stderr, and
// a main that sets the exit code (a failed command says which, with its own message; nothing throws out).
import { ProcessOutput } from 'zx';

/** A line on stderr, prefixed with the script's name. */
export const complainer =
  (script: string) =>
  (line: string): void =>
    void process.stderr.write(`${script}: ${line}\n`);

/** Runs `main` with the script's arguments and sets process.exitCode from it, or from what it threw. */
export async function runScript(script: string, main: (args: string[]) => Promise<number>): Promise<void> {
  const complain = complainer(script);
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (error) {
    // A command that should not fail did (`go env`, `go version`, `go mod download`): say which, with its own message.
    if (error instanceof ProcessOutput) {
      complain(`command failed (exit ${error.exitCode ?? error.signal}): ${error.stderr.trim() || error.message}`);
      process.exitCode = error.exitCode || 1;
    } else {
      complain(error instanceof Error ? error.message : String(error));
      process.exitCode = 1;
    }
  }
}
