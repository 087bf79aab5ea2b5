// `nomad-lab bench --scale`: figures, not assertions, for large netns labs. For each client count, one
// lab up (network, Ansible render, agents started, all clients ready) and down (teardown to a clean
// leak audit), the memory of its agents (VmRSS from /proc/<pid>/status) and the machine's load, so that
// a figure taken while other labs ran on the same cores says so.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { bringDown, labRequest, upOwned } from '../lab/labs.ts';
import { isLeftover, ownedByThisProcess, readLab, readState, type StoredLab } from '../lab/store.ts';
import { MAX_CLIENTS } from '../lab/topology.ts';
import { ExitCode, HarnessError, UsageError } from '../util/errors.ts';
import { info, out } from '../util/log.ts';
import { table } from '../util/table.ts';

export const DEFAULT_SCALE_CLIENTS = '25,50,100';

export interface ScaleBenchFlags {
  scale?: boolean;
  clients?: string;
  lab?: string;
  json?: boolean;
}

/** `--scale`, and `--lab` for its labs; with `--scale`, `--clients` left unset means 25,50,100 (pure registration). */
export function scaleBenchOptions(cmd: Command): Command {
  cmd.option('--scale', `large labs: for each --clients count (a list, default ${DEFAULT_SCALE_CLIENTS}) one lab up and down, per phase, and RSS per agent`);
  cmd.option('--lab <name>', 'with --scale: the lab name its labs use (default bench-scale)');
  cmd.hook('preAction', (command) => {
    if (command.getOptionValue('scale') === true && command.getOptionValueSource('clients') === 'default') {
      command.setOptionValueWithSource('clients', DEFAULT_SCALE_CLIENTS, 'default');
    }
  });
  return cmd;
}

/** "25,50,100" -> [25, 50, 100]: whole numbers from 1 to MAX_CLIENTS, in the order given, no repeats. */
export function parseClientCounts(text: string): number[] {
  const parts = text.split(',').map((p) => p.trim());
  const counts = parts.map((p) => {
    if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > MAX_CLIENTS) {
      throw new UsageError(`--clients expects a list of whole numbers from 1 to ${MAX_CLIENTS} (e.g. ${DEFAULT_SCALE_CLIENTS}), got ${JSON.stringify(text)}`);
    }
    return Number(p);
  });
  const repeated = counts.find((c, i) => counts.indexOf(c) !== i);
  if (repeated !== undefined) throw new UsageError(`--clients names ${repeated} twice: each count is one lab`);
  return counts;
}

/** VmRSS of a /proc/<pid>/status text, in KiB; undefined when absent (a kernel thread, a zombie). */
export function vmRssKiB(status: string): number | undefined {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return m ? Number(m[1]) : undefined;
}

export interface RssFigures {
  agents: number;
  meanMiB: number;
  maxMiB: number;
  totalMiB: number;
}

export function rssFigures(kib: readonly number[]): RssFigures {
  const mib = (k: number) => Math.round((k / 1024) * 10) / 10;
  const total = kib.reduce((a, b) => a + b, 0);
  return { agents: kib.length, meanMiB: kib.length ? mib(total / kib.length) : 0, maxMiB: mib(Math.max(0, ...kib)), totalMiB: mib(total) };
}

export interface ScaleRow {
  clients: number;
  servers: number;
  /** Seconds: network, ansible, agents started, clients ready (as the provider reports them), up (command start to all ready), down. */
  phases: Record<string, number>;
  rss: RssFigures;
  /** 1-minute load average before the lab came up and when it was ready (2 cores here: above 2 is contention). */
  load: { before: number; ready: number };
}

/** The figures as a table, one row per lab (pure). */
export function formatScale(rows: readonly ScaleRow[]): string[] {
  const phaseNames = [...new Set(rows.flatMap((r) => Object.keys(r.phases)))];
  const header = ['clients', ...phaseNames, 'RSS/agent mean', 'max', 'total', 'load before/ready'];
  const s = (x: number | undefined) => (x === undefined ? '-' : `${x.toFixed(1)}s`);
  const body = rows.map((r) => [
    String(r.clients),
    ...phaseNames.map((p) => s(r.phases[p])),
    `${r.rss.meanMiB.toFixed(1)} MiB`,
    `${r.rss.maxMiB.toFixed(1)} MiB`,
    `${(r.rss.totalMiB / 1024).toFixed(2)} GiB`,
    `${r.load.before.toFixed(1)}/${r.load.ready.toFixed(1)}`,
  ]);
  return table([header, ...body], { align: header.map((_, i) => (i === 0 ? 'left' : 'right')) });
}

const loadAverage = (): number => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

/** The VmRSS of the lab's agents, by the pids in its state file (an agent gone by now is left out). */
function agentRss(lab: string): number[] {
  const state = readState(lab);
  if (!state) throw new HarnessError(`lab ${lab} has no state file right after coming up`);
  return state.agents.flatMap((a) => {
    try {
      const kib = vmRssKiB(readFileSync(`/proc/${a.pid}/status`, 'utf8'));
      return kib === undefined ? [] : [kib];
    } catch {
      return [];
    }
  });
}

const quiet = () => undefined;

/**
 * Refuses a lab of that name that is there already and not a leftover of a killed run (pure but for
 * the liveness of its owner): another command's lab, or one `lab up` kept. Measured, it would be
 * "reused" in 0 s, figures without meaning; torn down after, it would be destroyed under its owner.
 */
export function refuseExistingLab(name: string, existing: StoredLab | undefined): void {
  if (existing === undefined || isLeftover(existing)) return;
  const whose = existing.persistent ? "kept up (lab up, or a run's --keep)" : `owned by a running command (process ${existing.owner.pid}, ${existing.phase})`;
  throw new UsageError(
    `lab ${name} exists already, ${whose}: bench measures labs it brings up itself, and does not tear down another's`,
    `give another --lab, or bring that one down first: nomad-lab lab down --lab ${name}`,
  );
}

/** Whether the lab is this process's to tear down: it brought it up, and did not keep it (as downOwned). */
export const ownedForTeardown = (state: StoredLab | undefined): boolean => state !== undefined && ownedByThisProcess(state) && !state.persistent;

/**
 * One lab per count, in turn: up, memory, down. A lab of that name there already is refused, and
 * teardown, whatever happened, takes only a lab this process brought up; a leak ends the bench.
 */
export async function runScale(counts: readonly number[], lab: string, signal: AbortSignal): Promise<ScaleRow[]> {
  const rows: ScaleRow[] = [];
  for (const clients of counts) {
    signal.throwIfAborted();
    const request = labRequest({ lab, clients: String(clients), servers: '1' });
    refuseExistingLab(request.name, readLab(request.name));
    const before = loadAverage();
    const started = Date.now();
    const phases: Record<string, number> = {};
    let rss: number[] = [];
    let ready = 0;
    try {
      const up = await upOwned(request, { signal, log: quiet });
      if (up.reused) {
        // Kept up by another command between the check above and now: not ours to measure or remove.
        await up.driver.close();
        refuseExistingLab(request.name, readLab(request.name));
        throw new UsageError(`lab ${request.name} was up already: bench --scale measures labs it brings up itself`, `give another --lab`);
      }
      phases['up'] = (Date.now() - started) / 1000;
      ready = loadAverage();
      await up.driver.close();
      for (const [phase, seconds] of up.phases) phases[phase] = seconds;
      rss = agentRss(request.name);
    } finally {
      // Another command's lab (one that made upOwned fail as in use, or one reused) stays as it is.
      if (ownedForTeardown(readLab(request.name))) {
        const t = Date.now();
        const down = await bringDown(request.name, { force: true, log: quiet });
        phases['down'] = (Date.now() - t) / 1000;
        if (!down.ok) throw new HarnessError(`lab ${request.name} (${clients} clients) leaked: ${down.lines.join('; ')}`);
      }
    }
    // The provider's phases first (network, ansible, agents started, clients ready), then up and down.
    const ordered = Object.fromEntries([
      ...Object.entries(phases).filter(([k]) => k !== 'up' && k !== 'down'),
      ['up', phases['up']!],
      ['down', phases['down']!],
    ]);
    const row: ScaleRow = { clients, servers: 1, phases: ordered, rss: rssFigures(rss), load: { before, ready } };
    rows.push(row);
    info(
      `${clients} clients: ${Object.entries(ordered)
        .map(([k, v]) => `${k} ${v.toFixed(1)}s`)
        .join(', ')}; RSS per agent mean ${row.rss.meanMiB} MiB, max ${row.rss.maxMiB} MiB; load ${before.toFixed(1)} -> ${ready.toFixed(1)}`,
    );
  }
  return rows;
}

/** `bench --scale`: runs the labs and prints the figures (a table, or JSON with --json). */
export async function benchScale(flags: ScaleBenchFlags, signal: AbortSignal): Promise<ExitCode> {
  const counts = parseClientCounts(flags.clients ?? DEFAULT_SCALE_CLIENTS);
  if (process.getuid?.() !== 0) throw new HarnessError('bench --scale needs root (it brings real labs up)');
  const rows = await runScale(counts, flags.lab ?? 'bench-scale', signal);
  if (flags.json) {
    out(JSON.stringify({ cores: availableParallelism(), rows }, null, 2));
    return ExitCode.pass;
  }
  out(`large labs (1 server; seconds per phase; VmRSS of the agents when all clients were ready):`);
  for (const line of formatScale(rows)) out(`  ${line}`);
  return ExitCode.pass;
}
