// Runs a list of scenario runs one after another, sharing a lab while the topology fits, and tears
// down whatever lab it left up when it stops (done, error or Ctrl-C). Used by `scenario --all` and
// by the nightly run.
import { listLabs, ownedByThisProcess, readState } from '../lab/state.ts';
import { teardownLab } from '../lab/teardown.ts';
import { listSshLabs, ownedByMe, readSshState, remoteLabDown } from '../lab/ssh-lab.ts';
import { formatSummary } from '../report/terminal.ts';
import type { CatalogEntry } from './catalog-run.ts';
import { runScenario, type RunOptions } from './run.ts';
import type { Scenario } from './types.ts';

export interface BatchOptions extends Pick<RunOptions, 'nomad' | 'acl' | 'servers' | 'jobFile' | 'record' | 'reportsDir' | 'signal' | 'log' | 'waiting' | 'keep' | 'remote'> {
  labName?: string;
  /** A new lab for every run instead of reusing one while the topology fits. */
  freshLabs?: boolean;
  /** Prints each run's terminal summary. */
  print: (text: string) => void;
  /** Prints a header before each run of several. */
  header?: (text: string) => void;
}

const sameLab = (a: Scenario, b: Scenario | undefined) =>
  b !== undefined &&
  a.lab.servers === b.lab.servers &&
  a.lab.clients === b.lab.clients &&
  (a.lab.clientDatacenters ?? []).join() === (b.lab.clientDatacenters ?? []).join() &&
  (a.lab.acl === true) === (b.lab.acl === true);

/**
 * Runs the plan; each finished run is pushed to `entries` as it ends, so a caller that catches an
 * interruption still has the runs done so far.
 */
export async function runBatch(plan: Array<{ scenario: Scenario; round: number }>, options: BatchOptions, entries: CatalogEntry[] = []): Promise<CatalogEntry[]> {
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
      const labName = options.labName ?? (many ? 'sc-catalog' : `sc-${scenario.name}`);
      used.add(labName);
      const { result, runDir } = await runScenario(scenario, {
        keep: options.keep,
        signal,
        log,
        ...(options.record === undefined ? {} : { record: options.record }),
        ...(options.waiting === undefined ? {} : { waiting: options.waiting }),
        ...(options.nomad === undefined ? {} : { nomad: options.nomad }),
        ...(options.acl === true ? { acl: true } : {}),
        ...(options.servers === undefined ? {} : { servers: options.servers }),
        ...(options.jobFile === undefined ? {} : { jobFile: options.jobFile }),
        ...(options.reportsDir === undefined ? {} : { reportsDir: options.reportsDir }),
        ...(options.remote === undefined ? {} : { remote: options.remote }),
        ...(options.labName !== undefined || many ? { labName } : {}),
        // Shared labs: the next run reuses this one when the topology fits.
        // An SSH lab is the same hosts for every scenario: always shared.
        ...(many
          ? options.remote
            ? { reuseLab: { reuse: i > 0, leaveUp: i < plan.length - 1 } }
            : { reuseLab: { reuse: i > 0 && sameLab(scenario, plan[i - 1]?.scenario), leaveUp: sameLab(scenario, plan[i + 1]?.scenario) } }
          : {}),
      });
      options.print(formatSummary(result, runDir));
      entries.push({ scenario: scenario.name, round, result, runDir, wallSeconds: (Date.now() - started) / 1000 });
    }
  } finally {
    // A run that left its lab up for the next one, and then no next one came (Ctrl-C, an error).
    // A lab kept on purpose (--keep) is persistent: it stays.
    for (const lab of listLabs().filter((l) => used.has(l))) {
      const state = readState(lab);
      if (state && ownedByThisProcess(state) && !state.persistent) await teardownLab(lab, state.plan, log);
    }
    for (const lab of listSshLabs().filter((l) => used.has(l))) {
      const state = readSshState(lab);
      if (state && ownedByMe(state) && !state.persistent) await remoteLabDown(lab, log);
    }
  }
  return entries;
}
