// What a scenario expects, as plain data: exactly the `expect:` block of a scenario file
// (scenarios/*.yaml, schema harness/config/schema/scenario.schema.json). Every expectation cites
// its source (a seed line or a NOMAD-FACTS section). Roles name allocations (`cache[0]#1`).

/** How many allocations (or nodes) a many-subject must match: exactly a number, or bounds. Default: at least 1. */
export type Count = number | { min?: number; max?: number };

/**
 * Many allocations or nodes at once (check/many.ts): `alloc: cache[*]#1` every slot's first allocation;
 * `allocsOn: partitioned` every allocation on a host the run cut off (created before that host's first
 * cut), `connected` every allocation on a host it never cut; `nodes: partitioned` every node it cut off.
 */
export type ManySubject = { alloc: string; count?: Count } | { allocsOn: 'partitioned' | 'connected'; count?: Count } | { nodes: 'partitioned'; count?: Count };

/**
 * An allocation by role, the node an allocation role ran on, a lab host's node (what `nodes:` expands
 * to), or many (a wildcard role such as `cache[*]#1` in `alloc` makes it many).
 */
export type Subject = { alloc: string } | { nodeOf: string } | { host: string } | ManySubject;

export type Field = 'client' | 'desired' | 'node';

/** A status in a sequence; `{ optional: s }` may be missed (a transient state). */
export type SequenceStep = string | { optional: string };

export interface TransitionExpectation {
  subject: Subject;
  field: Field;
  /** Statuses in order (others may come between). */
  sequence: SequenceStep[];
  source: string;
  /** The Nomad releases this expectation applies to (semver range; versioned.ts). */
  nomad?: string;
}

export interface NeverExpectation {
  subject: Subject;
  field: Field;
  value: string;
  source: string;
  /** The Nomad releases this expectation applies to (semver range; versioned.ts). */
  nomad?: string;
}

export interface PlacementExpectation {
  alloc: string;
  /** The allocation must run on another node than this role's. */
  otherNodeThan: string;
  /** And be the replacement of this role (PreviousAllocation). */
  replaces?: string;
  source: string;
  /** The Nomad releases this expectation applies to (semver range; versioned.ts). */
  nomad?: string;
}

/** An allocation role that must never exist (no replacement was placed). */
export interface AbsentExpectation {
  alloc: string;
  source: string;
  /** The Nomad releases this expectation applies to (semver range; versioned.ts). */
  nomad?: string;
}

export interface MetricExpectation {
  name: string;
  labels: Record<string, string>;
  /** Values in order (others may come between). */
  sequence: number[];
  source: string;
  /** The Nomad releases this expectation applies to (semver range; versioned.ts). */
  nomad?: string;
}

export interface TaskEventExpectation {
  /** A role, or a wildcard role (`cache[*]#1`): every allocation it matches. Or `allocsOn` instead. */
  alloc?: string;
  allocsOn?: 'partitioned' | 'connected';
  count?: Count;
  type: string;
  message?: string;
  /** The event must first appear after this fault: `partition`, `heal`, or the n-th one (`heal#2`). */
  after: string;
  source: string;
  /** The Nomad releases this expectation applies to (semver range; versioned.ts). */
  nomad?: string;
}

/** A status that must not be seen before a fault (timing lower bounds are assertions). */
export interface NotBeforeExpectation {
  subject: Subject;
  field: Field;
  value: string;
  /** `partition`, `heal`, or the n-th one (`partition#2`). */
  notBefore: string;
  source: string;
  /** The Nomad releases this expectation applies to (semver range; versioned.ts). */
  nomad?: string;
}

/** The time between two client statuses of an allocation is at least the job's lost_after. */
export interface MinDelayExpectation {
  alloc: string;
  from: string;
  to: string;
  atLeast: 'lost_after';
  source: string;
  /** The Nomad releases this expectation applies to (semver range; versioned.ts). */
  nomad?: string;
}

/**
 * The time from one allocation's status to another allocation's status or creation (a replacement
 * placed at once, or only after the reschedule delay). `atLeast: reschedule_delay` reads the delay of
 * the group's reschedule policy from the job as Nomad read it back.
 */
export interface DelayExpectation {
  from: { alloc: string; client: string };
  /** Without `client`: when the allocation was created. */
  to: { alloc: string; client?: string };
  atLeast?: string;
  atMost?: string;
  source: string;
  /** The Nomad releases this expectation applies to (semver range; versioned.ts). */
  nomad?: string;
}

/** The node of `alloc` reconnects in the strict steps (#15808), on releases that have them. */
export interface StrictReconnectExpectation {
  /** A role, or a wildcard role (`cache[*]#1`); or `allocsOn` instead: the node of each, in strict steps. */
  alloc?: string;
  allocsOn?: 'partitioned' | 'connected';
  count?: Count;
  /** The restore it reconnects after: `heal` (default), `heal#2`, ... */
  after?: string;
  source: string;
  /** The Nomad releases this expectation applies to (semver range; versioned.ts). */
  nomad?: string;
}

/** The allocation is re-attached after the fault, not restarted. */
export interface NoRestartExpectation {
  alloc: string;
  after: string;
  source: string;
  /** The Nomad releases this expectation applies to (semver range; versioned.ts). */
  nomad?: string;
}

export interface Expectations {
  /** Roles that must start on distinct nodes; if not, the verdict is unknown (the test did not happen). */
  distinctNodes?: { roles: string[]; source: string; nomad?: string };
  /**
   * The job's deployment was still active (running) when the first fault came (a scenario with
   * faultsDuringDeployment); if not, the verdict is unknown: the in-flight case was not tested.
   */
  deploymentActive?: { source: string; nomad?: string };
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
  delays?: DelayExpectation[];
  /** At the end: exactly this many allocations running (desired run), all at this job version. */
  finalRunning?: { count: number; version: number; source: string; nomad?: string };
  strictReconnect?: StrictReconnectExpectation[];
  /**
   * Every allocation a cut found is kept or stopped on reconnect as Nomad's best-score rule picks
   * between it and its live replacements (check/many.ts reconnectPicks; NOMAD-FACTS 1.4).
   */
  reconnectByScore?: { source: string; nomad?: string };
  noRestart?: NoRestartExpectation[];
  /**
   * Running allocations per group at the end, where it is not the group's count (a scenario that
   * stops allocations). Every group is checked; these replace its count.
   */
  finalCounts?: { groups: Record<string, number>; source: string; nomad?: string };
}

/** Every allocation role an expectation names. */
export function rolesInExpectations(x: Expectations): string[] {
  const roles = new Set<string>();
  const subject = (s: Subject) => {
    if ('alloc' in s) roles.add(s.alloc);
    else if ('nodeOf' in s) roles.add(s.nodeOf);
  };
  x.distinctNodes?.roles.forEach((r) => roles.add(r));
  if (x.partitionTarget) roles.add(x.partitionTarget);
  for (const e of [...x.transitions, ...(x.never ?? []), ...(x.notBefore ?? [])]) subject(e.subject);
  for (const e of x.placements ?? []) [e.alloc, e.otherNodeThan, e.replaces].forEach((r) => r && roles.add(r));
  for (const e of x.delays ?? []) [e.from.alloc, e.to.alloc].forEach((r) => roles.add(r));
  for (const e of x.taskEvents ?? []) if (e.alloc !== undefined) roles.add(e.alloc);
  for (const e of x.strictReconnect ?? []) if (e.alloc !== undefined) roles.add(e.alloc);
  for (const e of [...(x.absent ?? []), ...(x.minDelay ?? []), ...(x.noRestart ?? [])]) roles.add(e.alloc);
  return [...roles];
}

/** Roles that an expectation says must never exist: naming one does not make it expected. */
export const absentRoles = (x: Expectations): Set<string> => new Set((x.absent ?? []).map((a) => a.alloc));

export const subjectName = (s: Subject): string => {
  if ('allocsOn' in s) return `allocs on ${s.allocsOn} hosts`;
  if ('nodes' in s) return `nodes ${s.nodes}`;
  if ('host' in s) return `node ${s.host}`;
  return 'alloc' in s ? `alloc ${s.alloc}` : `node of ${s.nodeOf}`;
};

/** A step's status, whether it is optional or not. */
export const stepStatus = (s: SequenceStep): { value: string; optional: boolean } =>
  typeof s === 'string' ? { value: s, optional: false } : { value: s.optional, optional: true };
