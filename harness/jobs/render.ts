// Job specs that differ by Nomad version are written once: lines between
// `# nomad-lab: if version >= 1.8` (or <, <=, >, ==) and `# nomad-lab: end` are kept only when the
// version of the binary under test satisfies the condition. Pure.
import { inRange } from '../util/versions.ts';
import { UsageError } from '../util/errors.ts';

const IF = /^\s*#\s*nomad-lab:\s*if\s+version\s*(>=|<=|>|<|==)\s*(\d+\.\d+(?:\.\d+)?)\s*$/;
const ELSE = /^\s*#\s*nomad-lab:\s*else\s*$/;
const END = /^\s*#\s*nomad-lab:\s*end\s*$/;

/** Whether the version under test satisfies `<op> <bound>` (a semver comparator; `==` is `=`). */
export function versionMatches(version: string, op: string, bound: string): boolean {
  return inRange(version, `${op === '==' ? '=' : op}${bound}`);
}

/** Renders `source` for `version`; directive lines are dropped, so line numbers shift only there. */
export function renderJob(source: string, version: string, file = 'job'): string {
  const out: string[] = [];
  let open: { keep: boolean; line: number; inElse: boolean } | undefined;
  source.split('\n').forEach((line, i) => {
    const m = IF.exec(line);
    if (m) {
      if (open) throw new UsageError(`${file}:${i + 1}: nested "nomad-lab: if" (the one on line ${open.line} is still open)`);
      open = { keep: versionMatches(version, m[1]!, m[2]!), line: i + 1, inElse: false };
      return;
    }
    if (ELSE.test(line)) {
      if (!open || open.inElse) throw new UsageError(`${file}:${i + 1}: "nomad-lab: else" without an open "if"`);
      open = { ...open, keep: !open.keep, inElse: true };
      return;
    }
    if (END.test(line)) {
      if (!open) throw new UsageError(`${file}:${i + 1}: "nomad-lab: end" without an open "if"`);
      open = undefined;
      return;
    }
    if (/^\s*#\s*nomad-lab:/.test(line)) throw new UsageError(`${file}:${i + 1}: unknown directive ${line.trim()}`);
    if (!open || open.keep) out.push(line);
  });
  if (open) throw new UsageError(`${file}:${open.line}: "nomad-lab: if" is never closed with "nomad-lab: end"`);
  return out.join('\n');
}
