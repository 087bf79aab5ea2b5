// Unit: the waits of util/poll.ts on real (short) timers: poll() fails with the last observation,
// pollUntil() answers false at its deadline, pause() ends early on an abort without an error.
import { describe, expect, it } from 'vitest';
import { pause, poll, pollUntil } from '../../harness/util/poll.ts';

describe('poll', () => {
  it('returns the observation that satisfied the condition', async () => {
    let n = 0;
    const { value } = await poll(
      async () => ++n,
      (v) => v >= 3,
      { what: 'three', timeoutMs: 2000, intervalsMs: [5] },
    );
    expect(value).toBe(3);
  });

  it('times out with what it waited for and what it saw last', async () => {
    await expect(
      poll(
        async () => 'red',
        (v) => v === 'green',
        { what: 'a green light', timeoutMs: 50, intervalsMs: [10] },
      ),
    ).rejects.toThrow(/timed out after 0s waiting for a green light; last seen: "red"/);
  });

  it('ends at once on a fatal error', async () => {
    let looks = 0;
    const failing = async () => {
      looks++;
      throw new Error('agent died');
    };
    await expect(poll(failing, () => true, { what: 'x', timeoutMs: 5000, intervalsMs: [10], fatal: () => true })).rejects.toThrow('agent died');
    expect(looks).toBe(1);
  });
});

describe('pollUntil', () => {
  it('is true as soon as the condition holds', async () => {
    let n = 0;
    const started = Date.now();
    expect(await pollUntil(() => ++n >= 3, { timeoutMs: 5000, intervalsMs: [5] })).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('is false at the deadline, after one last look', async () => {
    let looks = 0;
    const started = Date.now();
    expect(await pollUntil(() => (looks++, false), { timeoutMs: 100, intervalsMs: [20] })).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);
    expect(looks).toBeGreaterThanOrEqual(3);
  });

  it('retries a look that throws, and throws the error if the last look did', async () => {
    let n = 0;
    expect(
      await pollUntil(
        () => {
          if (++n < 3) throw new Error('not yet readable');
          return true;
        },
        { timeoutMs: 2000, intervalsMs: [5] },
      ),
    ).toBe(true);
    await expect(pollUntil(() => Promise.reject(new Error('unreadable')), { timeoutMs: 30, intervalsMs: [10] })).rejects.toThrow('unreadable');
  });

  it('rejects with the reason of an abort', async () => {
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error('stopped by the test')), 20);
    await expect(pollUntil(() => false, { timeoutMs: 5000, intervalsMs: [1000], signal: stop.signal })).rejects.toThrow('stopped by the test');
  });
});

describe('pause', () => {
  it('waits the full delay', async () => {
    const started = Date.now();
    expect(await pause(30)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('ends early and quietly when aborted', async () => {
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 20);
    const started = Date.now();
    expect(await pause(5000, stop.signal)).toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await pause(5000, stop.signal)).toBe(false);
  });
});
