// What a scenario expects, as plain data: exactly the `expect:` block of a scenario file
// (scenarios/*.yaml, schema harness/config/schema/scenario.schema.json). Every expectation cites
// its source (a seed line or a NOMAD-FACTS section). Roles name allocations (`cache[0]#1`).

/** An allocation by role, or the node an allocation role ran on. */
export type Subject = { alloc: string } | { nodeOf: string };

export type Field = 'client' | 'desired' | 'node';

/** A status in a sequence; `{ optional: s }` may be missed (a transient state). */
export type SequenceStep = string | { optional: string };

export interface TransitionExpectation {
  subject: Subject;
  field: Field;
  /** Statuses in order (others may come between). */
  sequence: SequenceStep[];
  source: string;
}

export interface NeverExpectation {
  subject: Subject;
  field: Field;
  value: string;
  source: string;
}

export interface PlacementExpectation {
  alloc: string;
  /** The allocation must run on another node than this role's. */
  otherNodeThan: string;
  /** And be the replacement of this role (PreviousAllocation). */
  replaces?: string;
  source: string;
}

/** An allocation role that must never exist (no replacement was placed). */
export interface AbsentExpectation {
  alloc: string;
  source: string;
}

export interface MetricExpectation {
  name: string;
  labels: Record<string, string>;
  /** Values in order (others may come between). */
  sequence: number[];
  source: string;
}

export interface TaskEventExpectation {
  alloc: string;
  type: string;
  message?: string;
  /** The event must first appear after the first fault of this kind. */
  after: 'partition' | 'heal';
  source: string;
}

/** A status that must not be seen before a fault (timing lower bounds are assertions). */
export interface NotBeforeExpectation {
  subject: Subject;
  field: Field;
  value: string;
  notBefore: 'partition' | 'heal';
  source: string;
}

/** The time between two client statuses of an allocation is at least the job's lost_after. */
export interface MinDelayExpectation {
  alloc: string;
  from: string;
  to: string;
  atLeast: 'lost_after';
  source: string;
}

export interface Expectations {
  /** Roles that must start on distinct nodes; if not, the verdict is unknown (the test did not happen). */
  distinctNodes?: { roles: string[]; source: string };
  /** The fault targets the node this role runs on. */
  partitionTarget?: string;
  transitions: TransitionExpectation[];
  never?: NeverExpectation[];
  placements?: PlacementExpectation[];
  absent?: AbsentExpectation[];
  metrics?: MetricExpectation[];
  taskEvents?: TaskEventExpectation[];
  notBefore?: NotBeforeExpectation[];
  minDelay?: MinDelayExpectation[];
  /** At the end: exactly this many allocations running (desired run), all at this job version. */
  finalRunning?: { count: number; version: number; source: string };
}

export const subjectName = (s: Subject): string => ('alloc' in s ? `alloc ${s.alloc}` : `node of ${s.nodeOf}`);

/** A step's status, whether it is optional or not. */
export const stepStatus = (s: SequenceStep): { value: string; optional: boolean } =>
  typeof s === 'string' ? { value: s, optional: false } : { value: s.optional, optional: true };
