// Matching an expected sequence of statuses against an observed history. Pure.
//
// The expected statuses must appear in order (others may come between them: a transient state Nomad
// passes through is not a failure). Optional statuses may be missing; when they are present, any way
// of matching is tried (backtracking), so an optional step never makes a match fail that would hold
// without it. With `toEnd`, the history must also end at the last expected status: `[running,
// unknown, running]` does not accept `running, unknown, running, complete`.

export type Match<V> =
  | { ok: true }
  /** `missing` not found after `after`; `next` is the first observed value not matched. */
  | { ok: false; kind: 'missing'; missing: V; after: V | undefined; next: { value: V; line: number } | undefined }
  /** Everything matched, but the history went on: `extra` is the first status after the last expected one. */
  | { ok: false; kind: 'trailing'; last: V; extra: { value: V; line: number } };

export function matchSequence<V>(
  observed: Array<{ value: V; line: number }>,
  expected: Array<{ value: V; optional: boolean }>,
  options: { toEnd?: boolean } = {},
): Match<V> {
  // The furthest point any attempt reached, for the message when none matches.
  let best: { step: number; from: number; after: V | undefined } = { step: 0, from: 0, after: undefined };
  let trailing: Match<V> | undefined;

  // Steps from `step` on, matched in observed[from..]; `after` is the last status matched.
  const attempt = (step: number, from: number, after: V | undefined, lastAt: number): boolean => {
    if (step > best.step || (step === best.step && from > best.from)) best = { step, from, after };
    if (step === expected.length) {
      if (!options.toEnd || lastAt === observed.length - 1 || expected.length === 0) return true;
      const extra = observed.slice(lastAt + 1).find((o) => o.value !== after);
      if (extra === undefined) return true;
      trailing ??= { ok: false, kind: 'trailing', last: after as V, extra };
      return false;
    }
    const e = expected[step]!;
    for (let k = from; k < observed.length; k++) {
      if (observed[k]!.value === e.value && attempt(step + 1, k + 1, e.value, k)) return true;
    }
    return e.optional && attempt(step + 1, from, after, lastAt);
  };

  if (attempt(0, 0, undefined, -1)) return { ok: true };
  // A history that matched in full but went on says so; otherwise name the first status never found.
  if (trailing !== undefined && best.step === expected.length) return trailing;
  let step = best.step;
  while (step < expected.length && expected[step]!.optional) step++;
  const missing = expected[Math.min(step, expected.length - 1)]!.value;
  return { ok: false, kind: 'missing', missing, after: best.after, next: observed[best.from] };
}
