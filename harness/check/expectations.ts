// What a scenario expects, as plain data. Every expectation cites its source (a seed line or a
// NOMAD-FACTS section). Roles name allocations (`cache[0]#1`); nodes are named by what they run.

/** An allocation by role, or the node an allocation role ran on. */
export type Subject = { alloc: string } | { nodeOf: string };

export type Field = 'client' | 'desired' | 'node';

export type Step = string | { status: string; optional: true };

export interface TransitionExpectation {
  subject: Subject;
  field: Field;
  /** Statuses in order (others may come between); optional ones may be missed. */
  sequence: Step[];
  source: string;
}

export interface NeverExpectation {
  subject: Subject;
  field: Field;
  value: string;
  source: string;
}

export interface PlacementExpectation {
  subject: { alloc: string };
  /** The allocation must run on another node than this role's. */
  otherNodeThan: string;
  /** And it must be the replacement of this role (PreviousAllocation). */
  replaces?: string;
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
  subject: { alloc: string };
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

export interface Expectations {
  /** Roles that must start on distinct nodes; if not, the verdict is unknown (the test did not happen). */
  distinctNodes: { roles: string[]; source: string } | undefined;
  /** The fault targets the node this role runs on. */
  partitionTarget: string | undefined;
  transitions: TransitionExpectation[];
  never: NeverExpectation[];
  placements: PlacementExpectation[];
  metrics: MetricExpectation[];
  taskEvents: TaskEventExpectation[];
  notBefore: NotBeforeExpectation[];
}

export const subjectName = (s: Subject): string => ('alloc' in s ? `alloc ${s.alloc}` : `node of ${s.nodeOf}`);
