// Every wait of the harness: poll() for a condition that must come (a timeout is an error, with the
// last observation in its message), pollUntil() for one that may not (the answer is true or false),
// pause() for a fixed delay between rounds of a loop that an abort ends.
import { setTimeout as sleep } from 'node:timers/promises';
import { HarnessError } from './errors.ts';

export interface PollOptions<T> {
  /** What is being waited for, as a reader would say it: "all clients ready". */
  what: string;
  timeoutMs: number;
  /** Intervals tried in turn; the last repeats. */
  intervalsMs?: readonly number[];
  signal?: AbortSignal;
  /** Renders the last observation for the timeout message. */
  describe?: (last: T | undefined) => string;
  /** Called after each observation (progress display). */
  onObservation?: (value: T, elapsedMs: number) => void;
  /** Errors that end the wait at once instead of being retried (an agent that died). */
  fatal?: (error: unknown) => boolean;
}

export interface PollResult<T> {
  value: T;
  elapsedMs: number;
}

type LoopOptions<T> = Omit<PollOptions<T>, 'what' | 'describe'>;
type Outcome<T> = { met: true; value: T; elapsedMs: number } | { met: false; last: T | undefined; lastError: unknown };

/**
 * The loop both waits share: observes until `done` holds or the deadline passes; after the deadline
 * there is always one last observation. A throwing observation is kept as the last error and retried
 * (unless `fatal`); an abort rejects with the signal's reason.
 */
async function observeUntil<T>(observe: () => T | Promise<T>, done: (value: T) => boolean, options: LoopOptions<T>): Promise<Outcome<T>> {
  const intervals = options.intervalsMs ?? [100, 200, 500, 1000];
  const start = Date.now();
  let last: T | undefined;
  let lastError: unknown;
  for (let attempt = 0; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      last = await observe();
      lastError = undefined;
      const elapsedMs = Date.now() - start;
      options.onObservation?.(last, elapsedMs);
      if (done(last)) return { met: true, value: last, elapsedMs };
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (options.fatal?.(error)) throw error;
      lastError = error;
    }
    const elapsed = Date.now() - start;
    if (elapsed >= options.timeoutMs) return { met: false, last, lastError };
    const interval = intervals[Math.min(attempt, intervals.length - 1)] ?? 1000;
    try {
      await sleep(Math.min(interval, options.timeoutMs - elapsed), undefined, options.signal ? { signal: options.signal } : undefined);
    } catch (error) {
      // The timer rejects with a generic AbortError; callers want the reason the run was stopped.
      throw options.signal?.aborted ? options.signal.reason : error;
    }
  }
}

/**
 * Calls `observe` until `done(value)` holds or the deadline passes. An observation that throws is
 * kept as the last error and retried; the timeout message carries it.
 */
export async function poll<T>(observe: () => Promise<T>, done: (value: T) => boolean, options: PollOptions<T>): Promise<PollResult<T>> {
  const outcome = await observeUntil(observe, done, options);
  if (outcome.met) return { value: outcome.value, elapsedMs: outcome.elapsedMs };
  const { last, lastError } = outcome;
  const seen =
    lastError instanceof Error ? `last error: ${lastError.message}` : `last seen: ${options.describe ? options.describe(last) : JSON.stringify(last)}`;
  throw new HarnessError(`timed out after ${(options.timeoutMs / 1000).toFixed(0)}s waiting for ${options.what}; ${seen}`, { cause: lastError });
}

export type PollUntilOptions = Pick<PollOptions<boolean>, 'timeoutMs' | 'intervalsMs' | 'signal' | 'fatal'>;

/**
 * For a wait whose deadline is an answer, not a failure (a process that may outlive its SIGKILL, a
 * stream that may never catch up): true as soon as `condition` holds, false once the deadline passed
 * without it. Same loop as poll(): a throwing condition is retried, and if the last look before the
 * deadline threw, that error is thrown (the answer is not known); an abort rejects with its reason.
 */
export async function pollUntil(condition: () => boolean | Promise<boolean>, options: PollUntilOptions): Promise<boolean> {
  const outcome = await observeUntil(condition, (held) => held, options);
  if (outcome.met) return true;
  if (outcome.lastError !== undefined) throw outcome.lastError;
  return false;
}

/**
 * A fixed delay between rounds of a loop (a reconnect back-off, a scrape period), not a wait for a
 * condition. An abort ends it early without an error: the loop checks its signal next. True if the
 * full delay passed.
 */
export async function pause(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return false;
  return sleep(ms, true, signal ? { signal } : undefined).catch((error: unknown) => {
    if (signal?.aborted) return false;
    throw error;
  });
}
