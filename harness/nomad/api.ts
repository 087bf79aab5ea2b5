// Nomad's HTTP API, as much of it as the harness reads. Every request is checked against a target
// guard first: lab addresses are routed nowhere but the lab bridge, and must stay that way.
import { HarnessError } from '../util/errors.ts';

/** Decides whether an address may be contacted; throws when not (see lab/guard.ts). */
export type TargetGuard = (ip: string) => void;

export interface NomadNodeStub {
  ID: string;
  Name: string;
  Status: string;
  Datacenter: string;
  Address: string;
  SchedulingEligibility: string;
  Version: string;
}

export interface AgentSelf {
  config: Record<string, unknown> & {
    Server?: Record<string, unknown>;
    Client?: Record<string, unknown>;
    Telemetry?: Record<string, unknown>;
    LogLevel?: string;
    NodeName?: string;
    Version?: { Version?: string };
  };
  member?: { Name?: string; Tags?: Record<string, string> };
  stats?: Record<string, unknown>;
}

export class NomadApi {
  constructor(
    /** host:port, e.g. 198.18.7.11:4646 */
    readonly address: string,
    private readonly guard: TargetGuard,
    /** Lab host name for messages. */
    readonly host: string,
  ) {}

  async get<T>(path: string, timeoutMs = 5000): Promise<T> {
    return this.request<T>('GET', path, undefined, timeoutMs);
  }

  async request<T>(method: string, path: string, body: unknown, timeoutMs = 5000): Promise<T> {
    const ip = this.address.split(':')[0] ?? '';
    this.guard(ip);
    const url = `http://${this.address}${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        signal: AbortSignal.timeout(timeoutMs),
        ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      });
    } catch (cause) {
      const why = cause instanceof Error ? (cause.cause instanceof Error ? cause.cause.message : cause.message) : String(cause);
      throw new HarnessError(`${method} ${url} failed: ${why}`, { host: this.host, cause });
    }
    const text = await response.text();
    if (!response.ok) {
      throw new HarnessError(`${method} ${url} answered ${response.status}: ${text.trim().slice(0, 500)}`, { host: this.host });
    }
    try {
      return (text ? JSON.parse(text) : undefined) as T;
    } catch (cause) {
      throw new HarnessError(`${method} ${url} answered with something that is not JSON: ${text.slice(0, 200)}`, { host: this.host, cause });
    }
  }

  leader(): Promise<string> {
    return this.get<string>('/v1/status/leader');
  }

  nodes(): Promise<NomadNodeStub[]> {
    return this.get<NomadNodeStub[]>('/v1/nodes');
  }

  agentSelf(): Promise<AgentSelf> {
    return this.get<AgentSelf>('/v1/agent/self');
  }

  jobs(): Promise<Array<{ ID: string; Namespace: string; Status: string }>> {
    return this.get('/v1/jobs?namespace=*');
  }

  stopJob(id: string, namespace: string): Promise<unknown> {
    return this.request('DELETE', `/v1/job/${encodeURIComponent(id)}?purge=true&namespace=${encodeURIComponent(namespace)}`, undefined);
  }

  /** Registers a job given as Nomad's JSON job structure (the `Job` of PUT /v1/jobs). */
  registerJob(job: object): Promise<{ EvalID: string; Warnings?: string }> {
    return this.request('POST', '/v1/jobs', { Job: job });
  }

  allocations(): Promise<Array<{ ID: string; ClientStatus: string; DesiredStatus: string; NodeName: string }>> {
    return this.get('/v1/allocations?namespace=*');
  }
}
