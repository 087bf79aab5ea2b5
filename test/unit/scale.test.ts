// Unit: the pure parts of large labs: bounded concurrency for agent starts (util/bounded.ts), the
// readiness timeout and one-line summary for 100 clients (lab/cluster.ts), and `bench --scale`'s client
// counts, VmRSS parsing, memory figures and table (bench/scale.ts).
import { describe, expect, it } from 'vitest';
import { formatScale, ownedForTeardown, parseClientCounts, refuseExistingLab, rssFigures, vmRssKiB, type ScaleRow } from '../../harness/bench/scale.ts';
import { identify } from '../../harness/exec/procs.ts';
import { selfIdentity, type StoredLab } from '../../harness/lab/store.ts';
import { readinessSummary, readyTimeoutMs } from '../../harness/lab/cluster.ts';
import { MAX_ADDRESSABLE_CLIENTS, MAX_CLIENTS, planLab } from '../../harness/lab/topology.ts';
import { eachBounded } from '../../harness/util/bounded.ts';
import { UsageError } from '../../harness/util/errors.ts';

const tick = () => new Promise((r) => setTimeout(r, 1));

describe('eachBounded', () => {
  it('runs every item once with never more than the limit in flight, and more than one at a time', async () => {
    let inFlight = 0;
    let most = 0;
    const seen: number[] = [];
    await eachBounded([...Array(20).keys()], 3, async (item) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await tick();
      seen.push(item);
      inFlight--;
    });
    expect(seen.sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
    expect(most).toBe(3);
  });

  it('after a failure starts nothing new, lets the ones in flight finish, then throws the first error', async () => {
    const started: number[] = [];
    const finished: number[] = [];
    const run = eachBounded([0, 1, 2, 3, 4, 5, 6, 7], 3, async (item) => {
      started.push(item);
      if (item === 1) throw new Error('item 1 failed');
      await tick();
      await tick();
      finished.push(item);
    });
    await expect(run).rejects.toThrow('item 1 failed');
    // 0 and 2 were in flight beside 1: they finish; the worker that ran 1 stops, the others stop after what they hold.
    expect(started.slice(0, 3)).toEqual([0, 1, 2]);
    expect(finished.sort()).toEqual(started.filter((i) => i !== 1).sort());
    expect(started.length).toBeLessThan(8);
  });

  it('refuses a limit below 1 and does nothing with no items', async () => {
    await expect(eachBounded([1], 0, async () => undefined)).rejects.toThrow(/limit/);
    let calls = 0;
    await eachBounded([], 4, async () => void calls++);
    expect(calls).toBe(0);
  });
});

describe('readiness of large labs', () => {
  it('gives small labs 120 s and larger ones 1.5 s more per client past 40', () => {
    expect(readyTimeoutMs(2)).toBe(120_000);
    expect(readyTimeoutMs(40)).toBe(120_000);
    expect(readyTimeoutMs(100)).toBe(210_000);
    expect(readyTimeoutMs(200)).toBeGreaterThan(readyTimeoutMs(100));
  });

  it('summarises 100 clients in one short line: ready count, the first few not ready with their status', () => {
    const wanted = Array.from({ length: 100 }, (_, i) => `client${i + 1}`);
    const nodes = wanted.slice(0, 90).map((Name, i) => ({ Name, Status: i < 80 ? 'ready' : 'initializing' })) as never[];
    const line = readinessSummary({ leader: '198.18.0.11:4647', nodes }, wanted, 3);
    expect(line).toBe('leader "198.18.0.11:4647", ready 80/100; not ready: client81=initializing client82=initializing client83=initializing and 17 more');
    const all = readinessSummary({ leader: 'x', nodes: wanted.map((Name) => ({ Name, Status: 'ready' })) as never[] }, wanted);
    expect(all).toBe('leader "x", ready 100/100');
    expect(readinessSummary(undefined, wanted)).toBe('nothing');
    expect(readinessSummary({ leader: '', nodes: [] }, ['client1'])).toMatch(/ready 0\/1; not ready: client1=absent$/);
  });
});

describe('the client bound', () => {
  it('plans the most clients allowed inside the /24, and refuses one more with the reason', () => {
    expect(MAX_CLIENTS).toBeLessThanOrEqual(MAX_ADDRESSABLE_CLIENTS);
    const plan = planLab({ name: 's2-bound', servers: 9, clients: MAX_CLIENTS, datacenter: 'dc1' });
    expect(plan.hosts.at(-1)!.ip.split('.')[3]).toBe(String(20 + MAX_CLIENTS));
    let error: unknown;
    try {
      planLab({ name: 's2-bound', servers: 1, clients: MAX_CLIENTS + 1, datacenter: 'dc1' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message).toMatch(`from 1 to ${MAX_CLIENTS}`);
    expect((error as UsageError).hint).toMatch(/\/24/);
  });
});

describe('bench --scale', () => {
  it('reads a list of client counts and refuses junk, zero, too many and repeats', () => {
    expect(parseClientCounts('25,50,100')).toEqual([25, 50, 100]);
    expect(parseClientCounts(' 3 , 1')).toEqual([3, 1]);
    for (const bad of ['', '25,', 'x', '0', `${MAX_CLIENTS + 1}`, '2.5', '-1']) expect(() => parseClientCounts(bad), bad).toThrow(UsageError);
    expect(() => parseClientCounts('5,5')).toThrow(/5 twice/);
  });

  it('reads VmRSS from /proc/<pid>/status, none for a process without one', () => {
    expect(vmRssKiB('Name:\tnomad\nVmPeak:\t 900000 kB\nVmRSS:\t   70452 kB\nRssAnon:\t 40000 kB\n')).toBe(70452);
    expect(vmRssKiB('Name:\tkthreadd\nState:\tS (sleeping)\n')).toBeUndefined();
  });

  it('gives mean, max and total in MiB, and a table with one row per lab', () => {
    expect(rssFigures([65536, 71680, 102400])).toEqual({ agents: 3, meanMiB: 78, maxMiB: 100, totalMiB: 234 });
    expect(rssFigures([])).toEqual({ agents: 0, meanMiB: 0, maxMiB: 0, totalMiB: 0 });
    const row = (clients: number, up: number): ScaleRow => ({
      clients,
      servers: 1,
      phases: { network: 1, ansible: 2, 'agents started': 3, 'clients ready': 4, up, down: 5 },
      rss: rssFigures([70000]),
      load: { before: 0.5, ready: 3.25 },
    });
    const lines = formatScale([row(25, 12.34), row(100, 30)]);
    expect(lines[0]).toMatch(/^clients +network +ansible +agents started +clients ready +up +down +RSS\/agent mean +max +total +load before\/ready$/);
    expect(lines[1]).toMatch(/^25 +1\.0s +2\.0s +3\.0s +4\.0s +12\.3s +5\.0s +68\.4 MiB +68\.4 MiB +0\.07 GiB +0\.5\/3\.3$/);
    expect(lines[2]).toMatch(/^100 +.* 30\.0s /);
  });
});

describe('bench --scale and a lab of that name there already', () => {
  const me = selfIdentity();
  // A pid above the kernel's pid_max: never a live process.
  const gone = { pid: 4_194_400, startTicks: 1 };
  const lab = (owner: { pid: number; startTicks: number }, persistent: boolean, phase: StoredLab['phase'] = 'up') =>
    ({ version: 1, provider: 'netns', phase, owner, persistent, plan: { name: 'bench-scale' } }) as unknown as StoredLab;

  it("refuses another running command's lab, and one `lab up` kept (it would be reused in 0 s), with what to do", () => {
    // Another live process: the one that started this test runner.
    const other = identify(process.ppid)!;
    expect(() => refuseExistingLab('bench-scale', lab(other, false, 'creating'))).toThrow(UsageError);
    expect(() => refuseExistingLab('bench-scale', lab(other, false))).toThrow(new RegExp(`owned by a running command \\(process ${other.pid}, up\\)`));
    expect(() => refuseExistingLab('bench-scale', lab(gone, true))).toThrow(/kept up/);
    expect(() => refuseExistingLab('bench-scale', lab(gone, true))).toThrow(UsageError);
    // The refusal names the way out.
    try {
      refuseExistingLab('bench-scale', lab(gone, true));
    } catch (error) {
      expect((error as UsageError).hint).toMatch(/lab down --lab bench-scale/);
    }
  });

  it('lets a leftover of a killed run through (the sweep cleans it), and no lab at all', () => {
    expect(() => refuseExistingLab('bench-scale', lab(gone, false))).not.toThrow();
    expect(() => refuseExistingLab('bench-scale', undefined)).not.toThrow();
  });

  it('tears down only a lab this process brought up and did not keep', () => {
    expect(ownedForTeardown(lab(me, false))).toBe(true);
    expect(ownedForTeardown(lab(me, false, 'creating'))).toBe(true);
    expect(ownedForTeardown(lab({ ...me, startTicks: me.startTicks + 1 }, false))).toBe(false);
    expect(ownedForTeardown(lab(identify(process.ppid)!, false))).toBe(false);
    expect(ownedForTeardown(lab(me, true))).toBe(false);
    expect(ownedForTeardown(lab(gone, true))).toBe(false);
    expect(ownedForTeardown(undefined)).toBe(false);
  });
});
