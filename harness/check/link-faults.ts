// Whether each link fault (a `degrade` with a profile) took effect: its loss rules listed in the
// host's namespace right after and still there right before the restore, its delay qdisc listed, and
// its effect measured: the loss probe's failed connects within the binomial bound of the profile's
// rate, the connect time under delay near the delay, and after the restore the same probe getting
// through. A fault not proven is unknown: the test did not happen. (A flap's cuts and heals are
// partitions and heals, proven as such by faults.ts.) Pure.
import type { Normalised } from '../trace/normalise.ts';
import type { Positioned, TraceEvent } from '../trace/types.ts';
import { lossRuleListed, plausibleFailures } from '../faults/links.ts';
import { parseDuration } from '../util/duration.ts';
import { lostAfterSeconds } from './job-read.ts';
import type { Outcome } from './outcome.ts';

type Fault = Positioned<Extract<TraceEvent, { kind: 'fault' }>>;
type Probe = Positioned<Extract<TraceEvent, { kind: 'link-probe' }>>;

const SOURCE = 'harness: a fault counts only when seen in effect';

/** After a restore, at most this share of the probe's connects may fail: else the probe proves nothing. */
export const RESTORED_MAX_FAILED = 0.1;

/** The delay a netem argv adds, and its jitter, in ms. */
function netemOf(argv: string[][]): { delayMs: number; jitterMs: number } | undefined {
  const a = argv.find((x) => x.includes('netem'));
  if (!a) return undefined;
  const at = a.indexOf('delay');
  const jitter = a[at + 2];
  return { delayMs: parseDuration(a[at + 1]!), jitterMs: jitter !== undefined && /^\d/.test(jitter) ? parseDuration(jitter) : 0 };
}

/** One probe's count against its bound, in words; `ok` when plausible. */
export function judgeProbe(p: { sent: number; dropped: number; expectedRate: number; target: string }): { ok: boolean; detail: string } {
  const { low, high } = plausibleFailures(p.sent, p.expectedRate);
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  const ok = p.sent > 0 && p.dropped >= low && p.dropped <= high;
  return {
    ok,
    detail: `${p.dropped} of ${p.sent} connects to ${p.target} failed (${p.sent > 0 ? pct(p.dropped / p.sent) : '-'}; expected ${pct(p.expectedRate)}, plausible ${low}..${high})`,
  };
}

export function linkFaultsTookEffect(trace: Positioned[], n: Normalised): Outcome[] {
  const out: Outcome[] = [];
  const lostAfter = lostAfterSeconds(trace);
  for (const f of n.faults.filter((x) => x.fault === 'degrade')) out.push(degradeTookEffect(trace, n, f), ...reconnectsAfterLoss(n, f, lostAfter));
  return out;
}

/**
 * Whether a degraded link cost its client a heartbeat is luck (docs/findings.md, "Link faults"); what
 * Nomad must do when it did is not: every allocation of that node that went unknown comes back with
 * a Reconnected task event (the client re-attaches, NOMAD-FACTS 1.5). One outcome per degrade: how
 * often the node went disconnected (a pass when never: nothing to judge), else one per allocation.
 * From the degrade until the next fault on that host other than its restore (a heartbeat sent during
 * the loss may miss its deadline just after the restore).
 *
 * A missed heartbeat may also show as `down`: that is a FAIL when the job sets lost_after (or
 * max_client_disconnect) and the node held an allocation that was to keep running, for then Nomad
 * marks it disconnected, not down (NOMAD-FACTS 0.1, nomad/heartbeat.go disconnectState). A node that
 * was initializing (mid-reconnect) goes down all the same, and so does one without such a setting or
 * allocation: those downs are reported, not failed.
 */
function reconnectsAfterLoss(n: Normalised, f: Fault, lostAfter: number | undefined): Outcome[] {
  const source = 'NOMAD-FACTS 1.5: on reconnect the client re-attaches, appending Reconnected; seed: "Reconnected  Client reconnected"';
  const downSource = 'NOMAD-FACTS 0.1: with lost_after (max_client_disconnect) set, a node holding an allocation to keep goes disconnected, not down';
  const from = f.began ?? f.t;
  const until = n.faults.find((x) => x.line > f.line && x.host === f.host && x.fault !== 'restore')?.t ?? Infinity;
  const inside = (t: number) => t >= from && t < until;
  const node = n.nodes.get(f.host);
  const observations = node?.observations ?? [];
  const cuts = observations.filter((o, i, all) => o.status === 'disconnected' && inside(o.t) && all[i - 1]?.status !== 'disconnected');
  const name = `link: ${f.host} under ${f.detail?.replace(/:.*/, '') ?? 'a link profile'}`;
  // Each time the node went down, with the status it came from and an allocation it held to keep running.
  const downs = observations.flatMap((o, i, all) => {
    if (o.status !== 'down' || !inside(o.t) || all[i - 1]?.status === 'down') return [];
    const held = n.allocs.find((a) => {
      const last = a.observations.filter((x) => x.t <= o.t).at(-1);
      return a.node === f.host && last !== undefined && last.desired === 'run' && ['pending', 'running', 'unknown'].includes(last.client);
    });
    return [{ o, from: all[i - 1]?.status, held }];
  });
  const wrong = lostAfter !== undefined ? downs.filter((d) => d.from !== 'initializing' && d.held !== undefined) : [];
  const out: Outcome[] = wrong.map((d) => ({
    check: `${name}: disconnected, not down`,
    kind: 'nomad',
    verdict: 'fail',
    detail: `${f.host} went down at trace line ${d.o.line} (from ${d.from ?? 'nothing seen'}) while holding ${d.held!.role} (desired run), with lost_after ${lostAfter!}s set: a node that misses its heartbeat then goes disconnected`,
    source: downSource,
  }));
  if (cuts.length === 0 && downs.length === 0)
    return [
      {
        check: `${name}: never disconnected`,
        kind: 'nomad',
        verdict: 'pass',
        detail: `${f.host} stayed ${observations.filter((o) => inside(o.t)).at(-1)?.status ?? 'as it was'}: no heartbeat missed, no reconnect to judge`,
        source,
      },
    ];
  if (cuts.length === 0) {
    if (out.length === 0)
      out.push({
        check: `${name}: went down`,
        kind: 'nomad',
        verdict: 'pass',
        detail: `${f.host} went down ${downs.length} time(s) (first at trace line ${downs[0]!.o.line}, from ${downs[0]!.from ?? 'nothing seen'}): ${lostAfter === undefined ? 'the job sets no lost_after, so a missed heartbeat is a down' : downs[0]!.from === 'initializing' ? 'a node that misses a heartbeat while initializing goes down' : 'it held no allocation to keep running'}`,
        source: downSource,
      });
    return out;
  }
  const judged = out.length;
  for (const a of n.allocs.filter((x) => x.node === f.host)) {
    const unknown = a.observations.find((o) => o.client === 'unknown' && inside(o.t));
    if (!unknown) continue;
    const events = a.final?.TaskStates ? Object.values(a.final.TaskStates).flatMap((st) => st?.Events ?? []) : (a.observations.at(-1)?.taskEvents ?? []);
    const back = events.find((e) => e.Type === 'Reconnected' && e.Time / 1e6 >= unknown.t - 1000);
    out.push({
      check: `${name}: ${a.role} Reconnected after the missed heartbeat`,
      kind: 'nomad',
      verdict: back ? 'pass' : 'fail',
      detail: `${f.host} went disconnected ${cuts.length} time(s) (first at trace line ${cuts[0]!.line}); ${a.role} unknown at line ${unknown.line}, ${back ? `"${back.DisplayMessage ?? 'Reconnected'}" ${((back.Time / 1e6 - unknown.t) / 1000).toFixed(1)}s later` : 'no Reconnected task event after it'}`,
      source,
    });
  }
  if (out.length === judged)
    out.push({
      check: `${name}: went disconnected`,
      kind: 'nomad',
      verdict: 'pass',
      detail: `${f.host} went disconnected ${cuts.length} time(s) (first at trace line ${cuts[0]!.line}); no allocation of it went unknown`,
      source,
    });
  return out;
}

function degradeTookEffect(trace: Positioned[], n: Normalised, f: Fault): Outcome {
  const name = `fault: ${f.detail?.replace(/:.*/, '') ?? 'link profile'} on ${f.host} took effect`;
  const unknown = (detail: string): Outcome => ({ check: name, kind: 'fault', verdict: 'unknown', detail, source: SOURCE });
  const restore = n.faults.find((x) => x.line > f.line && x.fault === 'restore' && x.host === f.host);
  const nextOnHost = n.faults.find((x) => x.line > f.line && x.host === f.host);
  const inWindow = (e: Positioned, from: number, to: number | undefined) =>
    e.line > from && (to === undefined || e.line < to) && 'host' in e && e.host === f.host;
  const listing = trace.find(
    (e): e is Positioned<Extract<TraceEvent, { kind: 'iptables' }>> => e.kind === 'iptables' && e.when === 'degraded' && inWindow(e, f.line, nextOnHost?.line),
  );
  const lossArgv = f.argv.filter((a) => a.includes('statistic'));
  const netem = netemOf(f.argv);
  const probes = trace.filter((e): e is Probe => e.kind === 'link-probe' && e.after === 'degrade' && inWindow(e, f.line, nextOnHost?.line));
  const parts: string[] = [];

  if (lossArgv.length > 0) {
    if (!listing) return unknown(`no iptables listing of ${f.host} after the degrade (trace line ${f.line})`);
    const missing = lossArgv.filter((a) => !lossRuleListed(listing.rules, a));
    if (missing.length > 0)
      return unknown(`the loss rule(s) ${missing.map((a) => a.slice(3).join(' ')).join('; ')} are not in ${f.host}'s rules (listing at line ${listing.line})`);
    parts.push(`${lossArgv.length} loss rule(s) listed (line ${listing.line})`);
    if (restore && restore.detail !== 'cleanup') {
      const before = trace.find(
        (e): e is Positioned<Extract<TraceEvent, { kind: 'iptables' }>> =>
          e.kind === 'iptables' && e.when === 'before restore' && inWindow(e, f.line, restore.line + 1) && e.line < restore.line,
      );
      const gone = before ? lossArgv.filter((a) => !lossRuleListed(before.rules, a)) : lossArgv;
      if (gone.length > 0)
        return unknown(
          before
            ? `the loss rule(s) ${gone.map((a) => a.slice(3).join(' ')).join('; ')} were gone before the restore (listing at line ${before.line}): the profile did not hold throughout`
            : `no listing of ${f.host}'s rules right before the restore (line ${restore.line}): whether the profile held throughout is not known`,
        );
      parts.push(`still listed before the restore (line ${before!.line})`);
    }
  }
  if (netem) {
    const q = trace.find(
      (e): e is Positioned<Extract<TraceEvent, { kind: 'qdisc' }>> => e.kind === 'qdisc' && e.when === 'degraded' && inWindow(e, f.line, nextOnHost?.line),
    );
    if (!q || !/\bnetem\b.*\bdelay\b/.test(q.listing))
      return unknown(`no netem qdisc with a delay listed on ${f.host} after the degrade (trace line ${f.line})`);
    parts.push(`netem listed (line ${q.line})`);
  }
  if (probes.length === 0) return unknown(`no probe from ${f.host} after the degrade (trace line ${f.line}): its effect was not measured`);
  const broken = probes.filter((p) => p.broken !== undefined);
  if (broken.length > 0) return unknown(broken.map((p) => `${p.target}: ${p.broken} (line ${p.line})`).join('; '));
  for (const p of probes) {
    const judged = judgeProbe(p);
    if (!judged.ok) return unknown(`${judged.detail} (line ${p.line}): the loss on the link was not the profile's`);
    if (lossArgv.length > 0) parts.push(judged.detail);
    if (netem) {
      const want = 0.8 * Math.max(0, netem.delayMs - netem.jitterMs);
      if (p.medianMs == null || p.medianMs < want)
        return unknown(
          `the connects to ${p.target} took ${p.medianMs == null ? 'no measurable time (none completed)' : `${p.medianMs.toFixed(1)}ms`} (median, line ${p.line}), not the profile's delay of ${netem.delayMs}ms (at least ${want.toFixed(0)}ms)`,
        );
      parts.push(`connects to ${p.target} took ${p.medianMs.toFixed(1)}ms (median; delay ${netem.delayMs}ms)`);
    }
  }
  // After the restore the same probe must get through: else it proves nothing, or the restore did not work.
  if (restore && restore.detail !== 'cleanup') {
    const after = trace.filter((e): e is Probe => e.kind === 'link-probe' && e.after === 'restore' && e.line > restore.line && e.host === f.host);
    const still = after.filter((p) => p.broken !== undefined || p.dropped > Math.floor(p.sent * RESTORED_MAX_FAILED));
    if (after.length === 0) return unknown(`no probe from ${f.host} after the restore (line ${restore.line})`);
    if (still.length > 0)
      return unknown(
        `after the restore (line ${restore.line}) ${still.map((p) => (p.broken ?? `${p.dropped} of ${p.sent} connects to ${p.target} still failed`) + ` (line ${p.line})`).join('; ')}: the probe proves nothing, or the restore did not take effect`,
      );
    parts.push(`after the restore ${after.map((p) => `${p.dropped} of ${p.sent} failed`).join(', ')}`);
  }
  return { check: name, kind: 'fault', verdict: 'pass', detail: `${f.detail ?? ''}; ${parts.join('; ')}`, source: SOURCE };
}
