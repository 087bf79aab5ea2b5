// The scenario context: what a scenario's steps can do on a run's lab (register the job, cut a host
// off and heal it, act on an agent, wait on the recorder's view, capture the CLI), each action
// written to the trace as it happens. Built by run.ts for one run; the provider is the driver's.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '../config/paths.ts';
import { applyAll, assertHealed, healArgv, iptablesRules, partitionArgv, reach, type PartitionMode } from '../faults/partition.ts';
import { serverFaults } from '../faults/servers.ts';
import { renderJob } from '../jobs/render.ts';
import { disconnectSettingDropped } from '../jobs/readback.ts';
import type { ExecOptions, LabDriver, LabHost } from '../lab/driver.ts';
import { recordJob } from '../lab/labs.ts';
import { nomadCliEnv } from '../lab/tls.ts';
import type { NomadApi, NomadJob } from '../nomad/api.ts';
import type { NomadBinary } from '../nomad/binary.ts';
import type { Recorder } from '../trace/recorder.ts';
import type { TraceWriter } from '../trace/writer.ts';
import { HarnessError, UsageError, describeError } from '../util/errors.ts';
import { poll } from '../util/poll.ts';
import { captureNomad } from './capture.ts';
import { linkActions, type AppliedLink } from './link-steps.ts';
import type { Scenario, ScenarioContext } from './types.ts';

/** A GET with Python's standard library: prints the status, then the body; a timeout is an error. */
const HTTP_GET = [
  'import sys, urllib.request, urllib.error',
  // Lab addresses are never behind a proxy, whatever http_proxy the harness's environment holds.
  'urllib.request.install_opener(urllib.request.build_opener(urllib.request.ProxyHandler({})))',
  'try:',
  '    r = urllib.request.urlopen(sys.argv[1], timeout=3)',
  '    print(r.status); print(r.read(4096).decode("utf-8", "replace"))',
  'except urllib.error.HTTPError as e:',
  '    print(e.code); print(e.read(4096).decode("utf-8", "replace"))',
].join('\n');

/** Where the wait for the deployment before the first fault comes from. */
export const DEPLOYMENT_PRECONDITION =
  'seed bench-test-disconnected-clients.md l.106-107: `nomad job run` monitors the deployment until "Deployment ... successful" before the client is cut; Nomad e2e/disconnectedclients waits for it too (#12795)';

/**
 * Whether a job gets a deployment, and how long to wait for it: service jobs with an update strategy
 * (Nomad gives service jobs one by default: min_healthy_time 10s). Pure.
 */
export function deploymentWait(job: NomadJob): { timeoutMs: number } | undefined {
  if (job['Type'] !== undefined && job['Type'] !== 'service') return undefined;
  const updates = job.TaskGroups.map((g) => g['Update'] as { MaxParallel?: number; MinHealthyTime?: number } | null | undefined).filter(
    (u) => (u?.MaxParallel ?? 0) > 0,
  );
  if (updates.length === 0) return undefined;
  // Healthy allocations need min_healthy_time; a minute on top covers placement and task start.
  const minHealthyMs = Math.max(...updates.map((u) => (u?.MinHealthyTime ?? 10e9) / 1e6));
  return { timeoutMs: minHealthyMs + 60_000 };
}

/** Hosts a run has cut off, and how: the run's cleanup heals exactly those rules. */
export interface Cuts {
  partitioned: Set<LabHost>;
  modes: Map<string, PartitionMode>;
  /** Hosts with a link profile applied (degrade without its restore yet), by host name. */
  links: Map<string, AppliedLink>;
  /** What the run's cleanup stops before it heals (a partial partition's failover watch). */
  stoppers?: Array<() => Promise<void>>;
}

export interface ContextDeps {
  scenario: Scenario;
  lab: LabDriver;
  leader: NomadApi;
  leaderHost: LabHost;
  jobId: string;
  nomad: NomadBinary;
  trace: TraceWriter;
  recorder: Recorder;
  runDir: string;
  /** A job spec instead of the scenario's. */
  jobFile: string | undefined;
  cuts: Cuts;
  signal: AbortSignal;
  log: (message: string) => void;
  waiting: ((what: string, elapsedMs: number, deadlineMs: number, detail: string) => void) | undefined;
}

export function scenarioContext(deps: ContextDeps): ScenarioContext {
  const { scenario, lab, leader, leaderHost, jobId, nomad, trace, recorder: rec, runDir, signal, log } = deps;
  const { partitioned, modes } = deps.cuts;
  const serverIps = lab.hosts.filter((h) => h.role === 'server').map((s) => s.ip);
  const options = { jobFile: deps.jobFile, waiting: deps.waiting };
  // Every wait ends as one `await` event in the trace and one line of progress.
  const took = (started: number) => ((Date.now() - started) / 1000).toFixed(1);
  const settle = (
    what: string,
    started: number,
    deadlineMs: number,
    ok: boolean,
    lastSeen: string | undefined,
    line: string,
    precondition?: string,
  ): boolean => {
    trace.add({
      kind: 'await',
      t: Date.now(),
      what,
      ok,
      elapsedMs: Date.now() - started,
      deadlineMs,
      ...(lastSeen === undefined ? {} : { lastSeen }),
      ...(precondition === undefined ? {} : { precondition: true, source: precondition }),
    });
    log(`${what}: ${line}`);
    return ok;
  };
  /** Waits on the recorder's live view; `precondition` (its source) marks a wait the test rests on. */
  const awaitView = async (
    what: string,
    condition: (r: Recorder) => boolean,
    timeoutMs: number,
    hopeless?: (r: Recorder) => string | undefined,
    precondition?: string,
  ): Promise<boolean> => {
    const started = Date.now();
    let gaveUp: string | undefined;
    try {
      await poll(
        async () => rec,
        (r) => condition(r) || (gaveUp = hopeless?.(r)) !== undefined,
        {
          what,
          timeoutMs,
          signal,
          intervalsMs: [100],
          describe: () => rec.describe(),
          ...(options.waiting ? { onObservation: (_: Recorder, elapsed: number) => options.waiting!(what, elapsed, timeoutMs, rec.describe()) } : {}),
        },
      );
      if (gaveUp !== undefined && !condition(rec))
        return settle(what, started, timeoutMs, false, `gave up: ${gaveUp}; ${rec.describe()}`, `gave up after ${took(started)}s: ${gaveUp}`, precondition);
      return settle(what, started, timeoutMs, true, precondition === undefined ? undefined : rec.describe(), `after ${took(started)}s`, precondition);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      return settle(
        what,
        started,
        timeoutMs,
        false,
        rec.describe(),
        `NOT within ${(timeoutMs / 1000).toFixed(0)}s; last seen: ${rec.describe()}`,
        precondition,
      );
    }
  };
  /** The job's deployments as the API has them, into the trace (before each fault). */
  const readDeployments = async (when: string) => {
    const deployments = await leader.jobDeployments(jobId).catch((error: unknown) => {
      trace.add({ kind: 'note', t: Date.now(), message: `deployments of ${jobId} not read ${when}: ${describeError(error)}` });
      return undefined;
    });
    if (deployments)
      trace.add({
        kind: 'deployment-read',
        t: Date.now(),
        when,
        deployments: deployments.map((d) => ({
          ID: d.ID,
          JobVersion: d.JobVersion,
          Status: d.Status,
          StatusDescription: d.StatusDescription,
          CreateIndex: d.CreateIndex,
          ModifyIndex: d.ModifyIndex,
        })),
      });
  };
  // Faults on servers and partitions from some servers only (harness/faults/servers.ts).
  const servers = serverFaults({ lab, trace, log, leader, readDeployments, partitioned, modes, signal });
  (deps.cuts.stoppers ??= []).push(() => servers.stop());
  const base: Omit<ScenarioContext, 'checkLinkBackends' | 'degrade' | 'restore' | 'flap'> = {
    hosts: lab.hosts,
    jobId,
    leader,
    recorder: rec,
    trace,
    nomadVersion: nomad.version,
    signal,
    log,
    async step(name, body) {
      trace.add({ kind: 'step', t: Date.now(), step: name, phase: 'start' });
      const value = await body();
      trace.add({ kind: 'step', t: Date.now(), step: name, phase: 'end' });
      return value;
    },
    await(what, condition, timeoutMs, hopeless) {
      return awaitView(what, condition, timeoutMs, hopeless);
    },
    async awaitDeployment(job) {
      const wait = deploymentWait(job);
      if (wait === undefined) {
        trace.add({
          kind: 'note',
          t: Date.now(),
          message: `job ${job.ID} (type ${String(job['Type'])}) has no update strategy: no deployment to wait for before the first fault`,
        });
        return true;
      }
      const version = job.Version ?? 0;
      const ok = await awaitView(
        `deployment of job version ${version} successful before the first fault`,
        (r) => {
          const d = r.latestDeployment();
          return d !== undefined && d.jobVersion === version && d.status === 'successful';
        },
        wait.timeoutMs,
        (r) => {
          const d = r.latestDeployment();
          return d !== undefined && d.jobVersion === version && ['failed', 'cancelled'].includes(d.status)
            ? `deployment ${d.id.slice(0, 8)} ${d.status}: ${d.description}`
            : undefined;
        },
        DEPLOYMENT_PRECONDITION,
      );
      // No read here: the fault that follows reads the deployments just before it acts.
      return ok;
    },
    async awaitProbe(what, probe, timeoutMs) {
      const started = Date.now();
      let seen = 'nothing yet';
      try {
        await poll(
          async () => probe().then((r) => ((seen = r.seen), r)),
          (r) => r.ok,
          { what, timeoutMs, signal, intervalsMs: [250, 500], describe: () => seen },
        );
        return settle(what, started, timeoutMs, true, seen, `after ${took(started)}s (${seen})`);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        return settle(what, started, timeoutMs, false, seen, `NOT within ${(timeoutMs / 1000).toFixed(0)}s; last seen: ${seen}`);
      }
    },
    async httpGet(host, url) {
      // Python's standard library is on every lab host (Ansible needs python3); the URL is an argument.
      const r = await lab.exec(host, ['python3', '-c', HTTP_GET, url], { check: false });
      if (r.exitCode !== 0)
        throw new HarnessError(`GET ${url} on ${host.name} failed: ${(r.stderr || r.stdout).trim().split('\n').pop() ?? ''}`, { host: host.name });
      const [status, ...body] = r.stdout.split('\n');
      return { status: Number(status), body: body.join('\n') };
    },
    async statusWithoutToken(path) {
      return lab.api(leaderHost, 'none').status(path);
    },
    async captureCli(title, args) {
      const token = lab.token('harness');
      const shot = await captureNomad({
        nomadPath: nomad.path,
        // https, with the CA and the CLI's certificate and key, on a lab with TLS.
        address: nomadCliEnv(leaderHost.ip, lab.tls).NOMAD_ADDR,
        ...(lab.tls === undefined ? {} : { tls: lab.tls }),
        ...(token === undefined ? {} : { token }),
        args,
        signal,
      });
      trace.add({ kind: 'screen', t: Date.now(), title, argv: shot.argv, text: shot.text, exitCode: shot.exitCode });
      log(
        `captured ${title}: exit ${shot.exitCode}${shot.timedOut ? ' (timed out)' : ''} in ${(shot.elapsedMs / 1000).toFixed(2)}s${shot.scrolledOff > 0 ? `, ${shot.scrolledOff} line(s) scrolled off the screen` : ''}`,
      );
    },
    async registerJob(file) {
      const path = options.jobFile ?? join(repoRoot, 'jobs', file);
      if (!existsSync(path)) throw new UsageError(`job file ${path} does not exist`);
      const hcl = renderJob(readFileSync(path, 'utf8'), nomad.version, relative(repoRoot, path));
      writeFileSync(join(runDir, 'job.nomad.hcl'), hcl);
      const job = await leader.parseJob(hcl);
      if (job.ID !== scenario.job.id)
        throw new HarnessError(`${relative(repoRoot, path)} defines job ${JSON.stringify(job.ID)}, but the scenario says ${JSON.stringify(scenario.job.id)}`);
      job.ID = jobId;
      job.Name = jobId;
      recordJob(lab.name, jobId);
      const reply = await leader.registerJob(job);
      if (reply.Warnings) trace.add({ kind: 'note', t: Date.now(), message: `Nomad warned on register: ${reply.Warnings}` });
      const readBack = await leader.readJob(job.ID);
      trace.add({
        kind: 'job-read',
        t: Date.now(),
        job: {
          ID: readBack.ID,
          Version: readBack.Version,
          TaskGroups: readBack.TaskGroups.map((g) => ({
            Name: g.Name,
            Count: g.Count,
            MaxClientDisconnect: g.MaxClientDisconnect ?? null,
            Disconnect: g.Disconnect ?? null,
            ReschedulePolicy: g['ReschedulePolicy'] ?? null,
            Update: g['Update'] ?? null,
          })),
        },
      });
      const dropped = disconnectSettingDropped(job, readBack);
      if (dropped.length > 0)
        throw new HarnessError(`Nomad ${nomad.version} dropped the disconnect setting of job ${job.ID}: ${dropped.join('; ')}`, {
          host: leader.host,
          hint: 'Nomad >= 1.10 ignores max_client_disconnect; use disconnect { lost_after } there',
        });
      log(
        `registered job ${job.ID} version ${readBack.Version ?? '?'}${job.TaskGroups.some((g) => g.MaxClientDisconnect || g.Disconnect?.LostAfter) ? ' (disconnect setting read back intact)' : ' (no disconnect setting)'}`,
      );
      return readBack;
    },
    async partition(host, mode = 'input') {
      await readDeployments(`before the partition of ${host.name}`);
      const argv = partitionArgv(serverIps, mode);
      modes.set(host.name, mode);
      const exec = (a: string[], o?: ExecOptions) => lab.exec(host, a, o);
      partitioned.add(host);
      const began = Date.now();
      await applyAll(exec, argv);
      trace.add({ kind: 'fault', t: Date.now(), fault: 'partition', host: host.name, argv, began });
      trace.add({ kind: 'iptables', t: Date.now(), host: host.name, when: 'partitioned', rules: await iptablesRules(exec) });
      // The proof that the fault took effect: no server answers the client any more.
      for (const r of await Promise.all(serverIps.map((ip) => reach(exec, ip))))
        trace.add({ kind: 'reach', t: Date.now(), host: host.name, after: 'partition', ...r });
      log(`partitioned ${host.name}: ${argv.map((a) => a.join(' ')).join('; ')}`);
    },
    async heal(host) {
      // A partition from some servers only is healed by its own module: exactly its rules.
      if (servers.isPartial(host)) return servers.healFrom(host);
      const argv = healArgv(serverIps, modes.get(host.name) ?? 'input');
      const exec = (a: string[], o?: ExecOptions) => lab.exec(host, a, o);
      await applyAll(exec, argv);
      trace.add({ kind: 'fault', t: Date.now(), fault: 'heal', host: host.name, argv });
      // The host still exists here: the rule must be gone from it, not gone with it.
      trace.add({ kind: 'iptables', t: Date.now(), host: host.name, when: 'healed', rules: await assertHealed(exec, host.name, serverIps) });
      partitioned.delete(host);
      for (const r of await Promise.all(serverIps.map((ip) => reach(exec, ip))))
        trace.add({ kind: 'reach', t: Date.now(), host: host.name, after: 'heal', ...r });
      log(`healed ${host.name}`);
    },
    partitionedNow: () => [...partitioned].map((h) => h.name),
    partitionMany(hosts, mode = 'input') {
      if (hosts.length === 1) return this.partition(hosts[0]!, mode);
      return massPartition({ lab, trace, log, serverIps, partitioned, modes, readDeployments }, hosts, mode);
    },
    healMany(hosts) {
      if (hosts.length === 1) return this.heal(hosts[0]!);
      return massHeal({ lab, trace, log, serverIps, partitioned, modes, readDeployments }, hosts);
    },
    serverAgent: (step) => servers.agent(step),
    partitionFrom: (host, from, mode = 'input', failoverWithinMs) => servers.partitionFrom(host, from, mode, failoverWithinMs),
    async agent(host, action) {
      await readDeployments(`before the ${action} of the agent on ${host.name}`);
      const began = Date.now();
      const { argv, wasRunning, goneAfter } = await lab.agent(host, action);
      const detail = !wasRunning && action !== 'restart' ? 'agent was not running' : goneAfter === false ? 'agent still running after the kill' : undefined;
      trace.add({ kind: 'fault', t: Date.now(), fault: `${action}-agent`, host: host.name, argv, detail, began });
      log(`${action} agent on ${host.name}${argv.length ? '' : ' (it was not running)'}`);
    },
    async writeFile(allocId, node, task, path, content) {
      const host = lab.hosts.find((h) => h.name === node);
      if (!host) throw new HarnessError(`no lab host ${node}`);
      const file = await lab.writeAllocFile(host, allocId, task, path, content);
      trace.add({ kind: 'fault', t: Date.now(), fault: 'write-file', host: node, argv: [], detail: file });
      log(`wrote ${path} into ${task} of ${allocId.slice(0, 8)} on ${node}`);
    },
    async stopAlloc(allocId) {
      await leader.request('POST', `/v1/allocation/${allocId}/stop`, {});
      trace.add({ kind: 'fault', t: Date.now(), fault: 'stop-alloc', host: leader.host, argv: [], detail: allocId });
    },
    async stopJob() {
      await leader.request('DELETE', `/v1/job/${encodeURIComponent(jobId)}`, undefined);
      trace.add({ kind: 'fault', t: Date.now(), fault: 'stop-job', host: leader.host, argv: [], detail: jobId });
    },
    async sleepUntil(at, what) {
      const ms = at - Date.now();
      log(`waiting ${(Math.max(0, ms) / 1000).toFixed(1)}s until ${what}`);
      if (ms > 0)
        await sleep(ms, undefined, { signal }).catch(() => {
          throw signal.reason;
        });
    },
    host(name) {
      const h = lab.hosts.find((x) => x.name === name);
      if (!h) throw new HarnessError(`no lab host named ${name}`);
      return h;
    },
  };
  // Link faults (link-steps.ts): a flap cuts and heals through the partition and heal above.
  return {
    ...base,
    ...linkActions({
      lab,
      trace,
      log,
      serverIps,
      links: deps.cuts.links,
      partition: (hosts, mode) => base.partitionMany(hosts, mode),
      heal: (hosts) => base.healMany(hosts),
      sleepUntil: (at, what) => base.sleepUntil(at, what),
      readDeployments,
    }),
  };
}

/** What a mass fault needs of the context. */
interface MassDeps {
  lab: LabDriver;
  trace: TraceWriter;
  log: (message: string) => void;
  serverIps: string[];
  partitioned: Set<LabHost>;
  modes: Map<string, PartitionMode>;
  readDeployments: (when: string) => Promise<void>;
}

let massGroups = 0;

/** A group id for the fault events of one mass step: unique within the run's process. */
const newGroup = (kind: string) => `${kind}-${++massGroups}-${Date.now().toString(36)}`;

/** Runs `body` on every host at once; a host that fails is named with its cause, after all have finished. */
async function onEveryHost(hosts: LabHost[], what: string, body: (host: LabHost) => Promise<void>): Promise<void> {
  const results = await Promise.allSettled(hosts.map(body));
  const failed = results.flatMap((r, k) => (r.status === 'rejected' ? [`${hosts[k]!.name}: ${describeError(r.reason)}`] : []));
  if (failed.length > 0) throw new HarnessError(`${what} failed on ${failed.length} of ${hosts.length} host(s): ${failed.join('; ')}`);
}

/**
 * Cuts every host off at once: the rules go into all namespaces concurrently, one fault event per
 * host (each with its own time in effect) sharing a group id, so the checker tells one step from many.
 * Then each cut is proven as a single one is: the rules listed, no server reachable.
 */
async function massPartition(d: MassDeps, hosts: LabHost[], mode: PartitionMode): Promise<void> {
  await d.readDeployments(`before the partition of ${hosts.length} hosts`);
  const argv = partitionArgv(d.serverIps, mode);
  const group = newGroup('partition');
  for (const h of hosts) {
    d.modes.set(h.name, mode);
    // Before the rules go in: a cut that fails half way is still healed by the run's cleanup.
    d.partitioned.add(h);
  }
  const began = Date.now();
  await onEveryHost(hosts, 'the partition', async (host) => {
    const start = Date.now();
    await applyAll((a, o) => d.lab.exec(host, a, o), argv);
    d.trace.add({ kind: 'fault', t: Date.now(), fault: 'partition', host: host.name, argv, began: start, group });
  });
  const inEffect = Date.now();
  await onEveryHost(hosts, 'proving the partition', async (host) => {
    const exec = (a: string[], o?: ExecOptions) => d.lab.exec(host, a, o);
    d.trace.add({ kind: 'iptables', t: Date.now(), host: host.name, when: 'partitioned', rules: await iptablesRules(exec) });
    for (const r of await Promise.all(d.serverIps.map((ip) => reach(exec, ip))))
      d.trace.add({ kind: 'reach', t: Date.now(), host: host.name, after: 'partition', ...r });
  });
  d.log(
    `partitioned ${hosts.length} hosts at once (${hosts.map((h) => h.name).join(', ')}) in ${((inEffect - began) / 1000).toFixed(2)}s: ${argv.map((a) => a.join(' ')).join('; ')}`,
  );
}

/** Heals every host at once (a reconnect storm), then checks each host's rules are gone and the servers answer. */
async function massHeal(d: MassDeps, hosts: LabHost[]): Promise<void> {
  const group = newGroup('heal');
  const began = Date.now();
  await onEveryHost(hosts, 'the heal', async (host) => {
    const start = Date.now();
    const argv = healArgv(d.serverIps, d.modes.get(host.name) ?? 'input');
    await applyAll((a, o) => d.lab.exec(host, a, o), argv);
    d.trace.add({ kind: 'fault', t: Date.now(), fault: 'heal', host: host.name, argv, began: start, group });
  });
  const inEffect = Date.now();
  await onEveryHost(hosts, 'checking the heal', async (host) => {
    const exec = (a: string[], o?: ExecOptions) => d.lab.exec(host, a, o);
    d.trace.add({ kind: 'iptables', t: Date.now(), host: host.name, when: 'healed', rules: await assertHealed(exec, host.name, d.serverIps) });
    d.partitioned.delete(host);
    for (const r of await Promise.all(d.serverIps.map((ip) => reach(exec, ip))))
      d.trace.add({ kind: 'reach', t: Date.now(), host: host.name, after: 'heal', ...r });
  });
  d.log(`healed ${hosts.length} hosts at once in ${((inEffect - began) / 1000).toFixed(2)}s`);
}
