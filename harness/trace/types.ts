// The trace: everything a run saw and did, as plain serialisable events keyed by `kind`. Nomad's
// events keep their Raft index; every event carries `t`, milliseconds on the harness host's clock.
import type { Allocation } from '../nomad/api.ts';

export interface RunInfo {
  runId: string;
  scenario: string;
  startedAt: string;
  nomad: { path: string; version: string; source: string };
  lab: {
    provider: 'netns' | 'inventory' | 'vagrant';
    name: string;
    id: string;
    subnet: string;
    hosts: Array<{ name: string; role: string; ip: string; nodeId?: string }>;
    /** Nomad ACLs on (absent: off, or a trace from before it was recorded). */
    acl?: boolean;
    /** Mutual TLS on HTTP and RPC (absent: off, or a trace from before it was recorded). */
    tls?: boolean;
  };
  /** Server heartbeat timers in seconds, as /v1/agent/self reported them. */
  timers: { minHeartbeatTtl: number; heartbeatGrace: number };
  gitCommit: string | undefined;
  job: string;
}

export type TraceEvent =
  | { kind: 'run'; t: number; run: RunInfo }
  /** A harness action: step names are the scenario's ("register job", "partition"...). */
  | { kind: 'step'; t: number; step: string; phase: 'start' | 'end' | 'skipped'; detail?: string }
  /** A fault or intervention as applied: the exact argv run on the host, or what was done. */
  | {
      kind: 'fault';
      t: number;
      fault: FaultKind;
      host: string;
      argv: string[][];
      detail?: string;
      /** When its first command started (t: when it was in effect). */ began?: number;
      /** One step that acted on several hosts at once (a mass partition or heal): the same id on each host's event. */
      group?: string;
    }
  /**
   * A TCP connect from a lab host to a server's RPC port, right after a partition (must fail: the fault
   * took effect) or a heal (should succeed). `reached` is true when anything answered (also a refusal);
   * `broken` when the probe itself could not run, which proves nothing.
   */
  | { kind: 'reach'; t: number; host: string; target: string; after: 'partition' | 'heal'; reached: boolean; broken?: boolean; detail: string }
  /**
   * A link fault's loss probe: `sent` TCP connects from a host to a server's RPC port, each with a
   * timeout below the first SYN retransmission, right after a degrade (about `expectedRate` of them
   * must fail) or after its restore (nearly none may). `medianMs`: of the connects that completed.
   * `broken`: the probe itself could not run, which proves nothing.
   */
  | {
      kind: 'link-probe';
      t: number;
      host: string;
      target: string;
      after: 'degrade' | 'restore';
      sent: number;
      dropped: number;
      expectedRate: number;
      medianMs?: number | null;
      broken?: string;
    }
  /** `tc qdisc show` inside a host's namespace (or on an SSH host) at a moment of the run. */
  | { kind: 'qdisc'; t: number; host: string; when: string; listing: string }
  /** `iptables -S` inside a host's namespace at a moment of the run. */
  | { kind: 'iptables'; t: number; host: string; when: string; rules: string }
  /** One event of Nomad's event stream, payload trimmed to what checks and reports read. */
  | { kind: 'nomad'; t: number; index: number; topic: string; type: string; key: string; payload: Record<string, unknown> }
  /** A gauge value when it changed, from the leader's /v1/metrics (Prometheus format). */
  | { kind: 'metric'; t: number; host: string; name: string; labels: Record<string, string>; value: number }
  /** Reads of what the stream does not carry whole: full allocations at the end of the run. */
  | { kind: 'alloc-read'; t: number; alloc: Allocation }
  | { kind: 'job-read'; t: number; job: Record<string, unknown> }
  /** Node statuses read when recording starts (the stream only tells changes). */
  | { kind: 'node-read'; t: number; nodes: Array<{ ID: string; Name: string; Status: string; ModifyIndex: number }> }
  /**
   * The outcome of a wait: met, or timed out with what it saw last. A `precondition` wait (the job's
   * deployment settled before the first fault) that fails means the test did not happen; `source`
   * says where that precondition comes from.
   */
  | { kind: 'await'; t: number; what: string; ok: boolean; elapsedMs: number; deadlineMs: number; lastSeen?: string; precondition?: boolean; source?: string }
  /** The job's deployments as read from the API at a moment of the run (before each fault). */
  | { kind: 'deployment-read'; t: number; when: string; deployments: DeploymentSummary[] }
  /**
   * A command's final screen on a pseudo-terminal of a fixed size (`nomad alloc status <id>`), for
   * the reports: what a person at the terminal would have seen. Tokens travel in the environment,
   * never in `argv`.
   */
  | { kind: 'screen'; t: number; title: string; argv: string[]; text: string; exitCode: number }
  /**
   * Events the recorder knows it missed: Raft indexes fromIndex..toIndex of the stream's topics were
   * not delivered (a resumed stream that started past them, or final reads newer than anything
   * streamed). Checks that a missed event could change are unknown, not pass or fail.
   */
  | { kind: 'gap'; t: number; fromIndex: number; toIndex: number; detail: string }
  /** Event-stream connection changes and other facts worth keeping. */
  | { kind: 'note'; t: number; message: string }
  /**
   * Which server led, as a server answered /v1/status/leader (`address`, the leader's RPC address):
   * resolved for a step (`server: leader`), or a change the harness's API calls followed. `leader`
   * is undefined when no server named one. `previous`: the server followed before a change.
   */
  | { kind: 'leader'; t: number; leader: string | undefined; address: string; askedOf: string; why: string; previous?: string }
  /**
   * A restarted server, proven back or not: its agent answered (`answered`), and it rejoined (`ok`:
   * the leader's /v1/status/peers lists it and it names that leader itself).
   */
  | { kind: 'rejoin'; t: number; host: string; ok: boolean; answered: boolean; elapsedMs: number; detail: string };

/** What the trace keeps of a Nomad deployment. */
export interface DeploymentSummary {
  ID: string;
  JobVersion: number;
  Status: string;
  StatusDescription: string;
  CreateIndex: number;
  ModifyIndex: number;
}

export type TraceKind = TraceEvent['kind'];

/** A terminal capture: a command's final screen. */
export type ScreenEvent = Extract<TraceEvent, { kind: 'screen' }>;

export type FaultKind =
  'partition' | 'heal' | 'degrade' | 'restore' | 'kill-agent' | 'restart-agent' | 'pause-agent' | 'resume-agent' | 'write-file' | 'stop-alloc' | 'stop-job';

/** A trace event with its position in the file (1-based line), for reasons that point into it. */
export type Positioned<E extends TraceEvent = TraceEvent> = E & { line: number };
