// Figures of a mass fault (one partition step cutting many clients at once, one heal step healing
// them all: a reconnect storm), from the trace: how far apart the servers noticed the cut clients
// (detection spread), how long the storm took (heal to the last node ready, the last Reconnected), and
// when the servers settled (heal to the job's count running and the unknown gauge back at 0). Reported
// beside the phase timings, not asserted: a slow machine is not a Nomad bug. Pure.
import { transitions, type Normalised } from '../trace/normalise.ts';
import type { Positioned } from '../trace/types.ts';
import { firstOfGroup, type FaultEvent } from './faults.ts';

export interface StormFigures {
  hosts: string[];
  /** The partition step: when its first command started, and when the last host's rules were in. */
  cutStarted: number;
  cutInEffect: number;
  /** Per host: when the servers marked its node disconnected (or down), harness clock. */
  detected: Array<{ host: string; t: number; status: string; line: number }>;
  healStarted: number | undefined;
  /** When the last host's rules were gone: the storm is measured from here. */
  healed: number | undefined;
  lastReady: { host: string; t: number; line: number } | undefined;
  lastReconnected: { role: string; t: number; line: number } | undefined;
  /** The job's count running (desired run) again, for good, after the heal. */
  countRunning: { count: number; t: number; line: number } | undefined;
  /** The unknown gauge back at 0 after the heal. */
  gaugeZero: { t: number; line: number } | undefined;
  /** Heal to the last of the three above; undefined while one of them never came. */
  settled: number | undefined;
}

/** The first mass partition (a group of fault events) and the first mass heal of the same hosts after it. */
function massSteps(n: Normalised): { cut: FaultEvent[]; heal: FaultEvent[] } | undefined {
  const groups = n.faults.filter((f) => f.group !== undefined && f.detail !== 'cleanup').filter(firstOfGroup());
  const cutHead = groups.find((f) => f.fault === 'partition');
  if (!cutHead) return undefined;
  const cut = n.faults.filter((f) => f.group === cutHead.group);
  const hosts = new Set(cut.map((f) => f.host));
  const healHead = groups.find((f) => f.fault === 'heal' && f.line > cutHead.line && hosts.has(f.host));
  return { cut, heal: healHead ? n.faults.filter((f) => f.group === healHead.group) : [] };
}

/** The job's group count from the job read back (the sum over groups). */
function jobCount(trace: Positioned[]): number | undefined {
  const read = [...trace].reverse().find((e) => e.kind === 'job-read');
  if (read?.kind !== 'job-read') return undefined;
  const groups = (read.job['TaskGroups'] ?? []) as Array<{ Count?: number }>;
  return groups.reduce((sum, g) => sum + (g.Count ?? 0), 0);
}

export function stormFigures(trace: Positioned[], n: Normalised): StormFigures | undefined {
  const steps = massSteps(n);
  if (!steps) return undefined;
  const hosts = steps.cut.map((f) => f.host);
  const cutStarted = Math.min(...steps.cut.map((f) => f.began ?? f.t));
  const cutInEffect = Math.max(...steps.cut.map((f) => f.t));
  const detected = steps.cut.flatMap((f) => {
    const o = n.nodes.get(f.host)?.observations.find((x) => x.t > (f.began ?? f.t) && (x.status === 'disconnected' || x.status === 'down'));
    return o ? [{ host: f.host, t: o.t, status: o.status, line: o.line }] : [];
  });
  detected.sort((a, b) => a.t - b.t);
  const healStarted = steps.heal.length ? Math.min(...steps.heal.map((f) => f.began ?? f.t)) : undefined;
  const healed = steps.heal.length ? Math.max(...steps.heal.map((f) => f.t)) : undefined;
  const base = {
    hosts,
    cutStarted,
    cutInEffect,
    detected,
    healStarted,
    healed,
    lastReady: undefined,
    lastReconnected: undefined,
    countRunning: undefined,
    gaugeZero: undefined,
    settled: undefined,
  };
  if (healed === undefined) return base;

  // The last cut node to turn ready after the heal (every one must have, or there is no last).
  const ready = hosts.map((h) => {
    const node = n.nodes.get(h);
    const o = node ? transitions(node.observations, (x) => x.status).find((v) => v.value === 'ready' && v.t >= (healStarted ?? healed)) : undefined;
    return o ? { host: h, t: o.t, line: o.line } : undefined;
  });
  const lastReady = ready.every((r) => r !== undefined) ? ready.sort((a, b) => a!.t - b!.t).at(-1) : undefined;

  // The last allocation cut off to show its Reconnected event, as the stream first showed it.
  const cutAt = new Map(steps.cut.map((f) => [f.host, f.began ?? f.t]));
  const originals = n.allocs.filter((a) => cutAt.has(a.node) && a.observations[0] !== undefined && a.observations[0].t < cutAt.get(a.node)!);
  const reconnected = originals.map((a) => {
    const o = a.observations.find((x) => x.t >= (healStarted ?? healed) && x.taskEvents.some((e) => e.Type === 'Reconnected'));
    return o ? { role: a.role, t: o.t, line: o.line } : undefined;
  });
  const lastReconnected = reconnected.length > 0 && reconnected.every((r) => r !== undefined) ? reconnected.sort((a, b) => a!.t - b!.t).at(-1) : undefined;

  // Running allocations (client running, desired run) over time, by the stream: when the count last
  // became the job's count after the heal, staying there to the end.
  const count = jobCount(trace);
  let countRunning: StormFigures['countRunning'];
  if (count !== undefined) {
    const state = new Map<string, boolean>();
    const observations = n.allocs.flatMap((a) => a.observations.map((o) => ({ id: a.id, o }))).sort((x, y) => x.o.index - y.o.index || x.o.line - y.o.line);
    let running = 0;
    let became: { t: number; line: number } | undefined;
    for (const { id, o } of observations) {
      const now = o.client === 'running' && o.desired === 'run';
      const was = state.get(id) ?? false;
      state.set(id, now);
      const before = running;
      running += Number(now) - Number(was);
      if (running === count && before !== count) became = { t: o.t, line: o.line };
    }
    if (running === count && became !== undefined) countRunning = { count, t: Math.max(became.t, healed), line: became.line };
  }

  // The unknown gauge's last change, when it is to 0 and after the heal.
  const series = n.metrics.find((m) => m.name === 'nomad.nomad.job_summary.unknown');
  const last = series?.points.at(-1);
  const gaugeZero = last !== undefined && last.value === 0 && last.t >= healed ? { t: last.t, line: last.line } : undefined;

  const settled = lastReady && countRunning && gaugeZero ? Math.max(lastReady.t, countRunning.t, gaugeZero.t) - healed : undefined;
  return { ...base, lastReady, lastReconnected, countRunning, gaugeZero, settled };
}

const s = (ms: number | undefined) => (ms === undefined ? 'never' : `${(ms / 1000).toFixed(2)}s`);

/** The figures as lines a person reads (terminal, trace note, findings). */
export function describeStorm(f: StormFigures): string[] {
  const first = f.detected[0];
  const lastD = f.detected.at(-1);
  const lines = [
    `mass cut of ${f.hosts.length} clients: rules in on all of them in ${s(f.cutInEffect - f.cutStarted)}`,
    first && lastD
      ? `detection: ${f.detected.length} of ${f.hosts.length} nodes marked, first ${first.host} ${s(first.t - f.cutStarted)} after the cut (line ${first.line}), last ${lastD.host} ${s(lastD.t - f.cutStarted)} (line ${lastD.line}): spread ${s(lastD.t - first.t)}`
      : `detection: no node marked disconnected after the cut`,
  ];
  if (f.healed === undefined) return [...lines, 'no mass heal'];
  return [
    ...lines,
    `mass heal: rules gone on all ${f.hosts.length} in ${s(f.healed - (f.healStarted ?? f.healed))}`,
    `reconnect storm: heal -> last node ready ${f.lastReady ? `${s(f.lastReady.t - f.healed)} (${f.lastReady.host}, line ${f.lastReady.line})` : 'never (a node did not turn ready)'}; heal -> last Reconnected ${f.lastReconnected ? `${s(f.lastReconnected.t - f.healed)} (${f.lastReconnected.role}, line ${f.lastReconnected.line})` : 'never (an original got no Reconnected)'}`,
    `settle: heal -> ${f.countRunning?.count ?? 'the job count'} running and the unknown gauge 0: ${s(f.settled)}${f.countRunning ? ` (count at line ${f.countRunning.line}` : ' (count never'}${f.gaugeZero ? `, gauge at line ${f.gaugeZero.line})` : ', gauge never back at 0)'}`,
  ];
}
