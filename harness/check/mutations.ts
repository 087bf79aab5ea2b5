// Trace mutation: the proof that the oracle catches a misbehaving Nomad. Each mutation rewrites a
// real run's trace as if Nomad had misbehaved in one plausible way (an extra allocation, a restart
// instead of a re-attach, `lost` instead of `unknown`, ...), consistently in the event stream and in
// the final reads. Checked against the scenario's expectations, a mutant must be killed: a fail (or,
// for a gap in the recording, unknown). A mutant that passes is a hole in the oracle. Pure.
import type { Allocation, TaskEvent } from '../nomad/api.ts';
import { normalise, type AllocView, type Normalised } from '../trace/normalise.ts';
import type { Positioned, TraceEvent } from '../trace/types.ts';
import { table } from '../util/table.ts';
import type { Expectations } from './expectations.ts';
import { RESTORES, faultAt } from './faults.ts';
import { onServer } from './server-faults.ts';

type NomadEvent = Positioned<Extract<TraceEvent, { kind: 'nomad' }>>;
type AllocRead = Positioned<Extract<TraceEvent, { kind: 'alloc-read' }>>;
type AllocPayload = Partial<Allocation> & { ID: string; TaskStates?: Allocation['TaskStates'] };

/** The roles a mutation acts on: from the scenario's `roles` block. */
export interface MutationRoles {
  original: string;
  replacement: string;
}

export interface Mutation {
  name: string;
  /** The misbehaviour, as a sentence about Nomad. */
  what: string;
  /** What the oracle must say of the mutant. */
  killedAs: 'fail' | 'unknown';
  /**
   * The mutant, or why this mutation does not apply to this run (it needs something the run lacks).
   * `expect`: the scenario's expectations that applied to the run's Nomad release.
   */
  apply(trace: Positioned[], roles: MutationRoles, expect?: Expectations): Positioned[] | string;
}

// ---- helpers over a trace ------------------------------------------------------------------------

const clone = <T>(x: T): T => structuredClone(x);

/** Lines renumbered in array order, as a trace file read back would have them. */
const renumber = (events: Array<Positioned | TraceEvent>): Positioned[] => events.map((e, i) => ({ ...(e as TraceEvent), line: i + 1 }) as Positioned);

/** Inserts an event where its time puts it: before the first event that comes after it. */
function insertInTime(events: Array<Positioned | TraceEvent>, c: TraceEvent): void {
  const at = events.findIndex((e) => e.t > c.t);
  events.splice(at < 0 ? events.length : at, 0, c);
}

const isAllocEvent = (e: Positioned, id?: string): e is NomadEvent =>
  e.kind === 'nomad' && e.topic === 'Allocation' && (id === undefined || (e.payload['Allocation'] as AllocPayload | undefined)?.ID === id);

const allocOf = (e: NomadEvent): AllocPayload => e.payload['Allocation'] as AllocPayload;

const isRead = (e: Positioned, id: string): e is AllocRead => e.kind === 'alloc-read' && e.alloc.ID === id;

/** Rewrites every stream event and the final read of one allocation. */
function rewriteAlloc(
  trace: Positioned[],
  id: string,
  edit: (a: AllocPayload, e: Positioned, final: boolean) => void,
  where: (e: Positioned) => boolean = () => true,
): Positioned[] {
  return trace.map((e) => {
    if (isAllocEvent(e, id) && where(e)) {
      const c = clone(e);
      edit(allocOf(c), c, false);
      return c;
    }
    if (isRead(e, id)) {
      const c = clone(e);
      edit(c.alloc as AllocPayload, c, true);
      return c;
    }
    return e;
  });
}

/** What most mutations act on: the original, its replacement, the first cut and heal. */
function subjects(
  trace: Positioned[],
  roles: MutationRoles,
): {
  n: Normalised;
  original?: AllocView;
  replacement?: AllocView;
  cut?: ReturnType<typeof faultAt>;
  heal?: ReturnType<typeof faultAt>;
  lastHeal?: ReturnType<typeof faultAt>;
} {
  const n = normalise(trace);
  // A server's restart restores no client.
  const heals = n.faults.filter((f) => RESTORES.includes(f.fault) && f.detail !== 'cleanup' && !onServer(n, f));
  // A run whose only faults are on servers (every server killed, then started again): what Nomad does
  // "on reconnect" there happens after the servers' restart, so that stands in for the heal.
  const heal = faultAt(n, 'heal') ?? (faultAt(n, 'partition') === undefined ? faultAt(n, 'server-restart') : undefined);
  return {
    n,
    original: n.byRole.get(roles.original),
    replacement: n.byRole.get(roles.replacement),
    cut: faultAt(n, 'partition'),
    heal,
    lastHeal: heals.at(-1) ?? heal,
  };
}

/** Stream events after a fault (the final reads are always rewritten). */
const after = (fault: { t: number }) => (e: Positioned) => e.t > fault.t;

const lastClient = (a: AllocView) => a.final?.ClientStatus ?? a.observations.at(-1)?.client;
const lastDesired = (a: AllocView) => a.final?.DesiredStatus ?? a.observations.at(-1)?.desired;

function taskEventsOf(a: AllocPayload): Array<TaskEvent & { task: string }> {
  return Object.entries(a.TaskStates ?? {}).flatMap(([task, st]) => (st?.Events ?? []).map((ev) => ({ ...ev, task })));
}

/** A fresh allocation ID derived from another (deterministic, so mutants are reproducible). */
const newId = (id: string, salt: string) => `${salt.padEnd(8, '0').slice(0, 8)}${id.slice(8)}`;

// ---- the mutations -------------------------------------------------------------------------------

/** Nomad places an allocation nobody asked for on the reconnecting node after the heal, then stops it. */
const extraAllocation: Mutation = {
  name: 'extra-allocation',
  what: 'an extra allocation (no PreviousAllocation) placed on the reconnecting node after the heal, then stopped',
  killedAs: 'fail',
  apply(trace, roles) {
    const { original, heal } = subjects(trace, roles);
    if (!original || !heal) return 'needs the original and a heal';
    const template = trace.find((e): e is NomadEvent => isAllocEvent(e, original.id));
    const after = trace.find((e): e is NomadEvent => e.kind === 'nomad' && e.t >= heal.t);
    if (!template || !after) return 'needs stream events after the heal';
    const id = newId(original.id, 'e0e0e0e0');
    const index = after.index;
    const statuses: Array<[string, string]> = [
      ['pending', 'run'],
      ['running', 'run'],
      ['complete', 'stop'],
    ];
    const events = statuses.map(([client, desired], k) => {
      const c = clone(template);
      c.t = after.t + k;
      c.index = index + k;
      c.payload = {
        Allocation: {
          ...allocOf(c),
          ID: id,
          ClientStatus: client,
          DesiredStatus: desired,
          PreviousAllocation: '',
          NextAllocation: '',
          CreateIndex: index,
          ModifyIndex: index + k,
          TaskStates: {},
        },
      };
      return c;
    });
    const at = trace.indexOf(after);
    const out: Array<Positioned | TraceEvent> = [...trace.slice(0, at), ...events, ...trace.slice(at)];
    const read = trace.find((e): e is AllocRead => isRead(e, original.id));
    if (read) {
      const c = clone(read);
      c.alloc = {
        ...c.alloc,
        ID: id,
        ClientStatus: 'complete',
        DesiredStatus: 'stop',
        PreviousAllocation: '',
        NextAllocation: '',
        CreateIndex: index,
        ModifyIndex: index + 2,
      } as Allocation;
      out.push(c);
    }
    return renumber(out);
  },
};

/** Nomad replaces the original twice: a second replacement beside the first. */
const duplicateReplacement: Mutation = {
  name: 'duplicate-replacement',
  what: 'a second replacement of the original, placed beside the first (same PreviousAllocation)',
  killedAs: 'fail',
  apply(trace, roles) {
    const { replacement } = subjects(trace, roles);
    if (!replacement) return `needs ${roles.replacement} in the run`;
    const id = newId(replacement.id, 'd0d0d0d0');
    const out: Array<Positioned | TraceEvent> = [];
    for (const e of trace) {
      out.push(e);
      if (isAllocEvent(e, replacement.id)) {
        const c = clone(e);
        const a = allocOf(c);
        a.ID = id;
        if (a.CreateIndex) a.CreateIndex += 1;
        out.push(c);
      } else if (isRead(e, replacement.id)) {
        const c = clone(e);
        c.alloc = { ...c.alloc, ID: id, CreateIndex: c.alloc.CreateIndex + 1 };
        out.push(c);
      }
    }
    return renumber(out);
  },
};

/**
 * The replacement comes at the other releases' time (#18701): at once where the release waits for the
 * reschedule delay, or a delay + 1 s late where it replaces at once.
 */
const replacementTimingFlipped: Mutation = {
  name: 'replacement-timing-flipped',
  what: "the replacement created at the other releases' time (#18701): at once where the reschedule delay is due, 6 s late where it comes at once",
  killedAs: 'fail',
  apply(trace, roles, expect) {
    if (!(expect?.delays ?? []).some((d) => d.to.alloc === roles.replacement))
      return `the scenario does not time ${roles.replacement} (expect.delays) on this release`;
    const { original, replacement } = subjects(trace, roles);
    const unknown = original?.observations.find((o) => o.client === 'unknown');
    const created = replacement?.observations[0];
    if (!original || !replacement || !unknown || !created) return 'needs the original unknown and its replacement';
    const gap = (created.modifyTime ?? created.t) - (unknown.modifyTime ?? unknown.t);
    const shift = gap < 2000 ? 6000 : -gap;
    return rewriteAlloc(trace, replacement.id, (a, e, final) => {
      if (!final) e.t += shift;
      const m = (a as { ModifyTime?: number }).ModifyTime;
      if (typeof m === 'number') (a as { ModifyTime?: number }).ModifyTime = m + shift * 1e6;
    });
  },
};

/** A replacement where the scenario expects none (an active deployment from 1.6.3 on; attempts = 0). */
const replacementPlaced: Mutation = {
  name: 'replacement-placed',
  what: 'a replacement of the original placed on another node right after it went unknown, where the scenario expects none; stopped at the end',
  killedAs: 'fail',
  apply(trace, roles) {
    const { n, original, replacement, heal } = subjects(trace, roles);
    if (replacement) return `the run has ${roles.replacement} already`;
    const unknown = original?.observations.find((o) => o.client === 'unknown');
    if (!original || !unknown) return 'needs an original that went unknown';
    const template = trace.find((e) => e.line === unknown.line) as NomadEvent;
    const node = n.allocs.find((a) => a.node !== original.node)?.node ?? 'another-node';
    const id = newId(original.id, 'f0f0f0f0');
    const make = (at: { t: number; index: number }, client: string, desired: string): NomadEvent => {
      const c = clone(template);
      c.t = at.t;
      c.index = at.index;
      c.payload = {
        Allocation: {
          ...allocOf(c),
          ID: id,
          NodeName: node,
          ClientStatus: client,
          DesiredStatus: desired,
          PreviousAllocation: original.id,
          NextAllocation: '',
          CreateIndex: unknown.index + 1,
          ModifyIndex: at.index,
          TaskStates: {},
        },
      };
      return c;
    };
    const lastIndex = Math.max(...n.allocs.flatMap((a) => a.observations.map((o) => o.index)));
    const end = {
      t: heal?.t ?? trace.at(-1)!.t,
      index: heal === undefined ? lastIndex : (trace.find((e): e is NomadEvent => e.kind === 'nomad' && e.t >= heal.t)?.index ?? lastIndex),
    };
    const out: Array<Positioned | TraceEvent> = [...trace];
    out.splice(
      trace.indexOf(template) + 1,
      0,
      make({ t: unknown.t + 1, index: unknown.index + 1 }, 'pending', 'run'),
      make({ t: unknown.t + 2, index: unknown.index + 2 }, 'running', 'run'),
    );
    const stop = make({ t: end.t + 1, index: end.index + 1 }, 'complete', 'stop');
    const at = out.findIndex((e) => e.t > end.t);
    out.splice(at < 0 ? out.length : at, 0, stop);
    const read = trace.find((e): e is AllocRead => isRead(e, original.id));
    if (read) {
      const c = clone(read);
      c.alloc = {
        ...c.alloc,
        ID: id,
        NodeName: node,
        ClientStatus: 'complete',
        DesiredStatus: 'stop',
        PreviousAllocation: original.id,
        NextAllocation: '',
        CreateIndex: unknown.index + 1,
        ModifyIndex: end.index + 1,
      } as Allocation;
      out.push(c);
    }
    return renumber(out);
  },
};

/** After the heal the original's task is restarted instead of re-attached. */
const originalRestarted: Mutation = {
  name: 'original-restarted',
  what: "the original's task restarted on reconnect (Restarting, Started; Restarts + 1, a new StartedAt) instead of re-attached",
  killedAs: 'fail',
  apply(trace, roles) {
    const { original, heal } = subjects(trace, roles);
    if (!original || !heal || lastClient(original) !== 'running') return 'needs an original running at the end, and a heal';
    const restartAt = (heal.t + 1) * 1e6;
    return rewriteAlloc(
      trace,
      original.id,
      (a) => {
        for (const st of Object.values(a.TaskStates ?? {})) {
          if (!st) continue;
          st.Restarts = (st.Restarts ?? 0) + 1;
          st.StartedAt = new Date(heal.t + 1).toISOString();
          st.Events = [
            ...(st.Events ?? []),
            { Type: 'Restarting', Time: restartAt, DisplayMessage: 'Task restarting in 0s' } as TaskEvent,
            { Type: 'Started', Time: restartAt + 1, DisplayMessage: 'Task started by client' } as TaskEvent,
          ];
        }
      },
      after(heal),
    );
  },
};

/** On reconnect Nomad stops the original although the scenario keeps it. */
const originalStoppedOnReconnect: Mutation = {
  name: 'original-stopped-on-reconnect',
  what: 'the original stopped on reconnect (desired stop, complete) instead of kept',
  killedAs: 'fail',
  apply(trace, roles) {
    const { original, heal } = subjects(trace, roles);
    if (!original || !heal || lastClient(original) !== 'running' || lastDesired(original) !== 'run')
      return 'needs an original kept running at the end, and a heal';
    return rewriteAlloc(
      trace,
      original.id,
      (a, _e, final) => {
        a.DesiredStatus = 'stop';
        if (final || a.ClientStatus === 'running') a.ClientStatus = 'complete';
      },
      after(heal),
    );
  },
};

/** The replacement stays running after the original came back. */
const replacementNeverStopped: Mutation = {
  name: 'replacement-never-stopped',
  what: 'the replacement never stopped after the original came back (still run/running at the end)',
  killedAs: 'fail',
  apply(trace, roles) {
    const { replacement, heal } = subjects(trace, roles);
    if (!replacement || !heal || lastDesired(replacement) !== 'stop' || lastClient(replacement) !== 'complete')
      return 'needs a replacement stopped (complete) at the end, and a heal';
    return rewriteAlloc(
      trace,
      replacement.id,
      (a) => {
        a.DesiredStatus = 'run';
        if (a.ClientStatus === 'complete') a.ClientStatus = 'running';
      },
      after(heal),
    );
  },
};

/**
 * The reconnecting node turns ready before the servers recorded the original running again: the race
 * #15808 closed (the scheduler sees a ready node whose allocation is still unknown). The original's
 * return to running moves to just after the node's ready, in Raft order and in the file.
 */
const readyBeforeRunning: Mutation = {
  name: 'ready-before-running',
  what: 'the reconnecting node ready before the servers recorded the original running again (the race #15808 closed), at the last reconnect',
  killedAs: 'fail',
  apply(trace, roles) {
    const { n, original, lastHeal: heal } = subjects(trace, roles);
    const node = original ? n.nodes.get(original.node) : undefined;
    if (!original || !heal || !node) return 'needs the original, its node and a heal';
    const unknown = original.observations.find((o) => o.client === 'unknown');
    const running = unknown ? original.observations.find((o) => o.index > unknown.index && o.client === 'running') : undefined;
    const ready = node.observations.find((o) => o.status === 'ready' && o.t >= heal.t);
    if (!running || !ready) return 'needs the original running again and its node ready after the heal';
    // Every event of the original from its return to running up to the node's ready goes after the ready.
    const moving = trace.filter((e): e is NomadEvent => isAllocEvent(e, original.id) && e.index >= running.index && e.index < ready.index);
    const out = trace.filter((e) => !moving.includes(e as NomadEvent));
    const moved = moving.map((e, k) => ({ ...clone(e), index: ready.index + 1 + k, t: Math.max(e.t, ready.t) }));
    out.splice(out.findIndex((e) => e.line === ready.line) + 1, 0, ...moved);
    return renumber(out);
  },
};

/**
 * The reconnecting node's timer expires for real while it is initializing (a TTL + grace later, not
 * the milliseconds of Nomad's timer race, check/reconnect.ts timerRace): it goes down and its next
 * heartbeat re-registers it ready before the servers recorded the original running again. The strict
 * check must fail it; only the race's exact shape is excused.
 */
const readyThroughDown: Mutation = {
  name: 'ready-through-down',
  what: 'the reconnecting node down by its heartbeat timer a TTL + grace after initializing, then re-registered ready before the original runs again, at the last reconnect',
  killedAs: 'fail',
  apply(trace, roles) {
    const { n, original, lastHeal: heal } = subjects(trace, roles);
    const node = original ? n.nodes.get(original.node) : undefined;
    if (!original || !heal || !node) return 'needs the original, its node and a heal';
    const ready = node.observations.find((o) => o.status === 'ready' && o.t >= heal.t);
    const init = ready ? [...node.observations].reverse().find((o) => o.status === 'initializing' && o.index < ready.index) : undefined;
    // This reconnect's unknown (a flapping run has one per cut) and the original's first running after it.
    const unknown = ready ? original.observations.filter((o) => o.client === 'unknown' && o.index < ready.index).at(-1) : undefined;
    const running = unknown ? original.observations.find((o) => o.index > unknown.index && o.client === 'running') : undefined;
    if (!ready || !init || !running) return 'needs the node initializing then ready after the heal, and the original running again';
    const readyEvent = trace.find((e): e is NomadEvent => e.line === ready.line && e.kind === 'nomad');
    if (!readyEvent) return 'the node ready comes from a read, not the stream';
    const timers = n.run?.timers ?? { minHeartbeatTtl: 2, heartbeatGrace: 2 };
    const nodeWith = (status: string, message: string, t: number, index: number): NomadEvent => {
      const c = clone(readyEvent);
      // The event as this update's own (CreateIndex, Timestamp), as Nomad writes it: the mutant then
      // differs from the timer race only by its timing, which is what it holds the excuse to.
      const payload = c.payload['Node'] as { Status: string; Events?: Array<{ Message: string; CreateIndex?: number; Timestamp?: string }> | null };
      payload.Status = status;
      payload.Events = [...(payload.Events ?? []), { Message: message, CreateIndex: index, Timestamp: new Date(t).toISOString() }];
      return { ...c, t, index };
    };
    const downAt = init.t + (timers.minHeartbeatTtl + timers.heartbeatGrace) * 1000;
    const down = nodeWith('down', 'Node heartbeat missed', downAt, ready.index);
    const reregistered = nodeWith('ready', 'Node reregistered by heartbeat', downAt + 100, ready.index + 0.5);
    // The original's return to running (and what follows it up to the old ready) goes after the new ready.
    const moving = trace.filter((e): e is NomadEvent => isAllocEvent(e, original.id) && e.index >= running.index && e.index <= ready.index);
    const out = trace.filter((e) => e !== readyEvent && !moving.includes(e as NomadEvent));
    const moved = moving.map((e, k) => ({ ...clone(e), index: ready.index + 0.6 + k / 100, t: downAt + 200 + k }));
    const at = out.findIndex((e) => e.line > readyEvent.line);
    out.splice(at < 0 ? out.length : at, 0, down, reregistered, ...moved);
    return renumber(out);
  },
};

/** The reconnecting node goes straight from disconnected to ready. */
const noInitializing: Mutation = {
  name: 'no-initializing',
  what: 'the reconnecting node skips initializing (disconnected -> ready, as before #15808), at the last reconnect',
  killedAs: 'fail',
  apply(trace, roles) {
    const { n, original, lastHeal: heal } = subjects(trace, roles);
    const node = original ? n.nodes.get(original.node) : undefined;
    if (!original || !heal || !node) return 'needs the original, its node and a heal';
    // After the last disconnected before the heal (by Raft index: a restarted agent registers before
    // the harness has written its restart into the trace).
    const disconnected = [...node.observations].reverse().find((o) => o.status === 'disconnected' && o.t <= heal.t);
    if (!disconnected) return 'the node was never disconnected before the heal';
    const drop = new Set(node.observations.filter((o) => o.status === 'initializing' && o.index > disconnected.index).map((o) => o.line));
    if (drop.size === 0) return 'the run has no initializing after the heal';
    return renumber(trace.filter((e) => !drop.has(e.line)));
  },
};

/** The servers mark the cut-off client disconnected half a second after the cut: sooner than their own timer allows. */
const earlyDetection: Mutation = {
  name: 'early-detection',
  what: 'the cut-off node marked disconnected (or down) 0.5 s after the cut, sooner than heartbeat_grace allows',
  killedAs: 'fail',
  apply(trace, roles) {
    const { n, original, cut } = subjects(trace, roles);
    const node = original ? n.nodes.get(original.node) : undefined;
    const marked = node && cut ? node.observations.find((o) => o.t > cut.t && (o.status === 'disconnected' || o.status === 'down')) : undefined;
    if (!cut || !marked) return 'needs a cut and the node marked disconnected or down after it';
    return trace.map((e) => (e.line === marked.line ? { ...e, t: cut.t + 500 } : e));
  },
};

/** The original goes lost, not unknown, when its client is cut off. */
const lostInsteadOfUnknown: Mutation = {
  name: 'lost-instead-of-unknown',
  what: 'the original marked lost instead of unknown while its client is cut off',
  killedAs: 'fail',
  apply(trace, roles) {
    const { original } = subjects(trace, roles);
    if (!original || !original.observations.some((o) => o.client === 'unknown')) return 'needs an original that went unknown';
    return rewriteAlloc(trace, original.id, (a) => {
      if (a.ClientStatus === 'unknown') a.ClientStatus = 'lost';
    });
  },
};

/** The original goes unknown -> lost long before its disconnect window ends. */
const unknownToLostEarly: Mutation = {
  name: 'unknown-to-lost-early',
  what: 'the original goes unknown -> lost right after it went unknown, long before lost_after',
  killedAs: 'fail',
  apply(trace, roles) {
    const { original } = subjects(trace, roles);
    const unknown = original?.observations.find((o) => o.client === 'unknown');
    if (!original || !unknown) return 'needs an original that went unknown';
    const event = trace.find((e) => e.line === unknown.line) as NomadEvent;
    const c = clone(event);
    c.t += 1000;
    const a = allocOf(c);
    a.ClientStatus = 'lost';
    a.DesiredStatus = 'stop';
    const modify = (a as { ModifyTime?: number }).ModifyTime;
    (a as { ModifyTime?: number }).ModifyTime = (typeof modify === 'number' ? modify : unknown.t * 1e6) + 1e9;
    const out: Array<Positioned | TraceEvent> = [...trace];
    out.splice(trace.indexOf(event) + 1, 0, c);
    return renumber(out);
  },
};

/**
 * In a mass cut, one of the allocations cut off goes lost instead of unknown (stopped, then complete
 * once its client is back), while the others go unknown as they should: a misbehaviour that a check of
 * one role, or of a gauge that still reaches its peak elsewhere, could miss. The allocation is the
 * middle one, in role order, of those that went unknown, so the mutant is reproducible.
 */
const oneOfManyLost: Mutation = {
  name: 'one-of-many-lost',
  what: 'one allocation of a mass cut marked lost (desired stop, complete after the heal) instead of unknown, the others unknown',
  killedAs: 'fail',
  apply(trace) {
    const n = normalise(trace);
    const unknown = n.allocs.filter((a) => a.observations.some((o) => o.client === 'unknown'));
    if (unknown.length < 2) return 'needs a mass cut: at least two allocations that went unknown';
    const victim = unknown[Math.floor(unknown.length / 2)]!;
    const first = victim.observations.find((o) => o.client === 'unknown')!;
    return rewriteAlloc(
      trace,
      victim.id,
      (a, _e, final) => {
        a.DesiredStatus = 'stop';
        if (a.ClientStatus === 'unknown') a.ClientStatus = 'lost';
        else if (final || a.ClientStatus === 'running') a.ClientStatus = 'complete';
        for (const st of Object.values(a.TaskStates ?? {})) if (st?.Events) st.Events = st.Events.filter((ev) => ev.Type !== 'Reconnected');
      },
      (e) => e.line >= first.line,
    );
  },
};

/**
 * A new leader loses the disconnect window: after a server's kill (the leader's, in leader-kill-cut)
 * the still unknown original is marked lost and stopped a second later, and ends complete once its
 * client is back, with no Reconnected event.
 */
const lostAfterLeaderChange: Mutation = {
  name: 'lost-after-leader-change',
  what: 'the original, unknown while its client is cut off, marked lost (desired stop) right after a server kill, complete after the heal',
  killedAs: 'fail',
  apply(trace, roles) {
    const { n, original } = subjects(trace, roles);
    const kill = n.faults.find((f) => f.fault === 'kill-agent' && onServer(n, f));
    const before = kill ? original?.observations.filter((o) => o.t <= kill.t).at(-1) : undefined;
    if (!kill || !original || before?.client !== 'unknown') return 'needs a server killed while the original was unknown';
    const template = trace.find((e) => e.line === before.line) as NomadEvent;
    const c = clone(template);
    c.t = kill.t + 1000;
    const a = allocOf(c);
    a.ClientStatus = 'lost';
    a.DesiredStatus = 'stop';
    const rewritten = rewriteAlloc(
      trace,
      original.id,
      (x, _e, final) => {
        x.DesiredStatus = 'stop';
        if (x.ClientStatus === 'unknown') x.ClientStatus = 'lost';
        else if (final || x.ClientStatus === 'running') x.ClientStatus = 'complete';
        for (const st of Object.values(x.TaskStates ?? {})) if (st?.Events) st.Events = st.Events.filter((ev) => ev.Type !== 'Reconnected');
      },
      (e) => e.t > kill.t,
    );
    const out: Array<Positioned | TraceEvent> = [...rewritten];
    insertInTime(out, c);
    return renumber(out);
  },
};

/**
 * Every server killed and started again, no client cut off: the new leader judges the original's node
 * by the heartbeats the dead servers missed (no failover_heartbeat_ttl), so the node goes disconnected
 * and the original unknown, until the client's next heartbeat brings both back.
 */
const disconnectedAfterServersRestart: Mutation = {
  name: 'disconnected-after-servers-restart',
  what: "the original's node marked disconnected and the original unknown after every server's restart, then ready and running again",
  killedAs: 'fail',
  apply(trace, roles) {
    const { n, original } = subjects(trace, roles);
    const restart = faultAt(n, 'server-restart');
    if (!restart || faultAt(n, 'partition') !== undefined) return 'needs every server restarted, and no client cut off';
    const last = original?.observations.filter((o) => o.t <= restart.t).at(-1);
    if (!original || last?.client !== 'running') return 'needs an original running when the servers came back';
    const allocTemplate = trace.find((e) => e.line === last.line);
    const nodeTemplate = trace.find(
      (e): e is NomadEvent => e.kind === 'nomad' && e.topic === 'Node' && (e.payload['Node'] as { Name?: string } | undefined)?.Name === original.node,
    );
    if (allocTemplate?.kind !== 'nomad' || !nodeTemplate) return 'needs a streamed event of the original and of its node';
    const top = Math.max(0, ...trace.flatMap((e) => (e.kind === 'nomad' ? [e.index] : e.kind === 'alloc-read' ? [e.alloc.ModifyIndex] : [])));
    const node = (status: string, dt: number, k: number) => {
      const c = clone(nodeTemplate);
      c.t = restart.t + dt;
      c.index = top + k;
      c.type = 'NodeStreamEvent';
      const x = c.payload['Node'] as { Status?: string; ModifyIndex?: number };
      x.Status = status;
      x.ModifyIndex = c.index;
      return c;
    };
    const alloc = (client: string, dt: number, k: number) => {
      const c = clone(allocTemplate);
      c.t = restart.t + dt;
      c.index = top + k;
      const a = allocOf(c);
      a.ClientStatus = client;
      a.ModifyIndex = c.index;
      return c;
    };
    const injected = [
      node('disconnected', 12_000, 1),
      alloc('unknown', 12_100, 2),
      node('initializing', 15_000, 3),
      alloc('running', 15_100, 4),
      node('ready', 16_000, 5),
    ];
    const rewritten = rewriteAlloc(
      trace,
      original.id,
      (a, _e, final) => {
        if (final) a.ModifyIndex = top + 4;
      },
      () => false,
    );
    const out: Array<Positioned | TraceEvent> = [...rewritten];
    for (const c of injected) insertInTime(out, c);
    return renumber(out);
  },
};

/** The client never appends the Reconnected task event. */
const reconnectedMissing: Mutation = {
  name: 'reconnected-missing',
  what: 'no Reconnected task event on the original after the reconnect',
  killedAs: 'fail',
  apply(trace, roles) {
    const { original } = subjects(trace, roles);
    if (!original || !original.observations.some((o) => o.taskEvents.some((t) => t.Type === 'Reconnected'))) return 'needs a Reconnected event on the original';
    // A task that failed while cut off may or may not get the event: the client's retried "failed"
    // update can reach the servers before it pulls the allocation, which is then no longer unknown
    // (client/client.go updateAlloc, v1.6.0). Its absence there is no misbehaviour.
    if (original.observations.some((o) => o.client === 'failed')) return 'the original failed while cut off: Reconnected is not guaranteed then';
    return rewriteAlloc(trace, original.id, (a) => {
      for (const st of Object.values(a.TaskStates ?? {})) if (st?.Events) st.Events = st.Events.filter((ev) => ev.Type !== 'Reconnected');
    });
  },
};

/** The servers' unknown gauge stays at 1 after the reconnect. */
const unknownGaugeStuck: Mutation = {
  name: 'unknown-gauge-stuck',
  what: 'nomad.nomad.job_summary.unknown stuck at 1 after the reconnect',
  killedAs: 'fail',
  apply(trace) {
    const points = trace.filter(
      (e): e is Positioned<Extract<TraceEvent, { kind: 'metric' }>> => e.kind === 'metric' && e.name === 'nomad.nomad.job_summary.unknown',
    );
    const one = points.find((p) => p.value >= 1);
    if (!one) return 'the run never saw the unknown gauge above 0';
    const key = JSON.stringify(Object.entries(one.labels).sort());
    const drop = new Set(points.filter((p) => p.line > one.line && JSON.stringify(Object.entries(p.labels).sort()) === key).map((p) => p.line));
    if (drop.size === 0) return 'the gauge never came back down';
    return renumber(trace.filter((e) => !drop.has(e.line)));
  },
};

/**
 * The recorder lost a stretch of the stream (events between the partition and the heal dropped, as a
 * stream that resumed past a compacted buffer would) and said so: the oracle must not judge what
 * it did not see, so the verdict is unknown, not pass and not a fail about missing transitions.
 */
const streamGap: Mutation = {
  name: 'stream-gap',
  what: 'events between the partition and the heal lost in a gap of the event stream (the recorder notes the gap)',
  killedAs: 'unknown',
  apply(trace) {
    const n = normalise(trace);
    const cut = faultAt(n, 'partition');
    const heal = faultAt(n, 'heal');
    if (!cut || !heal) return 'needs a partition and a heal';
    const lost = trace.filter((e): e is NomadEvent => e.kind === 'nomad' && e.t > cut.t && e.t < heal.t);
    if (lost.length === 0) return 'no stream events between the partition and the heal';
    const from = Math.min(...lost.map((e) => e.index));
    const to = Math.max(...lost.map((e) => e.index));
    const kept = trace.filter((e) => !lost.includes(e as NomadEvent));
    const at = kept.findIndex((e) => e.t >= heal.t);
    const gap: TraceEvent = {
      kind: 'gap',
      t: heal.t,
      fromIndex: from,
      toIndex: to,
      detail: `event stream resumed at index ${to + 1} after asking for ${from}`,
    };
    kept.splice(at, 0, gap as Positioned);
    return renumber(kept);
  },
};

/**
 * Every server killed: the stream, resumed on a restarted server, started past the index it asked for
 * (the new broker's buffer did not reach back) and the re-read found a node changed since; the
 * recorder notes the gap. What the outage hid cannot be judged.
 */
const streamGapServersDown: Mutation = {
  name: 'stream-gap-servers-down',
  what: 'the event stream resumed after the servers restart past the index it asked for, a node changed in between (the recorder notes the gap)',
  killedAs: 'unknown',
  apply(trace) {
    const n = normalise(trace);
    const kill = faultAt(n, 'server-kill');
    const restart = faultAt(n, 'server-restart');
    if (!kill || !restart || faultAt(n, 'partition') !== undefined) return 'needs every server killed and restarted, and no client cut off';
    const from = Math.max(0, ...trace.flatMap((e) => (e.kind === 'nomad' && e.t < kill.t ? [e.index] : []))) + 1;
    const at = trace.findIndex((e) => e.t > restart.t);
    const gap: TraceEvent = {
      kind: 'gap',
      t: restart.t + 1,
      fromIndex: from,
      toIndex: from + 2,
      detail: `asked for index ${from}, the stream resumed at ${from + 3}; changed since: node of the original at index ${from + 1}`,
    };
    const out: Array<Positioned | TraceEvent> = [...trace];
    out.splice(at < 0 ? out.length : at, 0, gap);
    return renumber(out);
  },
};

export const MUTATIONS: readonly Mutation[] = [
  extraAllocation,
  duplicateReplacement,
  replacementPlaced,
  replacementTimingFlipped,
  originalRestarted,
  originalStoppedOnReconnect,
  replacementNeverStopped,
  readyBeforeRunning,
  readyThroughDown,
  noInitializing,
  earlyDetection,
  lostInsteadOfUnknown,
  unknownToLostEarly,
  lostAfterLeaderChange,
  disconnectedAfterServersRestart,
  reconnectedMissing,
  oneOfManyLost,
  unknownGaugeStuck,
  streamGap,
  streamGapServersDown,
];

/** Re-exported for the report of a mutant: the task events of an allocation payload. */
export { taskEventsOf };

// ---- the matrix ----------------------------------------------------------------------------------

/** One cell: what the oracle said of the mutant, and whether that kills it. */
export interface MutantOutcome {
  mutation: string;
  /** `n/a` when the mutation does not apply to this run (the reason says why). */
  verdict: 'pass' | 'fail' | 'unknown' | 'n/a';
  killed: boolean | undefined;
  /** The first reason the oracle gave, or why the mutation does not apply. */
  reason: string;
  /** Every reason the oracle gave (the checks that did not pass). */
  reasons: string[];
}

export interface MutantRow {
  run: string;
  scenario: string;
  /** The unmutated run's verdict: a mutation matrix means something only over a passing run. */
  base: 'pass' | 'fail' | 'unknown';
  cells: MutantOutcome[];
}

/**
 * Every mutation over one passing run, judged by `judge` (the same verdict a real run would get:
 * buildResult with the scenario). Killed: the verdict the mutation calls for.
 */
export function mutateRun(
  run: string,
  scenario: string,
  trace: Positioned[],
  roles: MutationRoles,
  judge: (trace: Positioned[]) => { verdict: 'pass' | 'fail' | 'unknown'; reasons: Array<{ check: string; detail: string }> },
  expect?: Expectations,
): MutantRow {
  const base = judge(trace).verdict;
  const cells = MUTATIONS.map((m): MutantOutcome => {
    const mutant = m.apply(trace, roles, expect);
    if (typeof mutant === 'string') return { mutation: m.name, verdict: 'n/a', killed: undefined, reason: mutant, reasons: [] };
    const result = judge(mutant);
    const reasons = result.reasons.map((r) => `${r.check}: ${r.detail}`);
    return {
      mutation: m.name,
      verdict: result.verdict,
      killed: result.verdict === m.killedAs,
      reason: reasons[0] ?? 'no reason: the oracle passed it',
      reasons,
    };
  });
  return { run, scenario, base, cells };
}

/** The matrix as a table a person reads: FAIL / UNKNOWN / PASS (survived) / n.a. */
export function formatMatrix(rows: MutantRow[]): string {
  const names = MUTATIONS.map((m) => m.name);
  const cell = (c: MutantOutcome) =>
    c.verdict === 'n/a' ? 'n.a.' : c.verdict === 'pass' ? 'PASS (survived)' : `${c.verdict.toUpperCase()}${c.killed ? '' : ' (wrong)'}`;
  const header = ['run', 'base', ...names];
  const body = rows.map((r) => [r.run, r.base.toUpperCase(), ...r.cells.map(cell)]);
  return table([header, ...body]).join('\n');
}

/** The matrix's problems: a base that does not pass, a mutant that survived or was killed the wrong way. */
export function matrixProblems(rows: MutantRow[]): string[] {
  const problems: string[] = [];
  for (const r of rows) {
    if (r.base !== 'pass') problems.push(`${r.run}: the unmutated run is ${r.base}, so its mutants prove nothing`);
    for (const c of r.cells) {
      if (c.killed === false)
        problems.push(
          `${r.run} x ${c.mutation}: ${c.verdict === 'pass' ? 'survived (PASS)' : `${c.verdict.toUpperCase()}, expected ${MUTATIONS.find((m) => m.name === c.mutation)!.killedAs.toUpperCase()}`}: ${c.reason}`,
        );
    }
  }
  return problems;
}
