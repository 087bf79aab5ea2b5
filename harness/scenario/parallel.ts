// Many scenario runs on several netns labs at once (`scenario --all --parallel N`): how many labs the
// machine takes by default, the names and subnets of the labs side by side, a pool of workers over
// one shared queue of runs (a long scenario holds one worker, not a fixed share of the plan), and
// the release of results in the plan's order. Everything but machineShape() is pure.
import { readFileSync } from 'node:fs';
import { availableParallelism, freemem } from 'node:os';
import { isName, NAMES } from '../config/names.ts';
import { defaultSubnet, formatIpv4, LAB_RANGE, parseCidr } from '../lab/topology.ts';
import { UsageError } from '../util/errors.ts';

export const GIB = 1024 ** 3;
export const MIB = 1024 ** 2;
/**
 * What one agent of a lab needs, a safe figure: measured, a client of mass-disconnect holds about 67
 * MiB (VmRSS, `bench --scale`), a server under a catalog run more; 100 MiB leaves room for both.
 */
export const BYTES_PER_AGENT = 100 * MIB;
/** What a lab needs beside its agents: the tasks, Ansible's run, the harness's recorder. */
export const BYTES_PER_LAB_BASE = 512 * MIB;
/** Never more labs than this by default: past it, runs wait on the CPU and timer bounds start to slip. */
export const MAX_DEFAULT_LABS = 4;

/** The memory one lab of `agents` agents (servers and clients) needs: the base and 100 MiB per agent. */
export const bytesPerLab = (agents: number): number => BYTES_PER_LAB_BASE + Math.max(1, agents) * BYTES_PER_AGENT;

/**
 * The agents of the largest lab a plan needs (servers + clients of each scenario to run, the
 * servers as `--servers` overrides them): every worker lab may have to hold it. Pure.
 */
export function largestLab(labs: ReadonlyArray<{ servers: number; clients: number }>, serversFlag?: number): number {
  return Math.max(1, ...labs.map((l) => (serversFlag ?? l.servers) + l.clients));
}

export interface MachineShape {
  cores: number;
  /** Memory the kernel can give without swapping (MemAvailable). */
  availableBytes: number;
}

/**
 * The default number of labs side by side: one per core (a catalog run loads about one core while
 * agents start and Nomad reschedules), no more than the available memory holds of the plan's
 * largest lab (`agents`: its servers and clients; bytesPerLab: 512 MiB and 100 MiB per agent, so a
 * catalog lab of 5 agents about 1 GiB, mass-disconnect's 51 about 5.5 GiB), and at most
 * MAX_DEFAULT_LABS; never fewer than one.
 */
export function defaultParallel(machine: MachineShape, agents: number): { labs: number; why: string } {
  const byCores = Math.max(1, Math.floor(machine.cores));
  const perLab = bytesPerLab(agents);
  const byMemory = Math.max(1, Math.floor(machine.availableBytes / perLab));
  const labs = Math.min(byCores, byMemory, MAX_DEFAULT_LABS);
  const gib = (x: number) => (x / GIB).toFixed(1);
  return {
    labs,
    why: `one lab per core (${byCores}), at most one per ${gib(perLab)} GiB of available memory (${gib(machine.availableBytes)} GiB; the largest lab has ${agents} agents), at most ${MAX_DEFAULT_LABS}`,
  };
}

/** This machine's cores and available memory (MemAvailable from /proc/meminfo, else the free memory). */
export function machineShape(): MachineShape {
  let availableBytes = freemem();
  try {
    const m = /^MemAvailable:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) availableBytes = Number(m[1]) * 1024;
  } catch {
    // Not Linux, or /proc not mounted: the free memory is the cautious figure.
  }
  return { cores: availableParallelism(), availableBytes };
}

export interface WorkerLab {
  /** `<base>-<k>`, k from 1. */
  lab: string;
  subnet: string;
  /** The subnet is not the one the name hashes to (two names hashed to one /24): it must be passed on. */
  explicitSubnet: boolean;
}

/**
 * The labs of `n` workers: `<base>-1` ... `<base>-n`, each on the /24 its name hashes to, unless an
 * earlier worker has that one (two bridges with one subnet would route each other's traffic): then
 * the next free /24 of the lab range.
 */
export function workerLabs(base: string, n: number): WorkerLab[] {
  const names = Array.from({ length: n }, (_, k) => `${base}-${k + 1}`);
  const tooLong = names.find((name) => !isName('lab', name));
  if (tooLong !== undefined) {
    // Said without "--parallel N": the number may be the machine's default, a flag the user never gave.
    throw new UsageError(
      `${n} labs side by side are named ${base}-1 ... ${base}-${n}, and ${tooLong} is not a lab name (${NAMES.lab.rule})`,
      `give a --lab of at most ${NAMES.lab.max - 1 - String(n).length} characters, or --parallel 1 to run one after another on one lab, named as given`,
    );
  }
  const range = parseCidr(LAB_RANGE)!;
  const slots = 2 ** (32 - range.prefixLength - 8);
  const taken = new Set<string>();
  return names.map((lab) => {
    const hashed = defaultSubnet(lab);
    let subnet = hashed;
    for (let step = 1; taken.has(subnet); step++) {
      const slot = ((parseCidr(hashed)!.base - range.base) / 256 + step) % slots;
      subnet = `${formatIpv4(range.base + slot * 256)}/24`;
    }
    taken.add(subnet);
    return { lab, subnet, explicitSubnet: subnet !== hashed };
  });
}

/** What a worker learns with each item it takes from the queue. */
export interface Take {
  /** The item's place in the plan. */
  index: number;
  /** The worker, from 0. */
  worker: number;
  /** How many items this worker had done before this one (0: its first). */
  done: number;
  /** Whether items were left in the queue when this one was taken (a lab left up may be used again). */
  more: boolean;
}

export interface PoolOutcome<R> {
  /** By plan index; undefined for an item not run or whose run threw. */
  results: Array<R | undefined>;
  /** The first error a worker threw (its own run or its idle hook); the queue stopped there. */
  error?: unknown;
}

/**
 * Runs `items` on `workers` workers that take the next item from one queue as they come free. The
 * first error stops the queue: no worker takes another item, the runs under way finish, and the
 * error comes back with the results. `idle(worker)` runs once per worker when it takes no more
 * items (queue empty or stopped), also after an error; it is where a worker's lab goes.
 */
export async function runPool<T, R>(
  items: readonly T[],
  workers: number,
  work: (item: T, take: Take) => Promise<R>,
  idle: (worker: number) => Promise<void> = async () => undefined,
): Promise<PoolOutcome<R>> {
  const results: Array<R | undefined> = Array.from({ length: items.length }, () => undefined);
  let next = 0;
  let error: { value: unknown } | undefined;
  const fail = (value: unknown) => {
    error ??= { value };
  };
  const worker = async (w: number) => {
    let done = 0;
    try {
      while (error === undefined && next < items.length) {
        const index = next++;
        try {
          results[index] = await work(items[index]!, { index, worker: w, done, more: next < items.length });
        } catch (thrown) {
          fail(thrown);
        }
        done++;
      }
    } finally {
      await idle(w).catch(fail);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(workers, items.length)) }, (_, w) => worker(w)));
  return { results, ...(error === undefined ? {} : { error: error.value }) };
}

/**
 * Releases results in plan order as they come in any order: `put` hands back every result that now
 * follows, without a gap, the last one released; `rest` the ones still held (after a gap that will
 * not be filled: an interrupted run).
 */
export class InOrder<R> {
  private readonly held = new Map<number, R>();
  private nextIndex = 0;
  put(index: number, value: R): R[] {
    this.held.set(index, value);
    const ready: R[] = [];
    while (this.held.has(this.nextIndex)) {
      ready.push(this.held.get(this.nextIndex)!);
      this.held.delete(this.nextIndex++);
    }
    return ready;
  }
  rest(): R[] {
    const left = [...this.held.entries()].sort(([a], [b]) => a - b).map(([, v]) => v);
    this.held.clear();
    return left;
  }
}

/** The prefix of a run's progress lines among concurrent runs: the scenario, and its round when there are several. */
export const runTag = (scenario: string, round: number, rounds: number): string => (rounds > 1 ? `[${scenario}#${round}]` : `[${scenario}]`);
