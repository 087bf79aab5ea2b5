// What a reconnect must look like: the strict reconnect steps (#15808) and an allocation re-attached,
// not restarted. Pure.
import { transitions, type AllocView, type Normalised, type NodeObservation } from '../trace/normalise.ts';
import { inRange } from '../util/versions.ts';
import type { NoRestartExpectation, StrictReconnectExpectation } from './expectations.ts';
import { faultAt } from './faults.ts';
import type { Outcome } from './outcome.ts';
import { STRICT_RECONNECT } from './releases.ts';

const short = (id: string) => id.slice(0, 8);

/**
 * On a release with the strict steps, the node of `alloc` reconnecting after `after`: passes
 * `initializing` before `ready`; turns `ready` only after the servers recorded the allocation `running`
 * again (Raft index order); and gets no allocation of the job placed on it between `disconnected` and
 * `ready`.
 */
export function strictReconnect(n: Normalised, e: StrictReconnectExpectation & { alloc: string }): Outcome[] {
  const after = e.after ?? 'heal';
  const name = (what: string) => `strict reconnect: node of ${e.alloc} ${what}`;
  const version = n.run?.nomad.version ?? '';
  if (!inRange(version, STRICT_RECONNECT)) {
    return [
      {
        check: name('(not applicable)'),
        kind: 'nomad',
        verdict: 'pass',
        detail: `Nomad ${version || '(unknown version)'} predates the strict reconnect steps (${STRICT_RECONNECT}): not applicable`,
        source: e.source,
      },
    ];
  }
  const a = n.byRole.get(e.alloc);
  const fault = faultAt(n, after);
  const node = a ? n.nodes.get(a.node) : undefined;
  if (!a || !fault || !node) {
    const why = !a ? `no allocation ${e.alloc} in the trace` : !fault ? `no ${after} in the trace` : `no events for node ${a.node}`;
    return [{ check: name('reconnects in strict steps'), kind: 'nomad', verdict: 'fail', detail: why, source: e.source }];
  }
  const out: Outcome[] = [];
  const history = transitions(node.observations, (o) => o.status);
  // Where this disconnected stretch began (a node can be reported disconnected several times in a row).
  const disconnected = [...node.observations]
    .map((o, i) => ({ o, prev: node.observations[i - 1] }))
    .filter(({ o, prev }) => o.status === 'disconnected' && o.t <= fault.t && prev?.status !== 'disconnected')
    .at(-1)?.o;
  if (!disconnected) {
    const history = transitions(node.observations, (o) => o.status)
      .map((h) => h.value)
      .join(' -> ');
    return [
      {
        check: name('reconnects in strict steps'),
        kind: 'nomad',
        verdict: 'fail',
        detail: `${node.host} was never seen disconnected before the ${after} (line ${fault.line}); whole history: ${history}`,
        source: e.source,
      },
    ];
  }
  const since = node.observations.filter((o) => o.t >= fault.t || o.index > disconnected.index);
  const init = since.find((o) => o.status === 'initializing');
  const ready = since.find((o) => o.status === 'ready' && (init === undefined || o.index > init.index));
  const whole = `whole history: ${history.map((h) => h.value).join(' -> ')}`;
  out.push({
    check: name('passes initializing before ready'),
    kind: 'nomad',
    verdict: init && ready ? 'pass' : 'fail',
    detail:
      init && ready
        ? `${node.host}: initializing at index ${init.index} (line ${init.line}), ready at index ${ready.index} (line ${ready.line})`
        : `${node.host}: expected disconnected -> initializing -> ready after the ${after} (line ${fault.line}), observed ${init ? 'initializing and no ready after it' : 'no initializing'}; ${whole}`,
    source: e.source,
  });
  if (!ready) return out;
  // The servers' record of the allocation running again after it was unknown.
  // This reconnect's unknown: the last one between this disconnected and this ready (a flapping link
  // has one per cut), and the allocation's first running after it.
  const unknownAt = a.observations.filter((o) => o.client === 'unknown' && o.index > disconnected.index && o.index < ready.index).at(-1);
  const runningAgain = unknownAt ? a.observations.find((o) => o.index > unknownAt.index && o.client === 'running') : undefined;
  // Where the allocation comes back (not where it failed or was stopped while cut off), the node is
  // ready only once the servers hold the client's update of it.
  if (runningAgain) {
    const raced = runningAgain.index < ready.index ? undefined : timerRace(node.observations, init, ready, n.run?.timers);
    out.push({
      check: name(`turns ready only after ${e.alloc} is running again`),
      kind: 'nomad',
      verdict: runningAgain.index < ready.index || raced ? 'pass' : 'fail',
      detail: `${e.alloc} running again at index ${runningAgain.index} (line ${runningAgain.line}); ${node.host} ready at index ${ready.index} (line ${ready.line})${raced ? `; ${raced}` : ''}`,
      source: e.source,
      ...(raced ? { notes: [`${node.host}: ${raced}`] } : {}),
    });
  }
  const from = disconnected.index;
  const within = n.allocs.filter((x) => x.node === node.host && x.createIndex > from && x.createIndex < ready.index);
  // The plan applier's documented race (nomad/plan_apply.go v1.6.0 l.727-729, evaluateNodePlan: "a
  // potential race between when we do this check and when the Raft commit happens"): a plan checked
  // against the optimistic snapshot of the previous plan, taken before the node's status update, can
  // commit a placement on the node in the first plan result after it went disconnected. The next plan
  // sees the node disconnected. Only that one plan result is the race; a placement in any later one is
  // Nomad placing on a node it knows is disconnected or reconnecting: a FAIL.
  const firstPlan = n.planResults.find((i) => i > from);
  const raced = within.filter((x) => x.createIndex === firstPlan && firstPlan < (init?.index ?? ready.index));
  const placed = within.filter((x) => !raced.includes(x));
  const list = (xs: AllocView[]) => xs.map((x) => `${x.role} (${short(x.id)}) at index ${x.createIndex}`).join(', ');
  const planRace = raced.length
    ? `${list(raced)} placed in the first plan result after the disconnect (index ${from}), the plan applier's race (plan_apply.go evaluateNodePlan), not counted`
    : '';
  const racedNote = planRace ? `; ${planRace}` : '';
  out.push({
    check: name('gets no allocation between disconnected and ready'),
    kind: 'nomad',
    verdict: placed.length === 0 ? 'pass' : 'fail',
    detail:
      placed.length === 0
        ? `nothing placed on ${node.host} between index ${from} and ${ready.index}${racedNote}`
        : `placed on ${node.host} while it reconnected (between index ${from} and ${ready.index}): ${list(placed)}${racedNote}`,
    source: e.source,
    ...(planRace ? { notes: [`${node.host}: ${planRace}`] } : {}),
  });
  return out;
}

/**
 * How soon after `initializing` a `down` counts as the timer race below. A timer that expires for real
 * was reset by the client's status update and fires a TTL + grace later (at least 4 s in the labs:
 * min_heartbeat_ttl 2 s, heartbeat_grace 2 s); the race's `down` came 28 ms after. At most half of
 * TTL + grace, so a real expiry can never fall inside it.
 */
export const TIMER_RACE_MS = 1000;

/** The words every timer-race note holds (the checker counts them: more than one a run is no race). */
export const TIMER_RACE = "Nomad's heartbeat-timer race";

/**
 * Nomad's heartbeat-timer race on a reconnect, which skips the strict steps: the server's timer of the
 * disconnected node (re-armed every TTL while it stays disconnected) fires as the client's status update
 * turns it `initializing`; an expiry that finds the node initializing marks it `down` (nomad/heartbeat.go
 * v1.6.0 disconnectState l.187, "Exit if the node is already down or just initializing", unchanged in
 * 2.0.5), and the client's next heartbeat takes it from `down` straight to `ready` ("Node reregistered by
 * heartbeat"): UpdateStatus holds back only initializing and disconnected nodes (nomad/node_endpoint.go
 * v1.6.0 l.593-629). Seen once in some 20 mass-disconnect runs (25 reconnects each; run
 * 20261130-001057-6243, 4 labs side by side: client11 initializing, down 28 ms later, ready 160 ms after
 * that, its allocation's update 843 ms later). Returns the note when the node's history between
 * `initializing` and `ready` is exactly that: `initializing` only before the `down`, `down` only after
 * it; the `down` adding "Node heartbeat missed" within the window of `initializing`, by the recorder's
 * clock and, where the trace has them, by the servers' (the event's Timestamp against StatusUpdatedAt,
 * whole seconds, so one second of slack); the `ready` adding "Node reregistered by heartbeat". Else
 * undefined.
 */
export function timerRace(
  observations: NodeObservation[],
  init: NodeObservation | undefined,
  ready: NodeObservation,
  timers?: { minHeartbeatTtl: number; heartbeatGrace: number },
): string | undefined {
  if (!init) return undefined;
  const window = Math.min(TIMER_RACE_MS, timers ? ((timers.minHeartbeatTtl + timers.heartbeatGrace) * 1000) / 2 : TIMER_RACE_MS);
  const between = observations.filter((o) => o.index > init.index && o.index < ready.index);
  const at = between.findIndex((o) => o.status === 'down');
  const down = between[at];
  if (!down || between.slice(0, at).some((o) => o.status !== 'initializing') || between.slice(at).some((o) => o.status !== 'down')) return undefined;
  if (down.event !== 'Node heartbeat missed' || ready.event !== 'Node reregistered by heartbeat') return undefined;
  if (down.t - init.t > window) return undefined;
  const serverGap = down.eventAt !== undefined && init.statusUpdatedAt !== undefined ? down.eventAt - init.statusUpdatedAt : undefined;
  if (serverGap !== undefined && (serverGap < 0 || serverGap > window + 1000)) return undefined;
  return (
    `ready came through down (index ${down.index}, line ${down.line}, ${down.t - init.t} ms after initializing, "Node heartbeat missed"), ` +
    `${TIMER_RACE} (the disconnected node's timer fired as it reconnected, and down -> ready skips the strict steps; nomad/heartbeat.go disconnectState, nomad/node_endpoint.go UpdateStatus), not counted`
  );
}

const RESTART_EVENTS = new Set(['Restarting', 'Started', 'Restart Signaled', 'Task Setup', 'Received']);

/** The allocation was re-attached after the fault, not restarted: no start events, same restart count and start time. */
export function noRestart(n: Normalised, e: NoRestartExpectation): Outcome {
  const name = `no restart: ${e.alloc} re-attached after the ${e.after}`;
  const a = n.byRole.get(e.alloc);
  const fault = faultAt(n, e.after);
  if (!a || !fault)
    return {
      check: name,
      kind: 'nomad',
      verdict: 'fail',
      detail: !a ? `no allocation ${e.alloc} in the trace` : `no ${e.after} in the trace`,
      source: e.source,
    };
  const before = [...a.observations].reverse().find((o) => o.t < fault.t);
  if (!before)
    return {
      check: name,
      kind: 'nomad',
      verdict: 'fail',
      detail: `${e.alloc} (${short(a.id)}) was not seen before the ${e.after} (line ${fault.line})`,
      source: e.source,
    };
  const key = (t: { task: string; Type: string; Time: number }) => `${t.task}/${t.Type}/${t.Time}`;
  const known = new Set(before.taskEvents.map(key));
  const problems: string[] = [];
  for (const o of a.observations.filter((x) => x.t >= fault.t)) {
    for (const ev of o.taskEvents) {
      if (known.has(key(ev))) continue;
      known.add(key(ev));
      if (RESTART_EVENTS.has(ev.Type)) problems.push(`task ${ev.task}: "${ev.Type}" event at trace line ${o.line}`);
    }
  }
  const finalStates = a.final?.TaskStates ?? {};
  const last = a.final
    ? Object.fromEntries(Object.entries(finalStates).map(([task, st]) => [task, { restarts: st.Restarts, startedAt: st.StartedAt }]))
    : (a.observations.at(-1)?.tasks ?? {});
  for (const [task, then] of Object.entries(before.tasks)) {
    const now = last[task];
    if (!now) continue;
    if (now.restarts !== then.restarts) problems.push(`task ${task}: Restarts ${then.restarts} -> ${now.restarts}`);
    if (then.startedAt && now.startedAt && now.startedAt !== then.startedAt) problems.push(`task ${task}: StartedAt ${then.startedAt} -> ${now.startedAt}`);
  }
  return {
    check: name,
    kind: 'nomad',
    verdict: problems.length === 0 ? 'pass' : 'fail',
    detail:
      problems.length === 0
        ? `${e.alloc} (${short(a.id)}): no start event after the ${e.after} (line ${fault.line}); restarts and start time unchanged (${Object.entries(
            before.tasks,
          )
            .map(([t, s]) => `${t}: ${s.restarts} restarts, started ${s.startedAt ?? '?'}`)
            .join('; ')})`
        : `${e.alloc} (${short(a.id)}) was restarted after the ${e.after} (line ${fault.line}): ${problems.join('; ')}`,
    source: e.source,
  };
}
