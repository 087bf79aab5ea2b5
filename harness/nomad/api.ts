// Nomad's HTTP API, as much of it as the harness reads. Every request is checked against a target
// guard first: lab addresses are routed nowhere but the lab bridge, and must stay that way. On a lab
// with TLS the same requests go over HTTPS with the lab's CA and client certificate (http.ts).
import { HarnessError } from '../util/errors.ts';
import { httpFetch, type Headers, type Response, type TlsClientFiles } from './http.ts';

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

/** The parts of Nomad's JSON job the harness reads; the rest is carried along untouched. */
export interface NomadJob {
  ID: string;
  Name?: string;
  Version?: number;
  TaskGroups: Array<{
    Name: string;
    Count: number;
    MaxClientDisconnect?: number | null;
    Disconnect?: { LostAfter?: number; Replace?: boolean; Reconcile?: string; StopOnClientAfter?: number } | null;
    [key: string]: unknown;
  }>;
  [key: string]: unknown;
}

export interface TaskEvent {
  Type: string;
  Time: number;
  DisplayMessage?: string;
  Message?: string;
  /** e.g. exit_code on Terminated. */
  Details?: Record<string, string>;
}

export interface AllocStub {
  ID: string;
  Name: string;
  NodeID: string;
  NodeName: string;
  TaskGroup: string;
  JobID: string;
  JobVersion: number;
  ClientStatus: string;
  DesiredStatus: string;
  ClientDescription?: string;
  DesiredDescription?: string;
  NextAllocation?: string;
  PreviousAllocation?: string;
  FollowupEvalID?: string;
  CreateIndex: number;
  ModifyIndex: number;
  TaskStates?: Record<string, { State: string; Failed: boolean; Restarts: number; StartedAt?: string; Events?: TaskEvent[] }> | null;
}

export interface Allocation extends AllocStub {
  AllocStates?: Array<{ Field: number; Value: string; Time: string }> | null;
  [key: string]: unknown;
}

export class NomadApi {
  constructor(
    /** host:port, e.g. 198.18.7.11:4646 */
    readonly address: string,
    private readonly guard: TargetGuard,
    /** Lab host name for messages. */
    readonly host: string,
    /** ACL token, sent as the X-Nomad-Token header only (never in a URL or a command line). */
    private readonly token?: string,
    /** On a lab with TLS: HTTPS, the agent checked against this CA, this client certificate presented. */
    private readonly tls?: TlsClientFiles,
  ) {}

  /** The same host's API with another token (the management token right after the bootstrap). */
  withToken(token: string): NomadApi {
    return new NomadApi(this.address, this.guard, this.host, token, this.tls);
  }

  /** The API's base URL: https on a lab with TLS. */
  get baseUrl(): string {
    return `${this.tls ? 'https' : 'http'}://${this.address}`;
  }

  private headers(json: boolean): Record<string, string> {
    return { ...(json ? { 'content-type': 'application/json' } : {}), ...(this.token ? { 'x-nomad-token': this.token } : {}) };
  }

  async get<T>(path: string, timeoutMs = 5000): Promise<T> {
    return this.request<T>('GET', path, undefined, timeoutMs);
  }

  /** A GET that also returns the Raft index the answer reflects (X-Nomad-Index). */
  async getIndexed<T>(path: string, timeoutMs = 5000): Promise<{ value: T; index: number }> {
    let index = 0;
    const value = await this.request<T>('GET', path, undefined, timeoutMs, (h) => (index = Number(h.get('x-nomad-index') ?? 0)));
    return { value, index };
  }

  /** One HTTP exchange behind the guard, with the token header; a failure names the method and URL. */
  private async send(method: string, path: string, options: { body?: unknown; signal: AbortSignal }): Promise<{ url: string; response: Response }> {
    this.guard(this.address.split(':')[0] ?? '');
    const url = `${this.baseUrl}${path}`;
    try {
      const response = await httpFetch(
        url,
        {
          method,
          signal: options.signal,
          headers: this.headers(options.body !== undefined),
          ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        },
        this.tls,
      );
      return { url, response };
    } catch (cause) {
      const why = cause instanceof Error ? (cause.cause instanceof Error ? cause.cause.message : cause.message) : String(cause);
      throw new HarnessError(`${method} ${url} failed: ${why}`, { host: this.host, cause });
    }
  }

  async request<T>(method: string, path: string, body: unknown, timeoutMs = 5000, onHeaders?: (headers: Headers) => void): Promise<T> {
    const { url, response } = await this.send(method, path, { body, signal: AbortSignal.timeout(timeoutMs) });
    onHeaders?.(response.headers);
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

  /** Opens a streaming GET (the event stream); the caller reads the body. */
  async openStream(path: string, signal: AbortSignal): Promise<Response> {
    const { url, response } = await this.send('GET', path, { signal });
    if (!response.ok || !response.body) {
      throw new HarnessError(`GET ${url} answered ${response.status}: ${(await response.text()).slice(0, 300)}`, { host: this.host });
    }
    return response;
  }

  /** HCL to Nomad's JSON job (POST /v1/jobs/parse); Nomad's own message on a bad spec. */
  parseJob(hcl: string): Promise<NomadJob> {
    return this.request('POST', '/v1/jobs/parse', { JobHCL: hcl, Canonicalize: true });
  }

  readJob(id: string): Promise<NomadJob> {
    return this.get(`/v1/job/${encodeURIComponent(id)}`);
  }

  jobAllocations(id: string): Promise<AllocStub[]> {
    return this.get(`/v1/job/${encodeURIComponent(id)}/allocations?all=true`);
  }

  /** The job's deployments, newest first. */
  jobDeployments(
    id: string,
  ): Promise<Array<{ ID: string; JobVersion: number; Status: string; StatusDescription: string; CreateIndex: number; ModifyIndex: number }>> {
    return this.get(`/v1/job/${encodeURIComponent(id)}/deployments`);
  }

  allocation(id: string): Promise<Allocation> {
    return this.get(`/v1/allocation/${encodeURIComponent(id)}`);
  }

  jobSummary(id: string): Promise<{ Summary: Record<string, Record<string, number>> }> {
    return this.get(`/v1/job/${encodeURIComponent(id)}/summary`);
  }

  /** /v1/metrics in Prometheus text: live gauge values (the JSON form lags one in-memory interval). */
  async metricsPrometheus(): Promise<string> {
    const { url, response } = await this.send('GET', '/v1/metrics?format=prometheus', { signal: AbortSignal.timeout(5000) });
    if (!response.ok) throw new HarnessError(`GET ${url} answered ${response.status}`, { host: this.host });
    return response.text();
  }

  /** POST /v1/acl/bootstrap: the cluster's first management token (once per cluster). */
  aclBootstrap(): Promise<{ AccessorID: string; SecretID: string }> {
    // Not idempotent: an answer lost to a timeout cannot be asked for again, so wait long for it.
    return this.request('POST', '/v1/acl/bootstrap', undefined, 30_000);
  }

  putAclPolicy(name: string, rules: string, description: string): Promise<unknown> {
    return this.request('POST', `/v1/acl/policy/${encodeURIComponent(name)}`, { Name: name, Description: description, Rules: rules });
  }

  createAclToken(name: string, policies: string[]): Promise<{ AccessorID: string; SecretID: string }> {
    return this.request('POST', '/v1/acl/token', { Name: name, Type: 'client', Policies: policies });
  }

  /** The HTTP status of a GET, whatever it is (for checks that expect a refusal). */
  async status(path: string): Promise<number> {
    const { response } = await this.send('GET', path, { signal: AbortSignal.timeout(5000) });
    await response.body?.cancel();
    return response.status;
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

  allocations(): Promise<Array<{ ID: string; ClientStatus: string; DesiredStatus: string; NodeName: string; JobID: string }>> {
    return this.get('/v1/allocations?namespace=*');
  }
}
