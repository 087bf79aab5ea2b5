// Supervised Nomad agents of the netns lab: started inside their namespace with `nsenter --net=`
// (`ip netns exec` would remount /sys and hide the cgroup mounts from Nomad), one pid file each.
import { readFileSync, existsSync } from 'node:fs';
import { spawnDetached } from '../exec/local.ts';
import { cmdline, identify, isAlive, namedNetnsInode, netnsInode, type ProcessIdentity } from '../exec/procs.ts';
import { HarnessError } from '../util/errors.ts';
import { writeFileAtomic } from '../util/files.ts';
import { pause, pollUntil } from '../util/poll.ts';
import type { HostDirs } from './ansible.ts';
import type { AgentRecord } from './store.ts';
import type { HostPlan } from './topology.ts';

export function agentArgv(nomadPath: string, host: HostPlan, dirs: HostDirs): string[] {
  return ['nsenter', `--net=/run/netns/${host.netns}`, '--', nomadPath, 'agent', `-config=${dirs.configDir}`];
}

/**
 * Starts the agent and returns once it runs as itself. An agent that dies in its first seconds is
 * started once more (seen twice in ~60 runs here: an empty log, cause not yet known; the message
 * now says how it ended), then reported with how it ended and its log. One that is alive but not
 * the agent after 10 s is killed first, so that two attempts never hold the same ports.
 */
export async function startAgent(nomadPath: string, host: HostPlan, dirs: HostDirs, warn: (m: string) => void = () => undefined): Promise<AgentRecord> {
  const argv = agentArgv(nomadPath, host, dirs);
  for (let attempt = 1; ; attempt++) {
    // nsenter without --fork execs the agent in place: the pid it gets is the agent's own.
    const child = spawnDetached(argv, { logFile: dirs.logFile, cwd: dirs.root });
    const id = identify(child.pid);
    const record = { host: host.name, pid: child.pid, startTicks: id?.startTicks ?? 0, configDir: dirs.configDir, logFile: dirs.logFile };
    // Between fork and exec the child still shows the harness's own argv; until it shows the agent's,
    // an identity check would take it for a stranger (or for an agent that died).
    let died: string | undefined;
    if (id) {
      await pollUntil(() => isOurAgent(record) || !isAlive(id), { timeoutMs: 10_000, intervalsMs: [10] });
      if (!isOurAgent(record)) {
        if (isAlive(id)) {
          // Alive but not (yet) the agent: killed before the next attempt, or it may become the agent
          // later and the second one dies on the ports the first holds (fresh-machine check, 2026-11-29:
          // the second attempt exited 1 while the first one's startup filled the log).
          const seen = cmdline(id.pid).join(' ').slice(0, 120) || 'no command line';
          await stopProcess(id, 0);
          died = `not running as an agent after 10s (it showed: ${seen}); killed`;
        } else died = child.exit() ?? 'gone';
      }
    }
    if (id && died === undefined) {
      // Still alive a moment later: an agent that cannot start (bad config, port in use) exits at once.
      // A fixed delay, not a poll that would see it die: by the end of the delay its exit status is in, for the message.
      await pause(200);
      if (!isOurAgent(record)) died = child.exit() ?? 'gone';
    }
    if (!id) died = child.exit() ?? 'gone before it could be identified';
    if (died === undefined) {
      writeFileAtomic(dirs.pidFile, `${child.pid} ${record.startTicks}\n`);
      return record;
    }
    const message = `nomad agent died while starting (${died}); last lines of ${dirs.logFile}:\n    ${logTail(dirs.logFile) || '(empty)'}`;
    if (attempt >= 2) throw new HarnessError(message, { host: host.name, command: argv });
    warn(`${host.name}: ${message}; starting it once more`);
  }
}

/**
 * True only if the process is still the agent we started: same start time, a `nomad agent` whose
 * argv names this host's config directory. Pids are reused; a stale pid file must not kill a stranger.
 */
export function isOurAgent(record: Pick<AgentRecord, 'pid' | 'startTicks' | 'configDir'>): boolean {
  if (!isAlive(record)) return false;
  const argv = cmdline(record.pid);
  return argv.includes('agent') && argv.some((a) => a === `-config=${record.configDir}`);
}

export function readPidFile(file: string): ProcessIdentity | undefined {
  if (!existsSync(file)) return undefined;
  const [pid, ticks] = readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);
  return pid && ticks ? { pid, startTicks: ticks } : undefined;
}

/** Whether the agent runs in the namespace it was meant for (ip netns identify, by inode). */
export function agentNetnsMatches(record: AgentRecord, host: HostPlan): boolean {
  const want = namedNetnsInode(host.netns);
  return want !== undefined && netnsInode(record.pid) === want;
}

/** The last lines of an agent's log, for error messages. */
export function logTail(file: string, lines = 12): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n    ');
  } catch {
    return '(no log)';
  }
}

/** SIGTERM (Nomad shuts down gracefully), then SIGKILL after `graceMs`. Returns how it ended. */
export async function stopProcess(id: ProcessIdentity, graceMs: number): Promise<'gone' | 'terminated' | 'killed'> {
  if (!isAlive(id)) return 'gone';
  signal(id.pid, 'SIGTERM');
  if (await pollUntil(() => !isAlive(id), { timeoutMs: graceMs, intervalsMs: [100] })) return 'terminated';
  signal(id.pid, 'SIGKILL');
  // Up to 5 s for the kill to land; the caller learns only that it was sent.
  await pollUntil(() => !isAlive(id), { timeoutMs: 5000, intervalsMs: [100] });
  return 'killed';
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
