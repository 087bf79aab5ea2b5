// Phase timings of a run, from its trace, against the bounds Nomad's timers imply (NOMAD-FACTS §3).
// Upper bounds are reported, not asserted: a slow machine is not a Nomad bug. Pure.
import { normalise, transitions, type Normalised } from '../trace/normalise.ts';
import { firstFault } from './checker.ts';
import type { Positioned } from '../trace/types.ts';

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
  const partition = firstFault(n, 'partition')?.t;
  const heal = firstFault(n, 'heal')?.t;
  const firstClient = (role: string, status: string, after?: number) =>
    n.byRole.get(role)?.observations.find((o) => o.client === status && (after === undefined || o.t >= after))?.t;
  const original = n.byRole.get(roles.original);
  const node = original ? n.nodes.get(original.node) : undefined;
  const nodeStatus = (status: string, after?: number) => (node ? transitions(node.observations, (o) => o.status).find((v) => v.value === status && (after === undefined || v.t >= after))?.t : undefined);
  const [labStart, labEnd] = stepSpan(n, 'lab up');
  const [registered] = stepSpan(n, 'register job');
  const placedAt = [roles.original, ...roles.others].map((r) => firstClient(r, 'running'));
  const placed = placedAt.every((t) => t !== undefined) ? Math.max(...(placedAt as number[])) : undefined;
  const reconnected = original?.observations.find((o) => heal !== undefined && o.t >= heal && o.taskEvents.some((e) => e.Type === 'Reconnected'))?.t;

  // DROP -> the leader's timer fires within ttl + grace, ttl in [min, 2*min); then an eval and a plan (< 1 s).
  const detect = 2 * timers.minHeartbeatTtl + timers.heartbeatGrace + 1;
  // Heal -> the client's retry (1-2 s after a short outage), Node.UpdateAlloc, then <= one TTL in initializing.
  const reconnect = 2 + 2 * timers.minHeartbeatTtl + 1;
  const source = `min_heartbeat_ttl ${timers.minHeartbeatTtl}s, heartbeat_grace ${timers.heartbeatGrace}s (NOMAD-FACTS §3)`;
  return [
    { phase: 'lab up', seconds: sec(labStart, labEnd), bound: undefined, boundSource: undefined },
    { phase: 'placement (register -> all running)', seconds: sec(registered, placed), bound: undefined, boundSource: undefined },
    { phase: 'partition -> node disconnected', seconds: sec(partition, nodeStatus('disconnected', partition)), bound: detect - 1, boundSource: source },
    { phase: 'partition -> alloc unknown', seconds: sec(partition, firstClient(roles.original, 'unknown', partition)), bound: detect, boundSource: source },
    { phase: 'partition -> replacement running', seconds: sec(partition, firstClient(roles.replacement, 'running', partition)), bound: detect + 2, boundSource: `${source}; replacement placed at once (<= 1.6.2 with max_client_disconnect, 1.8-1.11.1 with disconnect{})` },
    { phase: 'heal -> Reconnected', seconds: sec(heal, reconnected), bound: reconnect, boundSource: source },
    { phase: 'heal -> node ready', seconds: sec(heal, nodeStatus('ready', heal)), bound: reconnect, boundSource: source },
    { phase: 'total', seconds: sec(n.first, n.last), bound: undefined, boundSource: undefined },
  ];
}
