// What a scenario run needs from a lab, whatever provides it: hosts, their APIs, commands on a host,
// the agent's life (kill, pause, restart), files in an allocation, agent logs. The netns driver is
// here; the SSH driver (inventory, vagrant) is in ssh-lab.ts.
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RunResult } from '../exec/local.ts';
import type { NomadApi } from '../nomad/api.ts';
import { agreedLeader, leaderHostOf, type LeaderAnswer } from '../nomad/leader.ts';
import { HarnessError } from '../util/errors.ts';
import { pollUntil } from '../util/poll.ts';
import { readToken, type TokenKind } from './acl.ts';
import { hostDirs } from './ansible.ts';
import { agentArgv, isOurAgent, signal as signalProcess, startAgent, stopProcess } from './agents.ts';
import { inHost } from '../faults/partition.ts';
import { hostApi } from './guard.ts';
import { labTls, type TlsFiles } from './tls.ts';
import { readState, writeState, type ProviderKind } from './store.ts';
import type { LabPlan, Role } from './topology.ts';

export type AgentAction = 'kill' | 'restart' | 'pause' | 'resume';

export interface AgentOutcome {
  argv: string[][];
  wasRunning: boolean;
  /** After a kill: false when the agent was still running 5 s later. */
  goneAfter?: boolean;
}

/** How long a killed agent may take to disappear before the kill counts as not having worked. */
export const KILL_GRACE_MS = 5_000;

/** How long the cleanup waits for servers it restarted to name a leader before it leaves the lab as it is. */
export const CLEANUP_LEADER_WAIT_MS = 30_000;

/**
 * After a cleanup restarted servers: waits (at most `timeoutMs`) until they all name one leader, so
 * that a lab left up for the next run of a batch is not handed over mid-election. Best effort, for
 * every provider: a lab still without a leader is said, not thrown (the next run's own waits judge it).
 * Returns whether they agreed.
 */
export async function awaitCleanupLeader(
  hosts: readonly LabHost[],
  restarted: readonly LabHost[],
  api: (host: LabHost) => Pick<NomadApi, 'leader'>,
  log: (line: string) => void,
  timeoutMs = CLEANUP_LEADER_WAIT_MS,
): Promise<boolean> {
  const servers = hosts.filter((h) => h.role === 'server');
  let last: ReturnType<typeof agreedLeader> = { why: 'not asked yet' };
  const started = Date.now();
  const known = await pollUntil(
    async () => {
      const answers = await Promise.all(
        restarted.map(async (h): Promise<LeaderAnswer> => {
          try {
            const answer = await api(h).leader();
            return { server: h.name, leader: leaderHostOf(answer, servers), detail: `answered ${JSON.stringify(answer)}` };
          } catch (error) {
            return { server: h.name, leader: undefined, detail: error instanceof Error ? error.message : String(error) };
          }
        }),
      );
      last = agreedLeader(answers);
      return 'leader' in last;
    },
    { timeoutMs, intervalsMs: [250, 500, 1000] },
  ).catch(() => false);
  const names = restarted.map((h) => h.name).join(', ');
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (known && 'leader' in last) log(`cleanup: restarted ${names}; leader ${last.leader} after ${seconds}s`);
  else log(`cleanup: restarted ${names}, but no leader within ${seconds}s (${'why' in last ? last.why : 'no answer'}); the lab may still be electing one`);
  return known && 'leader' in last;
}

/** A lab host as a scenario sees it. */
export interface LabHost {
  name: string;
  role: Role;
  index: number;
  datacenter: string;
  /** The address Nomad advertises (API, partitions). */
  ip: string;
}

export interface ExecOptions {
  check?: boolean;
  timeoutMs?: number;
  input?: string;
}

export interface LabDriver {
  readonly provider: ProviderKind;
  readonly name: string;
  readonly id: string;
  /** The netns lab's subnet; SSH labs have none. */
  readonly subnet: string | undefined;
  readonly hosts: LabHost[];
  readonly acl: boolean;
  /** The files an API client of the lab presents on a lab with TLS (the CA, the CLI's certificate and key, as paths); absent without TLS. */
  readonly tls?: TlsFiles | undefined;
  api(host: LabHost, token?: TokenKind | 'none'): NomadApi;
  /** The lab's ACL token of that kind (undefined on a lab without ACLs). */
  token(kind: TokenKind): string | undefined;
  /** Runs argv on the host (in its namespace, or over SSH). */
  exec(host: LabHost, argv: string[], options?: ExecOptions): Promise<RunResult>;
  /**
   * Acts on the host's agent; returns the commands it ran (none when the agent was not running),
   * and for a kill whether the agent is gone afterwards (the proof the fault took effect).
   */
  agent(host: LabHost, action: AgentAction): Promise<AgentOutcome>;
  /** Writes a file on the host; returns where. */
  writeAllocFile(host: LabHost, allocId: string, task: string, path: string, content: string): Promise<string>;
  /** Copies every agent's log into `dir` as <host>.log (best effort: the run's report must not fail on it). */
  collectLogs(dir: string): Promise<void>;
  /**
   * Continues every agent this driver paused and starts the ones it killed (the run's cleanup); best
   * effort, never throws for a lab that stays slow. `log` hears what is worth saying (no leader yet).
   */
  resumePaused(log?: (line: string) => void): Promise<void>;
  /** Ends connections; the lab itself stays as it is. */
  close(): Promise<void>;
}

/** The netns lab: commands through nsenter, agents supervised by pid, files on this machine. */
export class NetnsDriver implements LabDriver {
  readonly provider = 'netns' as const;
  private readonly paused = new Set<number>();
  /** Hosts whose agent this driver killed and has not restarted (the run's cleanup starts them). */
  private readonly killed = new Set<string>();

  constructor(private readonly plan: LabPlan) {}

  get name(): string {
    return this.plan.name;
  }
  get id(): string {
    return this.plan.id;
  }
  get subnet(): string {
    return this.plan.subnet;
  }
  get hosts(): LabHost[] {
    return this.plan.hosts;
  }
  get acl(): boolean {
    return this.plan.acl;
  }
  get tls(): TlsFiles | undefined {
    return labTls(this.plan);
  }

  private host(h: LabHost) {
    const found = this.plan.hosts.find((x) => x.name === h.name);
    if (!found) throw new HarnessError(`no lab host named ${h.name} in lab ${this.plan.name}`);
    return found;
  }

  api(host: LabHost, token: TokenKind | 'none' = 'harness'): NomadApi {
    return hostApi(this.plan, this.host(host), token);
  }

  token(kind: TokenKind): string | undefined {
    return readToken(this.plan, kind);
  }

  exec(host: LabHost, argv: string[], options: ExecOptions = {}): Promise<RunResult> {
    return inHost(this.host(host), argv, options);
  }

  async agent(h: LabHost, action: AgentAction): Promise<AgentOutcome> {
    const host = this.host(h);
    const state = readState(this.plan.name);
    const record = state?.agents.find((a) => a.host === host.name);
    if (!state || !record) throw new HarnessError(`no agent recorded for ${host.name}`);
    const alive = isOurAgent(record);
    let argv: string[][] = [];
    if (action === 'kill' && alive) {
      argv = [['kill', '-KILL', String(record.pid)]];
      signalProcess(record.pid, 'SIGKILL');
      this.killed.add(host.name);
      const gone = await pollUntil(() => !isOurAgent(record), { timeoutMs: KILL_GRACE_MS });
      return { argv, wasRunning: alive, goneAfter: gone };
    } else if (action === 'pause' && alive) {
      argv = [['kill', '-STOP', String(record.pid)]];
      signalProcess(record.pid, 'SIGSTOP');
      this.paused.add(record.pid);
    } else if (action === 'resume' && alive) {
      argv = [['kill', '-CONT', String(record.pid)]];
      signalProcess(record.pid, 'SIGCONT');
      this.paused.delete(record.pid);
    } else if (action === 'restart') {
      this.killed.delete(host.name);
      if (alive) await stopProcess(record, 5000);
      const fresh = await startAgent(state.nomad.path, host, hostDirs(state.dir, host));
      state.agents = state.agents.map((a) => (a.host === host.name ? fresh : a));
      writeState(state);
      argv = [agentArgv(state.nomad.path, host, hostDirs(state.dir, host))];
    }
    return { argv, wasRunning: alive };
  }

  async writeAllocFile(h: LabHost, allocId: string, task: string, path: string, content: string): Promise<string> {
    const state = readState(this.plan.name);
    if (!state) throw new HarnessError(`lab ${this.plan.name} has no state`);
    const file = join(hostDirs(state.dir, this.host(h)).dataDir, 'alloc', allocId, task, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
    return file;
  }

  async collectLogs(dir: string): Promise<void> {
    const state = readState(this.plan.name);
    if (!state) return;
    mkdirSync(dir, { recursive: true });
    for (const h of this.plan.hosts) {
      const src = hostDirs(state.dir, h).logFile;
      if (existsSync(src)) copyFileSync(src, join(dir, `${h.name}.log`));
    }
  }

  async resumePaused(log: (line: string) => void = () => undefined): Promise<void> {
    for (const pid of this.paused) signalProcess(pid, 'SIGCONT');
    this.paused.clear();
    // A run that stopped between a kill and its restart (a killed server above all) must not leave
    // the lab short of an agent for the next run on it: start the ones still gone, as the SSH driver does.
    const restarted: LabHost[] = [];
    for (const name of this.killed) {
      const host = this.plan.hosts.find((h) => h.name === name);
      const record = readState(this.plan.name)?.agents.find((a) => a.host === name);
      if (host && record && !isOurAgent(record)) {
        await this.agent(host, 'restart');
        if (host.role === 'server') restarted.push(host);
      }
    }
    this.killed.clear();
    if (restarted.length > 0) await awaitCleanupLeader(this.plan.hosts, restarted, (h) => this.api(h), log);
  }

  async close(): Promise<void> {}
}
