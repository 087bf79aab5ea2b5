// What a scenario is, and what its steps get to work with.
import type { Expectations } from '../check/expectations.ts';
import type { LabPlan, HostPlan } from '../lab/topology.ts';
import type { NomadApi, NomadJob } from '../nomad/api.ts';
import type { Recorder } from '../trace/recorder.ts';
import type { TraceWriter } from '../trace/writer.ts';

export interface ScenarioContext {
  plan: LabPlan;
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
  /** Registers a job from jobs/<file>, rendered for the Nomad under test; returns what was submitted. */
  registerJob(file: string): Promise<NomadJob>;
  partition(host: HostPlan): Promise<void>;
  heal(host: HostPlan): Promise<void>;
  host(name: string): HostPlan;
}

export interface Scenario {
  name: string;
  summary: string;
  /** Job spec under jobs/ and the job's ID. */
  jobFile: string;
  jobId: string;
  lab: { servers: number; clients: number };
  /** Roles the phase timings speak of. */
  roles: { original: string; replacement: string; others: string[] };
  expectations: Expectations;
  run(ctx: ScenarioContext): Promise<void>;
}
