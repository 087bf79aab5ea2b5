// The scenario context's link faults: degrade a host's link to the servers with a profile (loss
// rules, a delay qdisc), prove it (listed right after, loss measured), restore and prove that, and
// flap the link (the partition applied and removed on the profile's schedule, each cut and heal a
// fault of the trace). Spread into the context by context.ts; the run's cleanup removes whatever a
// step left (`links`).
import type { ExecOptions, LabDriver, LabHost } from '../lab/driver.ts';
import { clearLinkFaults, deviceOf, linkFaultsOn, netemMissing, probeLoss } from '../faults/link-apply.ts';
import { connectFailureRate, degradeArgv, describeEffect, lossRemoveArgv, netemRemoveArgv, PROBE_TIMEOUT_S, type LinkEffect } from '../faults/links.ts';
import { applyAll, iptablesRules, type PartitionMode } from '../faults/partition.ts';
import { effectOf, type LinkProfile } from '../faults/profiles.ts';
import type { TraceWriter } from '../trace/writer.ts';
import { HarnessError } from '../util/errors.ts';
import type { ScenarioContext } from './types.ts';

/** A profile applied to a host and not yet restored: what the run's cleanup must take off again. */
export interface AppliedLink {
  host: LabHost;
  profile: string;
  effect: LinkEffect;
  /** The device a delay qdisc sits on. */
  dev?: string;
}

export interface LinkDeps {
  lab: LabDriver;
  trace: TraceWriter;
  log: (message: string) => void;
  serverIps: string[];
  links: Map<string, AppliedLink>;
  /** Cuts or heals every host at once (one host: the context's single partition or heal). */
  partition(hosts: LabHost[], mode: PartitionMode): Promise<void>;
  heal(hosts: LabHost[]): Promise<void>;
  sleepUntil(at: number, what: string): Promise<void>;
  readDeployments(when: string): Promise<void>;
}

/** A connect under delay takes the delay: the probe's timeout leaves room for it on top of the usual one. */
const probeTimeout = (e: LinkEffect) => PROBE_TIMEOUT_S + ((e.delayMs ?? 0) + 2 * (e.jitterMs ?? 0)) / 1000;

export function linkActions(d: LinkDeps): Pick<ScenarioContext, 'checkLinkBackends' | 'degrade' | 'restore' | 'flap'> {
  const execOn = (host: LabHost) => (a: string[], o?: ExecOptions) => d.lab.exec(host, a, o);
  const clients = () => d.lab.hosts.filter((h) => h.role === 'client');

  /** The loss probe to every server, into the trace; a line for the log. */
  const probe = async (host: LabHost, effect: LinkEffect, after: 'degrade' | 'restore'): Promise<string> => {
    const expectedRate = after === 'degrade' && effect.loss !== undefined ? connectFailureRate(effect.loss, effect.direction) : 0;
    const lines: string[] = [];
    for (const ip of d.serverIps) {
      const p = await probeLoss(execOn(host), ip, probeTimeout(effect));
      d.trace.add({ kind: 'link-probe', t: Date.now(), host: host.name, after, expectedRate, ...p });
      lines.push(
        p.broken !== undefined
          ? `${p.target}: ${p.broken}`
          : `${p.dropped} of ${p.sent} connects to ${p.target} failed (expected ~${Math.round(expectedRate * 100)}%)${p.medianMs != null ? `, median ${p.medianMs.toFixed(1)}ms` : ''}`,
      );
    }
    return lines.join('; ');
  };

  return {
    async checkLinkBackends(profiles) {
      const delayed = profiles.filter((p) => p.delay !== undefined);
      if (delayed.length === 0) return;
      const names = [...new Set(delayed.map((p) => p.name))].join(', ');
      for (const host of clients()) {
        const exec = execOn(host);
        const missing = await netemMissing(exec, await deviceOf(exec, host.name, host.ip));
        if (missing !== undefined)
          throw new HarnessError(
            `link profile ${names} adds delay with tc netem, but ${host.name} cannot: ${missing}. The fault could not take effect, so the run stops before its first step`,
            {
              host: host.name,
              hint: 'run it on a kernel with sch_netem (most distribution kernels ship it: modprobe sch_netem), or use a loss profile (iptables statistic needs no qdisc)',
            },
          );
      }
      d.log(`tc netem works on ${clients().length} client(s) (for ${names})`);
    },

    async degrade(host, profile) {
      const applied = d.links.get(host.name);
      if (applied) throw new HarnessError(`${host.name} already has link profile ${applied.profile}: restore it first`, { host: host.name });
      await d.readDeployments(`before the degrade of ${host.name}`);
      const effect = effectOf(profile);
      const exec = execOn(host);
      const dev = effect.delayMs !== undefined ? await deviceOf(exec, host.name, host.ip) : undefined;
      const argv = degradeArgv(effect, d.serverIps, dev);
      // Remembered before the rules go in: a degrade that fails half way is still removed by the cleanup.
      d.links.set(host.name, { host, profile: profile.name, effect, ...(dev === undefined ? {} : { dev }) });
      const began = Date.now();
      await applyAll(exec, argv);
      d.trace.add({
        kind: 'fault',
        t: Date.now(),
        fault: 'degrade',
        host: host.name,
        argv,
        began,
        detail: `profile ${profile.name}: ${describeEffect(effect)}`,
      });
      d.trace.add({ kind: 'iptables', t: Date.now(), host: host.name, when: 'degraded', rules: await iptablesRules(exec) });
      if (dev !== undefined)
        d.trace.add({ kind: 'qdisc', t: Date.now(), host: host.name, when: 'degraded', listing: (await exec(['tc', 'qdisc', 'show', 'dev', dev])).stdout });
      d.log(`degraded ${host.name} (profile ${profile.name}: ${describeEffect(effect)}): ${await probe(host, effect, 'degrade')}`);
    },

    async restore(host) {
      const applied = d.links.get(host.name);
      if (!applied) throw new HarnessError(`restore of ${host.name}: no link profile is applied there`, { host: host.name });
      const exec = execOn(host);
      // Still in place right before it goes: the profile held for the whole time.
      d.trace.add({ kind: 'iptables', t: Date.now(), host: host.name, when: 'before restore', rules: await iptablesRules(exec) });
      const { effect, dev } = applied;
      const argv = [
        ...(effect.loss !== undefined ? lossRemoveArgv(d.serverIps, effect.loss, effect.direction) : []),
        ...(dev !== undefined ? [netemRemoveArgv(dev)] : []),
      ];
      await applyAll(exec, argv);
      d.trace.add({ kind: 'fault', t: Date.now(), fault: 'restore', host: host.name, argv, detail: `profile ${applied.profile}` });
      const left = await linkFaultsOn(exec);
      d.trace.add({ kind: 'iptables', t: Date.now(), host: host.name, when: 'restored', rules: await iptablesRules(exec) });
      if (left.length > 0) throw new HarnessError(`link faults still present after the restore: ${left.join('; ')}`, { host: host.name });
      d.links.delete(host.name);
      d.log(`restored ${host.name}: ${await probe(host, effect, 'restore')}`);
    },

    // Several hosts flap in step: each cycle is one mass partition and one mass heal (a group of the
    // trace, so partition#k is the k-th cycle whatever the number of hosts).
    async flap(hosts, profile) {
      const effect = effectOf(profile);
      const flap = effect.flap!;
      const names = hosts.map((h) => h.name).join(', ');
      for (let k = 1; k <= flap.times; k++) {
        const cutAt = Date.now();
        d.trace.add({ kind: 'note', t: cutAt, message: `flap ${k} of ${flap.times} (profile ${profile.name}): ${names} down for ${flap.downMs / 1000}s` });
        await d.partition(hosts, effect.direction);
        await d.sleepUntil(cutAt + flap.downMs, `the link of ${names} has been down ${flap.downMs / 1000}s (flap ${k} of ${flap.times})`);
        const healAt = Date.now();
        await d.heal(hosts);
        await d.sleepUntil(healAt + flap.upMs, `the link of ${names} has been up ${flap.upMs / 1000}s (flap ${k} of ${flap.times})`);
      }
    },
  };
}

/**
 * The run's cleanup of link faults: every host a step degraded and did not restore loses every loss
 * rule and delay qdisc of the harness. Returns a problem per host that still holds some.
 */
export async function clearLinks(lab: LabDriver, links: Map<string, AppliedLink>, trace: TraceWriter, log: (m: string) => void): Promise<string[]> {
  const problems: string[] = [];
  for (const { host, profile } of links.values()) {
    const left = await clearLinkFaults((a, o) => lab.exec(host, a, o)).catch((error: unknown) => [
      `(cleanup failed: ${error instanceof Error ? error.message : String(error)})`,
    ]);
    trace.add({ kind: 'fault', t: Date.now(), fault: 'restore', host: host.name, argv: [], detail: 'cleanup' });
    if (left.length > 0) {
      problems.push(`the cleanup of ${host.name}'s link profile ${profile} left ${left.join('; ')}`);
      log(`cleanup of ${host.name}'s link profile ${profile} left ${left.join('; ')}; the lab will be torn down`);
    } else {
      links.delete(host.name);
      log(`restored ${host.name}'s link (cleanup)`);
    }
  }
  return problems;
}
