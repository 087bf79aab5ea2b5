// Terminal output: plain timestamped lines, and a live status line on a TTY while waiting. The status
// line's escapes move the cursor and clear the line; they are not colour, so NO_COLOR leaves them
// (colour is util/colour.ts's, for results on stdout).

const isTty = Boolean(process.stderr.isTTY) && process.env['CI'] !== 'true';
let statusShown = false;
const started = Date.now();

function clearStatus(): void {
  if (statusShown) {
    process.stderr.write('\r\x1b[2K');
    statusShown = false;
  }
}

function stamp(): string {
  return `[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s]`;
}

/** A line of progress on stderr (stdout stays for command results). */
export function info(message: string): void {
  clearStatus();
  process.stderr.write(`${stamp()} ${message}\n`);
}

export function warn(message: string): void {
  clearStatus();
  process.stderr.write(`${stamp()} warning: ${message}\n`);
}

/**
 * While waiting: on a TTY, one line rewritten in place; elsewhere, a plain line at most every
 * `plainEveryMs` so logs stay readable.
 */
export function waiting(what: string, elapsedMs: number, deadlineMs: number, detail: string, plainEveryMs = 5000): void {
  const text = `waiting for ${what}: ${(elapsedMs / 1000).toFixed(1)}s of ${(deadlineMs / 1000).toFixed(0)}s${detail ? ` (${detail})` : ''}`;
  if (isTty) {
    process.stderr.write(`\r\x1b[2K${stamp()} ${text}`);
    statusShown = true;
    return;
  }
  const bucket = Math.floor(elapsedMs / plainEveryMs);
  if (bucket !== lastPlainBucket.get(what)) {
    lastPlainBucket.set(what, bucket);
    info(text);
  }
}
const lastPlainBucket = new Map<string, number>();

/** Results for the user: stdout. */
export function out(text: string): void {
  clearStatus();
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}
