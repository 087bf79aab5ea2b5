// Runs a list of scenario runs one after another, sharing a lab while the topology fits, and tears
// down whatever lab it left up when it stops (done, error or Ctrl-C). Used by `scenario --all` and
// by the nightly run.
import { downOwned, labRequest } from '../lab/labs.ts';
import { formatSummary } from '../report/terminal.ts';
import type { CatalogEntry } from './catalog-run.ts';
import { runScenario, type RunOptions } from './run.ts';
import type { Scenario } from './types.ts';

export interface BatchOptions extends Pick<RunOptions, 'lab' | 'jobFile' | 'record' | 'reportsDir' | 'signal' | 'log' | 'waiting' | 'keep'> {
  /** A new lab for every run instead of reusing one while the topology fits. */
  freshLabs?: boolean;
  /** Prints each run's terminal summary. */
  print: (text: string) => void;
  /** Prints a header before each run of several. */
  header?: (text: string) => void;
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
