// Colour for results a person reads on a terminal (stdout: log.ts's progress on stderr has none), and
// only there: off when NO_COLOR is set to anything but the empty string (https://no-color.org), off when
// stdout is not a terminal or TERM is dumb; FORCE_COLOR (any value but 0 or false) turns it on even off
// a terminal, but NO_COLOR wins. Decided once, at the first paint. Unit tests run without a terminal,
// so they see plain text.

/** What a painted word means; its colour follows. */
export type Paint = 'pass' | 'fail' | 'unknown';

const SGR: Record<Paint, [open: string, close: string]> = {
  pass: ['\x1b[32m', '\x1b[39m'], // green
  fail: ['\x1b[31m', '\x1b[39m'], // red
  unknown: ['\x1b[33m', '\x1b[39m'], // yellow
};

/** Whether to colour, from the environment and whether the stream written to is a terminal. */
export function colourWanted(env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  if ((env['NO_COLOR'] ?? '') !== '') return false;
  const force = env['FORCE_COLOR'];
  if (force !== undefined) return !['0', 'false'].includes(force.toLowerCase());
  return isTTY && env['TERM'] !== 'dumb';
}

let enabled: boolean | undefined;

/** `text` in the colour of `kind`, or `text` unchanged when colour is off. */
export function paint(kind: Paint, text: string): string {
  enabled ??= colourWanted(process.env, Boolean(process.stdout.isTTY));
  if (!enabled) return text;
  const [open, close] = SGR[kind];
  return `${open}${text}${close}`;
}
