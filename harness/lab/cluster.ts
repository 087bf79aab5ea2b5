// What any lab waits for and ends with on its Nomad cluster, whoever provides the hosts: a leader
// and every client ready; jobs purged and their allocations stopped while the agents still run.
import type { NomadApi, NomadNodeStub } from '../nomad/api.ts';
import { poll, pollUntil } from '../util/poll.ts';

export interface Readiness {
  leader: string;
  nodes: NomadNodeStub[];
}

export interface ReadyOptions {
  /** Client node names that must be ready. */
  clients: string[];
  timeoutMs: number;
  signal: AbortSignal;
  waiting?: (what: string, elapsedMs: number, deadlineMs: number, detail: string) => void;
  /** An error that ends the wait at once (an agent that died while starting). */
  fatal?: (error: unknown) => boolean;
}

/** One look at the cluster through the first server that answers (`check` runs first and may throw). */
export async function observe(apis: NomadApi[], check: () => void = () => undefined): Promise<Readiness> {
  check();
  let lastError: unknown;
  for (const api of apis) {
    try {
      const leader = await api.leader();
      return { leader, nodes: leader ? await api.nodes() : [] };
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

/**
 * How long a lab of `clients` clients may take to become ready: 120 s, and 1.5 s more per client past
 * 40 (210 s for 100). On 2 cores shared with other labs (load 15), 100 clients were all ready 5 s after
 * the last agent started; the bound is for a machine gone wrong, not for a slow one.
 */
export function readyTimeoutMs(clients: number): number {
  return 120_000 + Math.max(0, clients - 40) * 1500;
}

/**
 * The readiness of a cluster in one line that stays short with 100 clients: the leader, how many of
 * the wanted clients are ready, and the first few that are not, with their status (or `absent`).
 */
export function readinessSummary(r: Readiness | undefined, wanted: readonly string[], shown = 8): string {
  if (!r) return 'nothing';
  const status = new Map(r.nodes.map((n) => [n.Name, n.Status]));
  const notReady = wanted.filter((n) => status.get(n) !== 'ready');
  const listed = notReady.slice(0, shown).map((n) => `${n}=${status.get(n) ?? 'absent'}`);
  const more = notReady.length > shown ? ` and ${notReady.length - shown} more` : '';
  return `leader ${JSON.stringify(r.leader)}, ready ${wanted.length - notReady.length}/${wanted.length}${notReady.length > 0 ? `; not ready: ${listed.join(' ')}${more}` : ''}`;
}

/** Waits until there is a leader and every named client is `ready`, reporting progress as it goes. */
export async function waitForLeaderAndClients(look: () => Promise<Readiness>, options: ReadyOptions): Promise<Readiness> {
  const wanted = options.clients;
  const what = `a leader and ${wanted.length} ready clients`;
  const { value } = await poll<Readiness>(
    look,
    (r) => {
      // A set per look: with 100 clients, a scan of the nodes per wanted client is 10,000 steps a poll.
      const ready = new Set(r.nodes.filter((node) => node.Status === 'ready').map((node) => node.Name));
      return r.leader !== '' && wanted.every((n) => ready.has(n));
    },
    {
      what,
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      ...(options.fatal ? { fatal: options.fatal } : {}),
      describe: (r) => readinessSummary(r, wanted),
      onObservation: (r, elapsed) =>
        options.waiting?.(
          what,
          elapsed,
          options.timeoutMs,
          `leader ${r.leader ? 'elected' : 'pending'}, ready ${r.nodes.filter((n) => n.Status === 'ready').length}/${wanted.length}`,
        ),
    },
  );
  return value;
}

/**
 * Stops and purges the jobs, then waits (up to `timeoutMs`) until none of their allocations is
 * running or pending, so tasks end the way Nomad ends them before the agents go.
 */
export async function purgeJobs(api: NomadApi, jobs: Array<{ ID: string; Namespace: string }>, timeoutMs: number): Promise<void> {
  for (const job of jobs) await api.stopJob(job.ID, job.Namespace).catch(() => undefined);
  const ids = new Set(jobs.map((j) => j.ID));
  // A failed read ends the wait as if none ran; past the deadline, teardown goes on regardless. An
  // `unknown` allocation (its client just healed from a partition) still has a live task: stopping
  // the agent before its client has killed it would leave the task and its cgroup on the host.
  const live = new Set(['running', 'pending', 'unknown']);
  const noneLive = () =>
    api.allocations().then(
      (all) => !all.some((a) => ids.has(a.JobID) && live.has(a.ClientStatus)),
      () => true,
    );
  await pollUntil(noneLive, { timeoutMs, intervalsMs: [250] });
}
