// Records a run: Nomad's event stream (Node, and the job's Allocation, Evaluation, Job and Deployment topics),
// the leader's job_summary gauges when they change, and full allocation reads at the end. Keeps a
// live view that the runner's waits read, so nothing polls what the stream already tells.
import type { NomadApi, TaskEvent } from '../nomad/api.ts';
import { EventStream } from '../nomad/events.ts';
import { parsePrometheus } from '../nomad/prometheus.ts';
import { pause, pollUntil } from '../util/poll.ts';
import { assignRoles, roleName } from './roles.ts';
import { trimPayload, type TraceWriter } from './writer.ts';

export interface LiveAlloc {
  id: string;
  name: string;
  node: string;
  client: string;
  desired: string;
  previous: string | undefined;
  /** CreateIndex, or the Raft index of the event it was first seen in: the order roles count in. */
  createIndex: number;
  jobVersion: number;
  taskEvents: string[];
}

const SUMMARY_PREFIX = 'nomad_nomad_job_summary_';

export class Recorder {
  readonly allocs = new Map<string, LiveAlloc>();
  readonly nodes = new Map<string, string>();
  private readonly series = new Map<string, { name: string; labels: Record<string, string>; value: number }>();
  readonly evals = new Map<string, { status: string; triggeredBy: string }>();
  /** The job's deployments by ID, as the stream last told them. */
  readonly deployments = new Map<string, { jobVersion: number; status: string; description: string; createIndex: number }>();
  /** Nomad-provider service instances of this job: service name -> registration ID -> instance. */
  readonly services = new Map<string, Map<string, { allocId: string; address: string; port: number }>>();
  /** When an allocation of the job was first seen unknown (harness clock). */
  firstUnknownAt: number | undefined;
  private readonly stream: EventStream;
  private scraping: Promise<void> | undefined;
  /** Aborted by stop(): ends the scrape loop, and its pause between scrapes at once. */
  private readonly stopping = new AbortController();
  /** The Raft index of the last stream event seen for each allocation of the job. */
  private readonly lastEventIndex = new Map<string, number>();
  private readonly resumeChecks: Array<Promise<void>> = [];
  /** The server the last metrics scrape read (the leader then). */
  private scrapedFrom: string | undefined;
  /** Roles by allocation ID, recomputed when an allocation appears. */
  private roles: Map<string, string> | undefined;

  constructor(
    private readonly trace: TraceWriter,
    private readonly leader: NomadApi,
    private readonly job: string,
    private readonly now: () => number = Date.now,
    /** The other servers: the stream is on the first of them, and resumes on the next when a connection is lost. */
    others: readonly NomadApi[] = [],
  ) {
    // Any server serves the stream from its own event broker (nomad/event_endpoint.go, 1.6.0): a
    // follower first, so that a step killing the leader does not cut the stream (a resumed stream
    // cannot rule out events it missed: a gap, and the verdict unknown). The leader after the others.
    this.stream = new EventStream([...others, leader], ['Node', `Allocation:${job}`, `Evaluation:${job}`, `Job:${job}`, `Deployment:${job}`, 'Service'], {
      onEvents: (index, events) => {
        const t = this.now();
        for (const e of events) {
          this.trace.add({ kind: 'nomad', t, index, topic: e.Topic, type: e.Type, key: e.Key, payload: trimPayload(e.Topic, e.Payload) });
          this.observe(e.Topic, e.Type, e.Payload, index);
        }
      },
      onStatus: (message) => this.trace.add({ kind: 'note', t: this.now(), message }),
      onResume: (askedFrom, firstIndex) => {
        this.resumeChecks.push(this.checkResume(askedFrom, firstIndex));
      },
    });
  }

  /** Reads the nodes' statuses once (the stream only tells changes), then starts streaming. */
  async start(): Promise<void> {
    const { value: nodes, index } = await this.leader.getIndexed<Array<{ ID: string; Name: string; Status: string; ModifyIndex: number }>>('/v1/nodes');
    this.trace.add({ kind: 'node-read', t: this.now(), nodes: nodes.map((n) => ({ ID: n.ID, Name: n.Name, Status: n.Status, ModifyIndex: n.ModifyIndex })) });
    for (const n of nodes) this.nodes.set(n.Name, n.Status);
    // From the state just read on: no replay of what earlier runs on this lab did.
    this.stream.start(index);
    // A loop that fails (a full disk under the trace) must not crash the run past its cleanup.
    this.scraping = this.scrapeLoop().catch(() => undefined);
  }

  private observe(topic: string, type: string, payload: Record<string, unknown>, index: number): void {
    if (topic === 'Node') {
      const n = payload['Node'] as { Name?: string; Status?: string } | undefined;
      if (n?.Name && n.Status) this.nodes.set(n.Name, n.Status);
    } else if (topic === 'Service') {
      const s = payload['Service'] as { ID?: string; ServiceName?: string; JobID?: string; AllocID?: string; Address?: string; Port?: number } | undefined;
      if (!s?.ServiceName || !s.AllocID || s.JobID !== this.job) return;
      const instances = this.services.get(s.ServiceName) ?? new Map<string, { allocId: string; address: string; port: number }>();
      const key = s.ID ?? s.AllocID;
      // Only a registration adds; a removal done inside another write (the servers dropping a terminal
      // allocation's services) carries that write's type, so every other type removes.
      if (type === 'ServiceRegistration') instances.set(key, { allocId: s.AllocID, address: s.Address ?? '', port: s.Port ?? 0 });
      else instances.delete(key);
      this.services.set(s.ServiceName, instances);
    } else if (topic === 'Deployment') {
      const d = payload['Deployment'] as
        { ID?: string; JobID?: string; JobVersion?: number; Status?: string; StatusDescription?: string; CreateIndex?: number } | undefined;
      if (!d?.ID || d.JobID !== this.job) return;
      this.deployments.set(d.ID, {
        jobVersion: d.JobVersion ?? -1,
        status: d.Status ?? '',
        description: d.StatusDescription ?? '',
        createIndex: d.CreateIndex ?? index,
      });
    } else if (topic === 'Evaluation') {
      const e = payload['Evaluation'] as { ID?: string; Status?: string; TriggeredBy?: string } | undefined;
      if (e?.ID) this.evals.set(e.ID, { status: e.Status ?? '', triggeredBy: e.TriggeredBy ?? '' });
    } else if (topic === 'Allocation') {
      const a = payload['Allocation'] as Record<string, unknown> | undefined;
      if (!a || typeof a['ID'] !== 'string') return;
      if (a['ClientStatus'] === 'unknown' && this.firstUnknownAt === undefined) this.firstUnknownAt = this.now();
      // A terminal allocation serves nothing, whatever the service events said last.
      if (['complete', 'failed', 'lost'].includes(String(a['ClientStatus']))) {
        for (const instances of this.services.values()) for (const [key, i] of instances) if (i.allocId === a['ID']) instances.delete(key);
      }
      this.lastEventIndex.set(a['ID'], index);
      const taskStates = (a['TaskStates'] ?? {}) as Record<string, { Events?: TaskEvent[] }>;
      const prev = this.allocs.get(a['ID']);
      if (!prev) {
        this.readVersion(a['ID']);
        this.roles = undefined;
      }
      this.allocs.set(a['ID'], {
        id: a['ID'],
        name: String(a['Name'] ?? prev?.name ?? ''),
        node: String(a['NodeName'] ?? prev?.node ?? ''),
        client: String(a['ClientStatus'] ?? prev?.client ?? ''),
        desired: String(a['DesiredStatus'] ?? prev?.desired ?? ''),
        previous: (a['PreviousAllocation'] as string | undefined) || prev?.previous,
        createIndex: prev?.createIndex ?? (typeof a['CreateIndex'] === 'number' && a['CreateIndex'] > 0 ? a['CreateIndex'] : index),
        jobVersion: prev?.jobVersion ?? -1,
        taskEvents: Object.values(taskStates).flatMap((s) => (s.Events ?? []).map((e) => e.Type)),
      });
    }
  }

  /**
   * The event stream strips an allocation's Job, and the allocation itself has no JobVersion (only
   * list stubs do): read each new allocation once to learn the job version it runs.
   */
  private readVersion(id: string): void {
    void this.leader.allocation(id).then(
      (full) => {
        const version = (full as { Job?: { Version?: number } }).Job?.Version;
        const live = this.allocs.get(id);
        if (live && typeof version === 'number') live.jobVersion = version;
      },
      () => undefined,
    );
  }

  /** Allocations running (and meant to run) at a job version. */
  runningAtVersion(version: number): number {
    return [...this.allocs.values()].filter((a) => a.client === 'running' && a.desired === 'run' && a.jobVersion === version).length;
  }

  /** Roles of the allocations registered under a service, sorted. */
  serviceRoles(name: string): string[] {
    const allocs = new Set([...(this.services.get(name)?.values() ?? [])].map((i) => i.allocId));
    return [...allocs].map((id) => this.role(id) ?? id.slice(0, 8)).sort();
  }

  /** Where a role's instance of a service listens, as registered. */
  serviceAddress(name: string, role: string): { address: string; port: number } | undefined {
    const found = [...(this.services.get(name)?.values() ?? [])].find((i) => this.role(i.allocId) === role);
    return found === undefined ? undefined : { address: found.address, port: found.port };
  }

  /** The job's newest deployment (by CreateIndex), if the stream told of one. */
  latestDeployment(): { id: string; jobVersion: number; status: string; description: string } | undefined {
    const newest = [...this.deployments.entries()].sort(([, a], [, b]) => b.createIndex - a.createIndex)[0];
    return newest === undefined ? undefined : { id: newest[0], ...newest[1] };
  }

  hasBlockedEval(): boolean {
    return [...this.evals.values()].some((e) => e.status === 'blocked');
  }

  /** Role of a live allocation (roles.ts: `<group>[<index>]#<n>`, n in creation order). */
  role(id: string): string | undefined {
    this.roles ??= new Map(
      [...assignRoles([...this.allocs.values()].map((a) => ({ id: a.id, name: a.name, createIndex: a.createIndex })))].map(([k, v]) => [k, roleName(v)]),
    );
    return this.roles.get(id);
  }

  byRole(role: string): LiveAlloc | undefined {
    for (const id of this.allocs.keys()) if (this.role(id) === role) return this.allocs.get(id);
    return undefined;
  }

  /** Latest value of the series `name` whose labels include `labels`. */
  metric(name: string, labels: Record<string, string>): number | undefined {
    const found = [...this.series.values()].find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    return found?.value;
  }

  /** One line for progress and timeout messages. */
  describe(): string {
    const allocs = [...this.allocs.keys()].map(
      (id) => `${this.role(id) ?? id.slice(0, 8)}@${this.allocs.get(id)!.node}=${this.allocs.get(id)!.client}/${this.allocs.get(id)!.desired}`,
    );
    const nodes = [...this.nodes].map(([h, s]) => `${h}=${s}`);
    const services = [...this.services.keys()].map((s) => `${s}=[${this.serviceRoles(s).join(',')}]`);
    const d = this.latestDeployment();
    const deployment =
      d === undefined ? '' : `; deployment ${d.id.slice(0, 8)} (job v${d.jobVersion}) ${d.status}${d.description ? ` "${d.description}"` : ''}`;
    return `allocs ${allocs.join(' ') || 'none'}; nodes ${nodes.join(' ') || 'none'}${services.length > 0 ? `; services ${services.join(' ')}` : ''}${deployment}`;
  }

  private async scrapeLoop(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      try {
        await this.scrape();
      } catch (error) {
        this.trace.add({
          kind: 'note',
          t: this.now(),
          message: `metrics scrape of ${this.leader.host} failed: ${error instanceof Error ? error.message : String(error)}`,
        });
      }
      await pause(500, this.stopping.signal);
    }
  }

  /**
   * After a failed scrape the values held may be a dead leader's (every server killed, then started
   * again: the same host may lead, afresh): forget them, so the next scrape records what the leader
   * says then, and a metric condition holds only on a value read since.
   */
  private forgetGauges(): void {
    if (this.series.size === 0) return;
    this.trace.add({ kind: 'note', t: this.now(), message: `job_summary gauges forgotten: the scrape of ${this.leader.host} failed` });
    this.series.clear();
  }

  /** job_summary gauges of this job from the leader, recorded when a value changes. */
  async scrape(): Promise<void> {
    const t = this.now();
    const text = await this.leader.metricsPrometheus().catch((error: unknown) => {
      this.forgetGauges();
      throw error;
    });
    // A new leader publishes the gauges afresh (nomad/leader.go: the leader only): forget the old
    // leader's values, so the live view and the trace show what the new one says, from its first scrape.
    if (this.scrapedFrom !== undefined && this.scrapedFrom !== this.leader.host) {
      this.trace.add({ kind: 'note', t, message: `metrics now scraped from ${this.leader.host} (the leader), no longer from ${this.scrapedFrom}` });
      this.series.clear();
    }
    this.scrapedFrom = this.leader.host;
    for (const s of parsePrometheus(text)) {
      if (!s.name.startsWith(SUMMARY_PREFIX) || s.labels['job'] !== this.job) continue;
      const name = `nomad.nomad.job_summary.${s.name.slice(SUMMARY_PREFIX.length)}`;
      const key = metricKey(name, s.labels);
      if (this.series.get(key)?.value === s.value) continue;
      this.series.set(key, { name, labels: s.labels, value: s.value });
      this.trace.add({ kind: 'metric', t, host: this.leader.host, name, labels: s.labels, value: s.value });
    }
  }

  /**
   * A resumed stream started past the index it asked for. The indexes between may hold nothing of
   * this job or the nodes, or events the server's buffer no longer had. A read of the current state
   * (from the server the stream is on now) rules that out only when nothing of the job and no node
   * changed since the index asked for: a change since then may have hidden another in the window.
   * Otherwise, and when the read fails, the window is a gap.
   */
  private async checkResume(askedFrom: number, firstIndex: number): Promise<void> {
    const window = `asked for index ${askedFrom}, the stream resumed at ${firstIndex}`;
    const gap = (detail: string) =>
      this.trace.add({ kind: 'gap', t: this.now(), fromIndex: askedFrom, toIndex: firstIndex - 1, detail: `${window}; ${detail}` });
    const server = this.stream.server;
    let allocs, nodes;
    try {
      [allocs, nodes] = await Promise.all([server.jobAllocations(this.job), server.getIndexed<Array<{ Name: string; ModifyIndex: number }>>('/v1/nodes')]);
    } catch (error) {
      gap(`could not read ${server.host} to rule out missed events: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    const changed = [
      ...allocs
        .filter((a) => a.ModifyIndex >= askedFrom || a.CreateIndex >= askedFrom)
        .map((a) => `allocation ${a.ID.slice(0, 8)} (${a.Name}) at index ${a.ModifyIndex}`),
      ...nodes.value.filter((n) => n.ModifyIndex >= askedFrom).map((n) => `node ${n.Name} at index ${n.ModifyIndex}`),
    ];
    if (changed.length > 0) gap(`changed since: ${changed.join(', ')}; a change in the window cannot be ruled out`);
    else
      this.trace.add({
        kind: 'note',
        t: this.now(),
        message: `event stream resumed: ${window}; nothing of the job and no node changed since (nothing missed)`,
      });
  }

  /**
   * Stops recording, after reading in full every allocation of the job (AllocStates, task events),
   * and after the stream caught up with those reads: an allocation whose read is newer than its last
   * streamed event had changes the trace never saw, which is recorded as a gap.
   */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.scraping?.catch(() => undefined);
    try {
      await this.scrape();
      // From the server the stream is on: the leader, unless its connection was lost.
      const server = this.stream.server;
      const stubs = await server.jobAllocations(this.job);
      const reads = [];
      for (const stub of stubs) {
        const alloc = await server.allocation(stub.ID);
        reads.push(alloc);
        this.trace.add({ kind: 'alloc-read', t: this.now(), alloc });
      }
      const newest = Math.max(0, ...reads.map((a) => a.ModifyIndex));
      // Up to 5 s for the stream to catch up with the reads; one that does not is a gap, found below.
      await pollUntil(() => this.stream.index >= newest, { timeoutMs: 5_000, intervalsMs: [100] });
      await Promise.all(this.resumeChecks);
      const behind = reads.filter((a) => (this.lastEventIndex.get(a.ID) ?? 0) < a.ModifyIndex);
      if (behind.length > 0) {
        const from = Math.min(...behind.map((a) => (this.lastEventIndex.get(a.ID) ?? a.CreateIndex - 1) + 1));
        const to = Math.max(...behind.map((a) => a.ModifyIndex));
        const what = behind.map(
          (a) => `${a.ID.slice(0, 8)} read at ModifyIndex ${a.ModifyIndex}, last streamed at ${this.lastEventIndex.get(a.ID) ?? 'never'}`,
        );
        this.trace.add({
          kind: 'gap',
          t: this.now(),
          fromIndex: from,
          toIndex: to,
          detail: `final reads newer than the stream (stream at index ${this.stream.index}): ${what.join('; ')}`,
        });
      }
    } catch (error) {
      this.trace.add({ kind: 'note', t: this.now(), message: `final reads failed: ${error instanceof Error ? error.message : String(error)}` });
    }
    await this.stream.stop();
  }
}

export function metricKey(name: string, labels: Record<string, string>): string {
  return `${name}${JSON.stringify(Object.entries(labels).sort())}`;
}
