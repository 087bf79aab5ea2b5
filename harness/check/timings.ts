// Phase timings of a run, from its trace, against the bounds Nomad's timers imply for the fault used
// (NOMAD-FACTS §3). Upper bounds are reported, not asserted: a slow machine is not a Nomad bug; a
// phase over its bound is shown in red, a signal worth a look. The lower bound (no disconnected
// before the fault + heartbeat_grace) is a check of the checker's. Pure.
import { normalise, transitions, type Normalised } from '../trace/normalise.ts';
import { firstFault, rescheduleDelaySeconds } from './checker.ts';
import { RESCHEDULE_ON_DISCONNECT } from './releases.ts';
import { inRange } from '../util/versions.ts';
import { partitionMode } from './faults.ts';
import type { Positioned } from '../trace/types.ts';
import { stormFigures } from './storm.ts';

export interface PhaseTiming {
  phase: string;
  seconds: number | undefined;
  /** Upper bound in seconds, where Nomad's timers give one. */
  bound: number | undefined;
  boundSource: string | undefined;
}

export interface Timers {
  minHeartbeatTtl: number;
  heartbeatGrace: number;
}

const sec = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : (b - a) / 1000);

function stepSpan(n: Normalised, step: string): [number | undefined, number | undefined] {
  const s = n.steps.filter((e) => e.step === step);
  return [s.find((e) => e.phase === 'start')?.t, s.find((e) => e.phase === 'end')?.t];
}

export function phaseTimings(trace: Positioned[], roles: { original: string; replacement: string; others: string[] }, timers: Timers): PhaseTiming[] {
  const n = normalise(trace);
  const cutFault = firstFault(n, 'partition');
  const partition = cutFault?.t;
  const heal = firstFault(n, 'heal')?.t;
  const firstClient = (role: string, status: string, after?: number) =>
    n.byRole.get(role)?.observations.find((o) => o.client === status && (after === undefined || o.t >= after))?.t;
  const original = n.byRole.get(roles.original);
  const node = original ? n.nodes.get(original.node) : undefined;
  const nodeStatus = (status: string, after?: number) =>
    node ? transitions(node.observations, (o) => o.status).find((v) => v.value === status && (after === undefined || v.t >= after))?.t : undefined;
  const [labStart, labEnd] = stepSpan(n, 'lab up');
  const [registered] = stepSpan(n, 'register job');
  const placedAt = [roles.original, ...roles.others].map((r) => firstClient(r, 'running'));
  const placed = placedAt.every((t) => t !== undefined) ? Math.max(...(placedAt as number[])) : undefined;
  const reconnectedAt = original?.observations.find((o) => heal !== undefined && o.t >= heal && o.taskEvents.some((e) => e.Type === 'Reconnected'))?.t;

  // The bounds model the fault used. With the seed's DROP on the client's INPUT only, the client's
  // next heartbeat still goes out on the open connection and reaches the leader (only the reply is
  // dropped), so the leader's timer restarts once after the cut: it fires at the latest one TTL (to
  // the next heartbeat) + one TTL + grace after it, a TTL being at most 2 x min_heartbeat_ttl. When
  // the client's packets to the servers are dropped too (mode output or both), no heartbeat gets
  // through: one TTL + grace. An agent kill is like the latter. Then an evaluation and a plan (< 1 s)
  // mark the allocation unknown, and the replacement starts (< 1 s more).
  const ttl = 2 * timers.minHeartbeatTtl;
  const inputOnly = cutFault?.fault === 'partition' && partitionMode(cutFault.argv) === 'input';
  const detect = (inputOnly ? 2 * ttl : ttl) + timers.heartbeatGrace;
  // After the heal, the first packet through waits for a retransmission: TCP doubles its retry interval
  // while cut off (the leader's reply, the client's SYNs), so the wait can be as long as the cut lasted.
  // The reply carries a new TTL: the next heartbeat, which turns the node initializing, can be a TTL
  // later; then retries 1-2 s apart once overdue, Node.UpdateAlloc and the Reconnected event (4 s in
  // all). The node is ready at most one TTL after that. Measured over 220 runs (docs/findings.md):
  // up to cut + 7.9 s, inside cut + TTL + 4 s.
  const cut = heal !== undefined && partition !== undefined ? (heal - partition) / 1000 : undefined;
  const reconnected = cut === undefined ? undefined : Math.round((cut + ttl + 4) * 10) / 10;
  const ready = reconnected === undefined ? undefined : reconnected + ttl;
  // From 1.6.3 (and 1.5.10, 1.4.14) the replacement of an unknown allocation waits for the reschedule delay.
  const version = n.run?.nomad.version ?? '';
  const group = n.byRole.get(roles.replacement)?.group ?? n.byRole.get(roles.original)?.group;
  const delayed = inRange(version, RESCHEDULE_ON_DISCONNECT) && group !== undefined ? rescheduleDelaySeconds(trace, group) : undefined;
  const replacementSource =
    delayed === undefined
      ? 'replacement placed at once (<= 1.6.2 with max_client_disconnect, 1.8-1.11.1 with disconnect{})'
      : `replacement after the reschedule delay (${delayed}s) on Nomad ${version} (#18701; NOMAD-FACTS §0 item 4)`;
  const source = `min_heartbeat_ttl ${timers.minHeartbeatTtl}s, heartbeat_grace ${timers.heartbeatGrace}s${inputOnly ? ', an INPUT-only DROP lets one heartbeat through' : ''} (NOMAD-FACTS §3; docs/findings.md)`;
  const reconnectSource = `the cut lasted ${cut?.toFixed(1) ?? '?'}s: TCP retransmission backoff, then Node.UpdateAlloc and <= one TTL (${ttl}s) in initializing (NOMAD-FACTS §3)`;
  return [
    { phase: 'lab up', seconds: sec(labStart, labEnd), bound: undefined, boundSource: undefined },
    { phase: 'placement (register -> all running)', seconds: sec(registered, placed), bound: undefined, boundSource: undefined },
    { phase: 'partition -> node disconnected', seconds: sec(partition, nodeStatus('disconnected', partition)), bound: detect, boundSource: source },
    { phase: 'partition -> alloc unknown', seconds: sec(partition, firstClient(roles.original, 'unknown', partition)), bound: detect + 1, boundSource: source },
    {
      phase: 'partition -> replacement running',
      seconds: sec(partition, firstClient(roles.replacement, 'running', partition)),
      bound: detect + 2 + (delayed ?? 0),
      boundSource: `${source}; ${replacementSource}`,
    },
    { phase: 'heal -> Reconnected', seconds: sec(heal, reconnectedAt), bound: reconnected, boundSource: reconnectSource },
    { phase: 'heal -> node ready', seconds: sec(heal, nodeStatus('ready', heal)), bound: ready, boundSource: reconnectSource },
    ...stormPhases(trace, n, detect, timers),
    { phase: 'total', seconds: sec(n.first, n.last), bound: undefined, boundSource: undefined },
  ];
}

/**
 * A mass cut's figures (storm.ts) as phases: detection spread and the reconnect storm. Every node's
 * timer fires between heartbeat_grace and the detection bound after the cut, so the spread is bounded
 * by their difference; the storm and the settling have no bound from the timers (the servers work
 * through every node's reconnect and evaluation at once), only the measure.
 */
function stormPhases(trace: Positioned[], n: Normalised, detect: number, timers: Timers): PhaseTiming[] {
  const f = stormFigures(trace, n);
  if (!f) return [];
  const first = f.detected[0];
  const last = f.detected.at(-1);
  const all = f.detected.length === f.hosts.length;
  const k = f.hosts.length;
  const source = `each node's timer fires (grace, bound] after the cut: min_heartbeat_ttl ${timers.minHeartbeatTtl}s, heartbeat_grace ${timers.heartbeatGrace}s (NOMAD-FACTS §3)`;
  const from = (t: number | undefined, base: number | undefined) => (t === undefined || base === undefined ? undefined : (t - base) / 1000);
  return [
    { phase: `mass cut -> first of ${k} nodes disconnected`, seconds: from(first?.t, f.cutStarted), bound: detect, boundSource: source },
    { phase: `mass cut -> last of ${k} nodes disconnected`, seconds: all ? from(last?.t, f.cutStarted) : undefined, bound: detect, boundSource: source },
    {
      phase: `detection spread (first -> last of ${k})`,
      seconds: all && first && last ? (last.t - first.t) / 1000 : undefined,
      bound: detect - timers.heartbeatGrace,
      boundSource: source,
    },
    { phase: `mass heal -> last of ${k} nodes ready`, seconds: from(f.lastReady?.t, f.healed), bound: undefined, boundSource: undefined },
    { phase: `mass heal -> last Reconnected`, seconds: from(f.lastReconnected?.t, f.healed), bound: undefined, boundSource: undefined },
    {
      phase: `mass heal -> settled (${f.countRunning?.count ?? 'count'} running, unknown gauge 0)`,
      seconds: f.settled === undefined ? undefined : f.settled / 1000,
      bound: undefined,
      boundSource: undefined,
    },
  ];
}
