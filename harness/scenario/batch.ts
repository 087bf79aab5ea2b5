// Runs a list of scenario runs one after another, sharing a lab while the topology fits, or with
// `parallel` > 1 on several labs side by side (parallel.ts: one queue, results in plan order), and
// tears down whatever lab it left up when it stops (done, error or Ctrl-C). Used by `scenario --all`,
// the nightly run, bisect and `bench --catalog`.
import { downOwned, labRequest } from '../lab/labs.ts';
import { formatSummary } from '../report/terminal.ts';
import type { CatalogEntry } from './catalog-run.ts';
import { InOrder, runPool, runTag, workerLabs } from './parallel.ts';
import { runScenario, type RunOptions } from './run.ts';
import type { Scenario } from './types.ts';

export interface BatchOptions extends Pick<RunOptions, 'lab' | 'jobFile' | 'record' | 'reportsDir' | 'signal' | 'log' | 'waiting' | 'keep'> {
  /** A new lab for every run instead of reusing one while the topology fits. */
  freshLabs?: boolean;
  /** Prints each run's terminal summary. */
  print: (text: string) => void;
  /** Prints a header before each run of several. */
  header?: (text: string) => void;
  /**
   * Labs side by side (netns only: the caller refuses it for hosts that are there already). 1, or
   * absent: one run after another, as before. More: that many labs `<lab>-1` ... (`sc-catalog-1` ...
   * without --lab), each run's progress lines prefixed with its scenario.
   */
  parallel?: number;
}

/**
 * Runs the plan; each finished run is pushed to `entries` as it ends, so a caller that catches an
 * interruption still has the runs done so far.
 */
export async function runBatch(
  plan: Array<{ scenario: Scenario; round: number }>,
  options: BatchOptions,
  entries: CatalogEntry[] = [],
): Promise<CatalogEntry[]> {
  const parallel = Math.min(options.parallel ?? 1, plan.length);
  if (parallel > 1) return runSideBySide(plan, options, entries, parallel);
  const { signal, log } = options;
  const many = plan.length > 1 && options.freshLabs !== true;
  const rounds = Math.max(...plan.map((p) => p.round));
  // The labs this batch's runs use: only those are its to clean up (another batch of this process
  // may be running beside it on a lab of its own).
  const used = new Set<string>();
  try {
    for (const [i, { scenario, round }] of plan.entries()) {
      signal.throwIfAborted();
      if (plan.length > 1) options.header?.(`=== ${scenario.name}${rounds > 1 ? ` (round ${round} of ${rounds})` : ''}`);
      const started = Date.now();
      const lab = options.lab.lab === undefined && many ? { ...options.lab, lab: 'sc-catalog' } : options.lab;
      used.add(labRequest(lab, { name: `sc-${scenario.name}` }).name);
      const { result, runDir } = await runScenario(scenario, {
        lab,
        keep: options.keep,
        signal,
        log,
        ...(options.record === undefined ? {} : { record: options.record }),
        ...(options.waiting === undefined ? {} : { waiting: options.waiting }),
        ...(options.jobFile === undefined ? {} : { jobFile: options.jobFile }),
        ...(options.reportsDir === undefined ? {} : { reportsDir: options.reportsDir }),
        // Shared labs: each run leaves its lab up for the next, which uses it if it fits (same
        // topology on netns, enough hosts over SSH) and replaces it otherwise.
        ...(many ? { reuseLab: { reuse: i > 0, leaveUp: i < plan.length - 1 } } : {}),
      });
      options.print(formatSummary(result, runDir));
      entries.push({ scenario: scenario.name, round, result, runDir, wallSeconds: (Date.now() - started) / 1000 });
    }
  } finally {
    // A run that left its lab up for the next one, and then no next one came (Ctrl-C, an error).
    // A lab kept on purpose (--keep) is persistent: it stays.
    await downOwned(used, log);
  }
  return entries;
}

/**
 * The plan on `parallel` labs at once. Each worker has a lab of its own and takes the next run from
 * the shared queue when it comes free; it reuses its lab while the topology fits (unless freshLabs)
 * and tears it down when the queue is empty. A run that fails or breaks is a result like any other
 * and touches no other lab; an error a run throws (a lab that cannot be torn down, a signal) stops the
 * queue, lets the runs under way end, and then every lab of the batch goes down. Summaries print in
 * plan order, each as soon as the runs before it have ended.
 */
async function runSideBySide(
  plan: Array<{ scenario: Scenario; round: number }>,
  options: BatchOptions,
  entries: CatalogEntry[],
  parallel: number,
): Promise<CatalogEntry[]> {
  const { signal, log } = options;
  const rounds = Math.max(...plan.map((p) => p.round));
  const labs = workerLabs(options.lab.lab ?? 'sc-catalog', parallel);
  log(`${parallel} labs side by side: ${labs.map((l) => `${l.lab} (${l.subnet})`).join(', ')}`);
  const finished: Array<CatalogEntry | undefined> = Array.from({ length: plan.length }, () => undefined);
  const summaries = new InOrder<string>();
  const downWorker = (worker: number) => downOwned([labs[worker]!.lab], log);
  try {
    const outcome = await runPool(
      plan,
      parallel,
      async ({ scenario, round }, take) => {
        signal.throwIfAborted();
        const worker = labs[take.worker]!;
        const prefix = runTag(scenario.name, round, rounds);
        const tag = (m: string) => `${prefix} ${m}`;
        options.header?.(tag(`=== ${scenario.name}${rounds > 1 ? ` (round ${round} of ${rounds})` : ''} on lab ${worker.lab}`));
        const started = Date.now();
        const waiting = options.waiting;
        const { result, runDir } = await runScenario(scenario, {
          lab: { ...options.lab, lab: worker.lab, ...(worker.explicitSubnet ? { subnet: worker.subnet } : {}) },
          keep: false,
          signal,
          log: (m) => log(tag(m)),
          ...(waiting === undefined ? {} : { waiting: (what, elapsed, deadline, detail) => waiting(tag(what), elapsed, deadline, detail) }),
          ...(options.record === undefined ? {} : { record: options.record }),
          ...(options.jobFile === undefined ? {} : { jobFile: options.jobFile }),
          ...(options.reportsDir === undefined ? {} : { reportsDir: options.reportsDir }),
          // As in the serial batch: the worker's lab serves its next run while the topology fits. A
          // run that took the last item leaves nothing up; one that saw more items may find the queue
          // empty when it ends, and then its worker's idle hook takes the lab down.
          ...(options.freshLabs === true ? {} : { reuseLab: { reuse: take.done > 0, leaveUp: take.more } }),
        });
        const entry = { scenario: scenario.name, round, result, runDir, wallSeconds: (Date.now() - started) / 1000 };
        finished[take.index] = entry;
        log(tag(`${result.verdict.toUpperCase()} after ${entry.wallSeconds.toFixed(1)}s on lab ${worker.lab}`));
        for (const text of summaries.put(take.index, formatSummary(result, runDir))) options.print(text);
        return entry;
      },
      downWorker,
    );
    if (outcome.error !== undefined) throw outcome.error;
  } finally {
    // Summaries held behind a run that never ended (an error, Ctrl-C), then the runs in plan order.
    for (const text of summaries.rest()) options.print(text);
    entries.push(...finished.filter((e): e is CatalogEntry => e !== undefined));
    // Every lab of the batch, whatever stopped it; each worker's own hook has normally done this.
    await Promise.all(labs.map((_, w) => downWorker(w)));
  }
  return entries;
}
