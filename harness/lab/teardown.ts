// Teardown of a netns lab, in the order that leaves nothing: jobs, agents, every process in the
// namespaces, mounts, alloc cgroups, namespaces, links, rules, the route, the directory. Each step
// runs even when an earlier one failed; failures are reported together at the end.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { labDir } from '../config/paths.ts';
import { run } from '../exec/local.ts';
import { allPids, cmdline, identify, isAlive } from '../exec/procs.ts';
import { HarnessError } from '../util/errors.ts';
import { poll } from '../util/poll.ts';
import { hostDirs } from './ansible.ts';
import { isOurAgent, readPidFile, signal, stopProcess } from './agents.ts';
import { mountsUnder, processesUnder } from './audit.ts';
import { allocCgroups, cgroupsOf, removeCgroups, removeNomadParents } from './cgroups.ts';
import { hostApi } from './guard.ts';
import { purgeJobs } from './cluster.ts';
import { deleteLink, deleteNetns, labResources, linkExists, removeTaggedRules, removeUnreachableRoute } from './network.ts';
import { listLabs, readState, removeLabDir, writeState, type LabState } from './store.ts';
import { servers, type LabPlan } from './topology.ts';

export interface TeardownStep {
  step: string;
  ok: boolean;
  detail: string;
}

type Log = (message: string) => void;

async function step(report: TeardownStep[], log: Log, lab: string, name: string, body: () => Promise<string | void>): Promise<void> {
  let s: TeardownStep;
  try {
    s = { step: name, ok: true, detail: (await body()) ?? '' };
  } catch (error) {
    s = { step: name, ok: false, detail: error instanceof Error ? error.message : String(error) };
  }
  report.push(s);
  log(`teardown ${lab}: ${s.step}: ${s.ok ? 'ok' : 'FAILED'}${s.detail ? ` (${s.detail})` : ''}`);
}

/** Stops and purges every job while a server still answers, so tasks end the way Nomad ends them. */
async function stopJobs(plan: LabPlan): Promise<string> {
  const server = servers(plan)[0];
  if (!server || !linkExists(plan.bridge)) return 'no bridge; skipped';
  const api = hostApi(plan, server);
  let jobs;
  try {
    jobs = await api.jobs();
  } catch {
    return 'no server answered; skipped';
  }
  await purgeJobs(api, jobs, 10_000);
  return `${jobs.length} job(s) stopped`;
}

async function stopAgents(plan: LabPlan, state: LabState | undefined, dir: string): Promise<string> {
  // Clients first: a client stopping after its servers would log reconnect noise for nothing.
  const ordered = [...plan.hosts].sort((a, b) => (a.role === b.role ? 0 : a.role === 'client' ? -1 : 1));
  const outcomes: string[] = [];
  await Promise.all(
    ordered.map(async (host) => {
      const dirs = hostDirs(dir, host);
      const fromState = state?.agents.find((a) => a.host === host.name);
      const fromFile = readPidFile(dirs.pidFile);
      const id = fromState ?? (fromFile ? { ...fromFile, configDir: dirs.configDir } : undefined);
      if (!id || !isOurAgent({ ...id, configDir: dirs.configDir })) return;
      outcomes.push(`${host.name} ${await stopProcess(id, 5000)}`);
    }),
  );
  return outcomes.join(', ') || 'none running';
}

/**
 * SIGCONT (a stopped process would not run its exit otherwise), then SIGKILL, until none is left.
 * The Nomad cgroups the processes were in are collected on the way, for removal afterwards.
 */
export async function killProcesses(netns: string[], dir: string | undefined, cgroups = new Set<string>()): Promise<string> {
  let killed = 0;
  // Each look kills what it finds; done when a look finds nothing.
  const killLive = async (): Promise<number[]> => {
    const pids = new Set<number>();
    for (const ns of netns) {
      const r = await run(['ip', 'netns', 'pids', ns], { check: false });
      for (const p of r.stdout.split('\n').filter(Boolean)) pids.add(Number(p));
    }
    // Tasks and `nomad executor` outlive their agent and, if a namespace was deleted by an earlier
    // killed teardown, can no longer be found by namespace: find them by their lab directory too.
    if (dir !== undefined) for (const p of processesUnder(dir)) pids.add(p.pid);
    pids.delete(process.pid);
    const live = [...pids].filter((pid) => identify(pid) !== undefined);
    for (const pid of live) {
      for (const c of cgroupsOf(pid)) cgroups.add(c);
      signal(pid, 'SIGCONT');
      signal(pid, 'SIGKILL');
      killed++;
    }
    return live;
  };
  await poll(killLive, (live) => live.length === 0, {
    what: 'the processes of the lab to die',
    timeoutMs: 15_000,
    intervalsMs: [200],
    // A look that fails (no `ip`) fails the step at once, not after 15 s of retries.
    fatal: () => true,
    describe: (live) => `alive ${live?.join(' ') ?? '?'}`,
  });
  return `${killed} killed`;
}

async function unmountAll(dir: string): Promise<string> {
  const mounts = (await mountsUnder(dir)).sort((a, b) => b.length - a.length);
  for (const m of mounts) {
    const r = await run(['umount', m], { check: false });
    if (r.exitCode !== 0) await run(['umount', '-l', m]);
  }
  return `${mounts.length} unmounted`;
}

/** Allocation ids the lab's clients ran, from their alloc directories. */
function labAllocIds(plan: LabPlan, dir: string): Set<string> {
  const ids = new Set<string>();
  for (const host of plan.hosts) {
    const allocDir = join(hostDirs(dir, host).dataDir, 'alloc');
    if (existsSync(allocDir)) for (const a of readdirSync(allocDir)) ids.add(a);
  }
  return ids;
}

function anyNomadAgentAlive(): boolean {
  return allPids().some((pid) => {
    const argv = cmdline(pid);
    return argv.includes('agent') && argv.some((a) => a.endsWith('/nomad') || a === 'nomad');
  });
}

async function removeAllocCgroups(plan: LabPlan, dir: string, ofKilled: Set<string>): Promise<string> {
  const mine = [...new Set([...allocCgroups(labAllocIds(plan, dir)), ...ofKilled])];
  const failed = removeCgroups(mine);
  let parents = '';
  if (!anyNomadAgentAlive()) {
    // No agent left on this machine: nothing else owns Nomad's parent cgroups either.
    const stray = removeCgroups(allocCgroups());
    const parentsFailed = removeNomadParents();
    parents = stray.length + parentsFailed.length > 0 ? `; could not remove ${[...stray, ...parentsFailed].join(' ')}` : '; parents removed';
  }
  if (failed.length > 0) throw new Error(`could not remove ${failed.join(' ')}`);
  return `${mine.length} removed${parents}`;
}

/**
 * Tears down lab `name` from its state file and from what is found on the machine under its id.
 * Idempotent: a lab that is already gone yields a report of no-ops.
 */
export async function teardownLab(name: string, planIfNoState?: LabPlan, log: Log = () => undefined): Promise<TeardownStep[]> {
  const state = readState(name);
  const plan = state?.plan ?? planIfNoState;
  const dir = labDir(name);
  const report: TeardownStep[] = [];
  if (state) {
    state.phase = 'destroying';
    // The destroying process now owns the lab: if it is killed too, the next run finishes the job.
    state.owner = identify(process.pid) ?? state.owner;
    state.persistent = false;
    writeState(state);
  }
  const id = plan?.id;
  const found = id === undefined ? undefined : (await labResources()).get(id);
  const netns = [...new Set([...(plan?.hosts.map((h) => h.netns) ?? []), ...(found?.netns ?? [])])];
  const links = [...new Set([...(found?.links ?? []), ...(plan ? [plan.bridge] : [])])];

  if (plan) await step(report, log, name, 'stop jobs', () => stopJobs(plan));
  if (plan) await step(report, log, name, 'stop agents', () => stopAgents(plan, state, dir));
  const cgroupsOfKilled = new Set<string>();
  await step(report, log, name, 'kill processes in the lab', () => killProcesses(netns, dir, cgroupsOfKilled));
  await step(report, log, name, 'unmount', () => unmountAll(dir));
  if (plan) await step(report, log, name, 'remove alloc cgroups', () => removeAllocCgroups(plan, dir, cgroupsOfKilled));
  await step(report, log, name, 'delete namespaces', async () => {
    for (const n of netns) await deleteNetns(n);
    return `${netns.length} deleted`;
  });
  await step(report, log, name, 'delete links', async () => {
    for (const l of links) await deleteLink(l);
    return `${links.length} deleted`;
  });
  if (id !== undefined) await step(report, log, name, 'remove iptables rules', async () => `${await removeTaggedRules(`nomad-lab:${id}`)} removed`);
  await step(report, log, name, 'remove lab route', async () => {
    const others = [...(await labResources()).keys()].filter((other) => other !== id);
    const otherStates = listLabs().filter((l) => l !== name);
    if (others.length > 0 || otherStates.length > 0) return 'kept: other labs exist';
    await removeUnreachableRoute();
    return 'removed';
  });
  const failed = report.filter((s) => !s.ok);
  if (failed.length === 0) {
    await step(report, log, name, 'remove lab directory', async () => {
      removeLabDir(name);
    });
  }
  const stillFailed = report.filter((s) => !s.ok);
  if (stillFailed.length > 0) {
    throw new HarnessError(`teardown of lab ${name} left work undone: ${stillFailed.map((s) => `${s.step}: ${s.detail}`).join('; ')}`, {
      hint: `run nomad-lab lab down --lab ${name} again; it resumes where this one stopped`,
    });
  }
  return report;
}

/** Whether a process from the state still runs (for "lab is in use" messages). */
export const ownerAlive = (state: LabState): boolean => isAlive(state.owner);
