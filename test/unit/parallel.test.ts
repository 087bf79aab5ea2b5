// Runs side by side (scenario/parallel.ts): the default number of labs from cores and memory, the
// worker labs' names and subnets, the shared queue and the release of results in plan order.
import { describe, expect, it } from 'vitest';
import { checkSideBySide, labRequest } from '../../harness/lab/labs.ts';
import { defaultSubnet, parseCidr, cidrContains, LAB_RANGE } from '../../harness/lab/topology.ts';
import { bytesPerLab, defaultParallel, GIB, InOrder, largestLab, MIB, runPool, runTag, workerLabs, type Take } from '../../harness/scenario/parallel.ts';
import { findScenario, listScenarios } from '../../harness/scenario/catalog.ts';
import { UsageError } from '../../harness/util/errors.ts';
import { tempLabRoot } from './lab-root.ts';

const { inventory } = tempLabRoot('parallel');

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('defaultParallel', () => {
  it('takes one lab per core, bounded by the memory of the largest lab each and by 4, never fewer than one', () => {
    // A catalog lab of 5 agents (3 servers, 2 clients) needs about 1 GiB.
    expect(defaultParallel({ cores: 2, availableBytes: 22 * GIB }, 5).labs).toBe(2);
    expect(defaultParallel({ cores: 16, availableBytes: 64 * GIB }, 5).labs).toBe(4);
    expect(defaultParallel({ cores: 8, availableBytes: 3.5 * GIB }, 5).labs).toBe(3);
    expect(defaultParallel({ cores: 8, availableBytes: 0.5 * GIB }, 5).labs).toBe(1);
    expect(defaultParallel({ cores: 1, availableBytes: 64 * GIB }, 5).labs).toBe(1);
    expect(defaultParallel({ cores: 0, availableBytes: 0 }, 5).labs).toBe(1);
  });

  it('takes fewer labs for a plan with a large lab: mass-disconnect (51 agents) on 4 cores and 8 GiB gets one', () => {
    const machine = { cores: 4, availableBytes: 8 * GIB };
    const catalog = listScenarios().filter((s) => s.name !== 'mass-disconnect');
    const small = largestLab(catalog.map((s) => s.lab));
    const withMass = largestLab([...catalog, findScenario('mass-disconnect')].map((s) => s.lab));
    expect(small).toBe(6); // edge: 3 servers, 3 clients
    expect(withMass).toBe(51);
    expect(defaultParallel(machine, small).labs).toBe(4);
    expect(defaultParallel(machine, withMass).labs).toBe(1);
    // 51 agents at 100 MiB and the base: about 5.5 GiB a lab, so 16 GiB holds two.
    expect(bytesPerLab(51)).toBe(512 * MIB + 51 * 100 * MIB);
    expect(defaultParallel({ cores: 4, availableBytes: 16 * GIB }, withMass).labs).toBe(2);
  });

  it('counts the servers as --servers gives them', () => {
    expect(
      largestLab([
        { servers: 1, clients: 2 },
        { servers: 3, clients: 2 },
      ]),
    ).toBe(5);
    expect(
      largestLab(
        [
          { servers: 1, clients: 2 },
          { servers: 3, clients: 2 },
        ],
        1,
      ),
    ).toBe(3);
    expect(largestLab([])).toBe(1);
  });

  it('says why, with the figures it used', () => {
    expect(defaultParallel({ cores: 2, availableBytes: 22 * GIB }, 5).why).toBe(
      'one lab per core (2), at most one per 1.0 GiB of available memory (22.0 GiB; the largest lab has 5 agents), at most 4',
    );
  });
});

describe('workerLabs', () => {
  it('names the labs <base>-1 ... <base>-n, each on the /24 its name hashes to', () => {
    const labs = workerLabs('sc-catalog', 3);
    expect(labs.map((l) => l.lab)).toEqual(['sc-catalog-1', 'sc-catalog-2', 'sc-catalog-3']);
    for (const l of labs) if (!l.explicitSubnet) expect(l.subnet).toBe(defaultSubnet(l.lab));
    expect(new Set(labs.map((l) => l.subnet)).size).toBe(3);
  });

  it('gives every lab a subnet of its own, also when names hash to one /24', () => {
    // 100 names among 512 subnets collide with near certainty (birthday bound); the function must part them.
    const labs = workerLabs('p1-many', 100);
    const hashed = labs.map((l) => defaultSubnet(l.lab));
    expect(new Set(hashed).size).toBeLessThan(100);
    expect(new Set(labs.map((l) => l.subnet)).size).toBe(100);
    for (const l of labs) {
      expect(parseCidr(l.subnet)?.prefixLength).toBe(24);
      expect(cidrContains(LAB_RANGE, l.subnet.replace('/24', ''))).toBe(true);
      expect(l.explicitSubnet).toBe(l.subnet !== defaultSubnet(l.lab));
    }
    expect(labs.some((l) => l.explicitSubnet)).toBe(true);
  });

  it('refuses a base whose worker names would not be lab names, with the longest base that fits', () => {
    expect(() => workerLabs('a'.repeat(31), 2)).toThrow(UsageError);
    expect(() => workerLabs('a'.repeat(31), 2)).toThrow(/aaaa-1 \.\.\. a+-2/);
    // The number may be the machine's default: the message must not speak of a flag the user never gave.
    expect(() => workerLabs('a'.repeat(31), 2)).toThrow(/^2 labs side by side are named/);
    expect(() => workerLabs('a'.repeat(31), 2)).not.toThrow(/--parallel 2/);
    expect(workerLabs('a'.repeat(30), 2).map((l) => l.lab.length)).toEqual([32, 32]);
  });
});

describe('runPool', () => {
  it('hands the next item to the worker that comes free, and returns results in plan order', async () => {
    // Item 0 is long: worker 0 holds it while worker 1 takes every other item from the queue.
    const durations = [60, 5, 5, 5, 5];
    const takes: Take[] = [];
    const outcome = await runPool(durations, 2, async (ms, take) => {
      takes.push(take);
      await pause(ms);
      return `r${take.index}`;
    });
    expect(outcome.error).toBeUndefined();
    expect(outcome.results).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
    expect(takes.filter((t) => t.worker === 0).map((t) => t.index)).toEqual([0]);
    expect(takes.filter((t) => t.worker === 1).map((t) => t.index)).toEqual([1, 2, 3, 4]);
    expect(takes.filter((t) => t.worker === 1).map((t) => t.done)).toEqual([0, 1, 2, 3]);
    // The last item taken sees an empty queue: its lab need not stay up.
    expect(takes.find((t) => t.index === 4)?.more).toBe(false);
    expect(takes.find((t) => t.index === 3)?.more).toBe(true);
  });

  it('runs each worker idle hook once, after its last item', async () => {
    const events: string[] = [];
    await runPool(
      [10, 30, 10],
      2,
      async (ms, take) => {
        await pause(ms);
        events.push(`done ${take.index} on ${take.worker}`);
      },
      async (w) => {
        events.push(`idle ${w}`);
      },
    );
    expect(events.filter((e) => e.startsWith('idle')).sort()).toEqual(['idle 0', 'idle 1']);
    expect(events.indexOf('idle 0')).toBeGreaterThan(events.indexOf('done 2 on 0'));
    expect(events.indexOf('idle 1')).toBeGreaterThan(events.indexOf('done 1 on 1'));
  });

  it('stops the queue at the first error, lets the runs under way end, and still runs every idle hook', async () => {
    const started: number[] = [];
    const idle: number[] = [];
    const outcome = await runPool(
      [5, 40, 5, 5, 5],
      2,
      async (ms, take) => {
        started.push(take.index);
        await pause(ms);
        if (take.index === 0) throw new Error('lab of worker 0 could not be torn down');
        return take.index;
      },
      async (w) => {
        idle.push(w);
      },
    );
    expect((outcome.error as Error).message).toMatch(/could not be torn down/);
    // Item 1 was under way on the other worker and ended; nothing after the error started.
    expect(outcome.results[1]).toBe(1);
    expect(started.sort()).toEqual([0, 1]);
    expect(idle.sort()).toEqual([0, 1]);
  });

  it('reports an idle hook that throws (a lab that would not go down)', async () => {
    const outcome = await runPool(
      [1],
      1,
      async () => 1,
      async () => Promise.reject(new Error('teardown left a namespace')),
    );
    expect(outcome.results).toEqual([1]);
    expect((outcome.error as Error).message).toBe('teardown left a namespace');
  });

  it('never starts more workers than items', async () => {
    const workers = new Set<number>();
    await runPool([1, 2], 4, async (_, take) => void workers.add(take.worker));
    expect(workers.size).toBeLessThanOrEqual(2);
  });
});

describe('InOrder', () => {
  it('releases results in plan order as soon as the ones before them are in', () => {
    const o = new InOrder<string>();
    expect(o.put(2, 'c')).toEqual([]);
    expect(o.put(1, 'b')).toEqual([]);
    expect(o.put(0, 'a')).toEqual(['a', 'b', 'c']);
    expect(o.put(4, 'e')).toEqual([]);
    // Run 3 never ended (Ctrl-C): what is held comes out in order.
    expect(o.rest()).toEqual(['e']);
    expect(o.rest()).toEqual([]);
  });
});

describe('runTag', () => {
  it('prefixes by scenario, and by round only when there are several', () => {
    expect(runTag('spread', 1, 1)).toBe('[spread]');
    expect(runTag('spread', 2, 3)).toBe('[spread#2]');
  });
});

describe('checkSideBySide', () => {
  it('lets netns labs stand side by side, and any lab run one at a time', () => {
    expect(() => checkSideBySide(labRequest({}), 4)).not.toThrow();
    expect(() => checkSideBySide(labRequest({ inventory }), 1)).not.toThrow();
    expect(() => checkSideBySide(labRequest({ lab: 'vagrant' }), 1)).not.toThrow();
  });

  it('refuses more than one at a time on hosts that are there already, and one subnet for several labs', () => {
    expect(() => checkSideBySide(labRequest({ inventory }), 2)).toThrow(/--parallel 2 needs labs side by side; the hosts of an inventory lab are one set/);
    expect(() => checkSideBySide(labRequest({ lab: 'vagrant' }), 3)).toThrow(UsageError);
    expect(() => checkSideBySide(labRequest({ subnet: '198.18.7.0/24' }), 2)).toThrow(/the subnet 198\.18\.7\.0\/24 \(--subnet or the lab file\) is one/);
  });
});
