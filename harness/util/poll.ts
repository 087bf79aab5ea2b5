// The one polling primitive: stepped intervals, a named deadline, and the last observation on timeout.
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

/**
 * Calls `observe` until `done(value)` holds or the deadline passes. An observation that throws is
 * kept as the last error and retried; the timeout message carries it.
 */
export async function poll<T>(
  observe: () => Promise<T>,
  done: (value: T) => boolean,
  options: PollOptions<T>,
): Promise<PollResult<T>> {
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
      if (done(last)) return { value: last, elapsedMs };
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (options.fatal?.(error)) throw error;
      lastError = error;
    }
    const elapsed = Date.now() - start;
    if (elapsed >= options.timeoutMs) {
      const seen = lastError instanceof Error ? `last error: ${lastError.message}` : `last seen: ${options.describe ? options.describe(last) : JSON.stringify(last)}`;
      throw new HarnessError(`timed out after ${(options.timeoutMs / 1000).toFixed(0)}s waiting for ${options.what}; ${seen}`, { cause: lastError });
    }
    const interval = intervals[Math.min(attempt, intervals.length - 1)] ?? 1000;
    try {
      await sleep(Math.min(interval, options.timeoutMs - elapsed), undefined, options.signal ? { signal: options.signal } : undefined);
    } catch (error) {
      // The timer rejects with a generic AbortError; callers want the reason the run was stopped.
      throw options.signal?.aborted ? options.signal.reason : error;
    }
  }
}
