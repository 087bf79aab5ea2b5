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
    }
  /**
   * A TCP connect from a lab host to a server's RPC port, right after a partition (must fail: the fault
   * took effect) or a heal (should succeed). `reached` is true when anything answered (also a refusal);
   * `broken` when the probe itself could not run, which proves nothing.
   */
  | { kind: 'reach'; t: number; host: string; target: string; after: 'partition' | 'heal'; reached: boolean; broken?: boolean; detail: string }
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
  | { kind: 'note'; t: number; message: string };

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

export type FaultKind = 'partition' | 'heal' | 'kill-agent' | 'restart-agent' | 'pause-agent' | 'resume-agent' | 'write-file' | 'stop-alloc' | 'stop-job';

/** A trace event with its position in the file (1-based line), for reasons that point into it. */
export type Positioned<E extends TraceEvent = TraceEvent> = E & { line: number };
