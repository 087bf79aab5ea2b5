// What a scenario is (the data of a scenarios/*.yaml file), and what its steps get to work with.
import type { Expectations } from '../check/expectations.ts';
import type { AgentAction, LabHost } from '../lab/driver.ts';
import type { PartitionMode } from '../faults/partition.ts';
import type { TargetFields } from './targets.ts';
import type { ServerAgentStep, ServerSet } from '../faults/servers.ts';
import type { LinkProfile } from '../faults/profiles.ts';
import type { NomadApi, NomadJob } from '../nomad/api.ts';
import type { Recorder } from '../trace/recorder.ts';
import type { TraceWriter } from '../trace/writer.ts';

/** A condition on the recorder's live view; every field given must hold. */
export interface Condition {
  alloc?: string;
  client?: string;
  desired?: string;
  taskEvent?: string;
  clientOf?: string;
  status?: string;
  metric?: string;
  labels?: Record<string, string>;
  value?: number;
  blockedEval?: boolean;
  /** With version: this many allocations running (desired run) at that job version. */
  running?: number;
  version?: number;
  /** Every node the run's latest partition cut off has this status (a mass cut: `clients: 25`). */
  cutNodes?: string;
  /** With instances: exactly these allocation roles are registered under this Nomad service. */
  service?: string;
  instances?: string[];
}

/** A step; `nomad` (a semver range) runs it only on those releases. */
export type Step = StepAction & { nomad?: string };

type StepAction =
  | { do: 'run_job'; file?: string }
  | { do: 'update_job'; file: string }
  | { do: 'await'; for: string; all: Condition[]; within: string }
  /** `mode`: which packets the client drops (input: from the servers, the seed's rule and the default). */
  /** Targets (targets.ts): `clientOf` a role, `host`, `hosts`, or `clients: N`; several hosts are cut at once. */
  /** `failoverWithin` (with `from`): the client must fail over to a server it still reaches that soon. */
  | ({ do: 'partition'; mode?: PartitionMode; from?: ServerSet; failoverWithin?: string } & TargetFields)
  /** The same target form as the partition heals exactly the hosts it cut. */
  | ({ do: 'heal' } & TargetFields)
  /**
   * Applies a link profile (profiles/<profile>.yaml: loss, delay, or a flap) to the target's link to
   * the servers. `for`: restore it after that long (the step waits); without, a `restore` step does.
   * A flap runs its whole schedule within the step and restores the link itself.
   */
  | ({ do: 'degrade'; profile: string; for?: string } & TargetFields)
  /** Removes what the `degrade` of the same target applied. */
  | ({ do: 'restore' } & TargetFields)
  | { do: 'kill_agent' | 'restart_agent' | 'pause_agent' | 'resume_agent'; clientOf: string }
  /** The same on servers (faults/servers.ts): `server: leader | killed | paused | "server[N]"`, or `servers: all`. */
  | ServerAgentStep
  | { do: 'write_file'; alloc: string; task: string; path: string; content?: string }
  | { do: 'wait_until'; deadline: 'lost_after_expired'; margin?: string }
  | { do: 'stop_alloc'; alloc: string }
  | { do: 'stop_job' }
  /** For what the servers cannot see (a task failing on a partitioned client): say why. */
  | { do: 'sleep'; duration: string; why: string }
  /** GET an allocation's service instance from inside a client's namespace; the body must contain `expect`. */
  | { do: 'http_probe'; for: string; from: { clientOf: string }; service: string; alloc: string; path?: string; expect: string; within: string }
  /** The API refuses these reads without a token (a lab with ACLs). */
  | { do: 'refused_without_token'; paths: string[] }
  /** `nomad alloc status <id>` of an allocation role on a fixed-size terminal, kept for the reports. */
  | { do: 'capture'; alloc: string; title?: string };

export interface Scenario {
  name: string;
  summary: string;
  source?: string;
  /** The Nomad releases the scenario applies to (semver range); other releases: not applicable. */
  nomad?: string;
  /**
   * Inject the first fault while the job's deployment is still active. By default the first fault
   * waits until it is successful, as the seed's `nomad job run` does before the cut.
   */
  faultsDuringDeployment?: boolean;
  lab: { servers: number; clients: number; clientDatacenters?: string[]; acl?: boolean; tls?: boolean };
  /** Job spec under jobs/ and the job's ID. */
  job: { file: string; id: string };
  /** Roles the phase timings speak of. */
  roles: { original: string; replacement: string; others: string[] };
  steps: Step[];
  expect: Expectations;
  /** The file it was loaded from. */
  file?: string;
}

export type { AgentAction };

export interface ScenarioContext {
  /** The lab's hosts (netns namespaces, or hosts reached over SSH). */
  hosts: LabHost[];
  /** The job's name in this run (the scenario's, or a fresh one on a shared lab). */
  jobId: string;
  leader: NomadApi;
  recorder: Recorder;
  trace: TraceWriter;
  nomadVersion: string;
  signal: AbortSignal;
  log: (message: string) => void;
  /** Runs `body` as a named step, recorded in the trace with its start and end. */
  step<T>(name: string, body: () => Promise<T>): Promise<T>;
  /**
   * Waits for `condition` on the recorder's live view; records the outcome; false on timeout.
   * `hopeless` returns why the condition can no longer come true (an allocation already terminal),
   * which ends the wait at once instead of at its deadline.
   */
  await(what: string, condition: (r: Recorder) => boolean, timeoutMs: number, hopeless?: (r: Recorder) => string | undefined): Promise<boolean>;
  /** Registers a job from jobs/<file>, rendered for the Nomad under test; returns the job as Nomad read it back. */
  registerJob(file: string): Promise<NomadJob>;
  /**
   * Before the first fault: waits until the job's deployment for its current version is successful
   * (recorded as a precondition wait); true at once for a job that gets no deployment. False when it
   * failed, was cancelled, or did not succeed in time.
   */
  awaitDeployment(job: NomadJob): Promise<boolean>;
  partition(host: LabHost, mode?: PartitionMode): Promise<void>;
  heal(host: LabHost): Promise<void>;
  /** The names of the hosts a partition of this run holds cut off now (full or partial, not yet healed). */
  partitionedNow(): string[];
  /** Cuts a client off from some servers only (`from`); its heal removes exactly those rules. */
  partitionFrom(host: LabHost, from: ServerSet, mode?: PartitionMode, failoverWithinMs?: number): Promise<void>;
  /** Kills, restarts, pauses or resumes the servers a step names (the leader resolved when it runs). */
  serverAgent(step: ServerAgentStep): Promise<void>;
  /**
   * Cuts several hosts off at once (one fault event per host, sharing a group id), proves each cut,
   * and heals them all at once (a reconnect storm). One host: the same as partition/heal.
   */
  partitionMany(hosts: LabHost[], mode?: PartitionMode): Promise<void>;
  healMany(hosts: LabHost[]): Promise<void>;
  /**
   * Link faults (harness/faults/links.ts): before the first step, refuses a run whose profiles this
   * lab's kernel cannot apply (delay without sch_netem); `degrade` applies a loss or delay profile
   * and proves it (rules listed, loss measured), `restore` removes it and proves that, `flap` cuts and
   * heals on the profile's schedule (each cut and heal a partition and a heal of the trace).
   */
  checkLinkBackends(profiles: LinkProfile[]): Promise<void>;
  degrade(host: LabHost, profile: LinkProfile): Promise<void>;
  restore(host: LabHost): Promise<void>;
  /** Flaps every host's link together: each cycle cuts them all at once, then heals them all at once. */
  flap(hosts: LabHost[], profile: LinkProfile): Promise<void>;
  agent(host: LabHost, action: AgentAction): Promise<void>;
  /** Writes a file into a task's directory of an allocation (on its client). */
  writeFile(allocId: string, node: string, task: string, path: string, content: string): Promise<void>;
  stopAlloc(allocId: string): Promise<void>;
  stopJob(): Promise<void>;
  /**
   * Waits until an asynchronous probe says ok (`seen` tells what it saw); records the outcome like
   * `await`; false on timeout.
   */
  awaitProbe(what: string, probe: () => Promise<{ ok: boolean; seen: string }>, timeoutMs: number): Promise<boolean>;
  /** HTTP GET run inside a lab host's network namespace. */
  httpGet(host: LabHost, url: string): Promise<{ status: number; body: string }>;
  /** The HTTP status the leader answers to a GET without any token. */
  statusWithoutToken(path: string): Promise<number>;
  /**
   * Runs the Nomad CLI under test (`nomad <args>`) against the leader on a fixed-size
   * pseudo-terminal and records its final screen in the trace (kind `screen`) under `title`.
   */
  captureCli(title: string, args: string[]): Promise<void>;
  /** Sleeps until `at` (ms, harness clock), or returns at once if it has passed. */
  sleepUntil(at: number, what: string): Promise<void>;
  host(name: string): LabHost;
}
