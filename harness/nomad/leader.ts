// An API client that follows the cluster's leader: the recorder's metrics scrape (job_summary gauges
// are published by the leader only), its allocation reads and the steps' API calls go to whichever
// server leads now, not to the one that led when the run started. A killed leader must not end the
// recording, nor leave the gauges frozen at the dead server's last values.
import { NomadApi } from './api.ts';
import type { Headers, Response } from './http.ts';

/** A server the follower may talk to: its lab host name, its address, its API. */
export interface FollowedServer {
  name: string;
  ip: string;
  api: NomadApi;
}

/** A change of the server the follower talks to, for the trace. */
export interface LeaderChange {
  /** The lab host now led (undefined: no server named a leader it knows). */
  leader: string | undefined;
  previous: string;
  /** The answer of /v1/status/leader ("ip:port", the leader's RPC address). */
  address: string;
  askedOf: string;
  why: string;
}

/**
 * The lab server a /v1/status/leader answer names: the answer is the leader's RPC address
 * ("198.19.12.12:4647", IPv6 in brackets), "" while there is none. Pure.
 */
export function leaderHostOf(answer: string, servers: ReadonlyArray<{ name: string; ip: string }>): string | undefined {
  const m = /^\[?([^\]]*?)\]?:\d+$/.exec(answer.trim());
  if (!m || m[1] === '') return undefined;
  return servers.find((s) => s.ip === m[1])?.name;
}

/** One server's answer to "who leads": the lab host it names (undefined: none, or no answer), and what it said. */
export interface LeaderAnswer {
  server: string;
  leader: string | undefined;
  detail: string;
}

/**
 * The leader every answer names, or why there is none (pure). One server that names no leader, or
 * another one (a restarted server that bootstrapped afresh and leads a cluster of its own beside the
 * old one: a split brain), is enough: a leader that only some servers follow is not the cluster's.
 */
export function agreedLeader(answers: readonly LeaderAnswer[]): { leader: string } | { why: string } {
  if (answers.length === 0) return { why: 'no server was asked' };
  const silent = answers.filter((a) => a.leader === undefined);
  if (silent.length > 0) return { why: silent.map((a) => `${a.server}: ${a.detail}`).join('; ') };
  const named = [...new Set(answers.map((a) => a.leader!))];
  if (named.length > 1) {
    return { why: `the servers name different leaders (${answers.map((a) => `${a.server} follows ${a.leader}`).join(', ')})` };
  }
  return { leader: named[0]! };
}

/** Methods that only read: asked again of another server, they change nothing. */
/**
 * Methods that may be sent twice (RFC 9110 §9.2.2): reads, and PUT and DELETE, whose second copy
 * leaves the same state (a job deleted twice is deleted; the second may answer 404, which is an
 * answer, not a double action). POST (a job registered, an allocation stopped) is not.
 */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/** Connection errors that mean the request was never sent: nothing reached the server. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/** The `code` of an error or of any error in its chain of causes (undici puts it a level or two down). */
function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
  }
  return codes;
}

/**
 * Whether a failed request may be sent again to another server (pure). An idempotent one (a read, a
 * job deleted), always. A POST (a job registered, an allocation stopped) only when the connection
 * was refused or never made: an error after the request went out (a reset, a timeout, a 500 from a
 * leader losing its leadership) leaves unknown whether it committed, and a second copy could act twice.
 */
export function mayRetry(method: string, error: unknown): boolean {
  if (IDEMPOTENT.has(method.toUpperCase())) return true;
  return errorCodes(error).some((code) => NEVER_SENT.has(code));
}

/** How often, at most, the follower asks whether the leader is still the one it talks to. */
export const LEADER_RECHECK_MS = 1_000;

/**
 * A NomadApi whose requests go to the current leader. Before a request it asks its current server
 * who leads (at most once a second); a request that fails is retried once on the new leader when
 * asking the servers finds one, and only when sending it twice is safe (mayRetry: a read, or a
 * write that never left). Methods that open a stream or build other clients use the server of the
 * moment.
 */
export class LeaderApi extends NomadApi {
  private target: FollowedServer;
  private checkedAt = 0;
  private checking: Promise<boolean> | undefined;

  constructor(
    private readonly servers: readonly FollowedServer[],
    first: FollowedServer,
    private readonly onChange: (change: LeaderChange) => void,
    private readonly now: () => number = Date.now,
  ) {
    // The base class's own transport is never used: every request is delegated to a server's API.
    super(first.api.address, () => undefined, first.name);
    this.target = first;
    this.checkedAt = now();
  }

  /** The lab host the follower talks to now. */
  get current(): string {
    return this.target.name;
  }

  override get baseUrl(): string {
    return this.target.api.baseUrl;
  }

  override withToken(token: string): NomadApi {
    return this.target.api.withToken(token);
  }

  override request<T>(method: string, path: string, body: unknown, timeoutMs = 5000, onHeaders?: (headers: Headers) => void): Promise<T> {
    return this.follow(method, (api) => api.request<T>(method, path, body, timeoutMs, onHeaders));
  }

  override getIndexed<T>(path: string, timeoutMs = 5000): Promise<{ value: T; index: number }> {
    return this.follow('GET', (api) => api.getIndexed<T>(path, timeoutMs));
  }

  override metricsPrometheus(): Promise<string> {
    return this.follow('GET', (api) => api.metricsPrometheus());
  }

  override status(path: string): Promise<number> {
    return this.follow('GET', (api) => api.status(path));
  }

  override openStream(path: string, signal: AbortSignal): Promise<Response> {
    return this.follow('GET', (api) => api.openStream(path, signal));
  }

  /**
   * Asks the servers (the current one first) who leads, and moves to it. True when the server
   * talked to changed. Concurrent callers share one round of questions.
   */
  resolve(why: string): Promise<boolean> {
    this.checking ??= this.ask(why).finally(() => {
      this.checking = undefined;
      this.checkedAt = this.now();
    });
    return this.checking;
  }

  private async ask(why: string): Promise<boolean> {
    const order = [this.target, ...this.servers.filter((s) => s.name !== this.target.name)];
    for (const server of order) {
      const answer = await server.api.leader().catch(() => undefined);
      if (answer === undefined) continue;
      const name = leaderHostOf(answer, this.servers);
      const next = this.servers.find((s) => s.name === name);
      if (!next) continue;
      if (next.name === this.target.name) return false;
      const previous = this.target.name;
      this.target = next;
      // The base class's fields name the server in messages (the recorder's metric events, errors).
      Object.assign(this as unknown as { address: string; host: string }, { address: next.api.address, host: next.name });
      this.onChange({ leader: next.name, previous, address: answer, askedOf: server.name, why });
      return true;
    }
    return false;
  }

  private async follow<T>(method: string, call: (api: NomadApi) => Promise<T>): Promise<T> {
    if (this.now() - this.checkedAt >= LEADER_RECHECK_MS) await this.resolve('periodic check of who leads');
    try {
      return await call(this.target.api);
    } catch (error) {
      // A write that reached a dying leader may have committed there: sent again it would run twice.
      if (!mayRetry(method, error)) throw error;
      // Asked once more, now: a dead leader (or one that lost its leadership) is not the answer.
      if (!(await this.resolve(`${this.target.name} failed a request: ${error instanceof Error ? error.message : String(error)}`))) throw error;
      return call(this.target.api);
    }
  }
}
