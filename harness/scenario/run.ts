// Runs one scenario end to end: its own lab, the recorder, the scenario's steps, then always: heal
// every partition, stop recording, write the reports (even when the run failed or was interrupted),
// and tear the lab down. The verdict comes from the checker alone.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isOurAgent } from '../lab/agents.ts';
import { runSteps } from './steps.ts';
import { scenariosDir } from './load.ts';
import { diffGolden, goldenOf, type Golden } from '../check/golden.ts';
import { resolveLabConfig } from '../config/lab-config.ts';
import { repoRoot } from '../config/paths.ts';
import { run } from '../exec/local.ts';
import { applyAll, assertHealed, healArgv, healFully, iptablesRules, partitionArgv, reach, type PartitionMode } from '../faults/partition.ts';
import { renderJob } from '../jobs/render.ts';
import { disconnectSettingDropped } from '../jobs/readback.ts';
import { hostApi } from '../lab/guard.ts';
import { readToken } from '../lab/acl.ts';
import { NetnsDriver, type ExecOptions, type LabDriver, type LabHost } from '../lab/driver.ts';
import { markSshLabKept, ownedByMe, planRemote, readSshState, recordSshJob, remoteLabDown, remoteLabUp, SshDriver, type RemoteSource } from '../lab/ssh-lab.ts';
import { cleanLeftovers, labUp } from '../lab/netns-lab.ts';
import { ownedByThisProcess, readState, writeState } from '../lab/state.ts';
import { teardownLab } from '../lab/teardown.ts';
import { planLab, type LabPlan } from '../lab/topology.ts';
import { resolveNomad, type NomadBinary } from '../nomad/binary.ts';
import type { NomadJob } from '../nomad/api.ts';
import { junitXml } from '../report/junit.ts';
import { writeRunReports } from '../report/write.ts';
import { buildResult, notApplicableResult, type RunResult } from '../report/result.ts';
import { applies } from '../check/versioned.ts';
import { Recorder } from '../trace/recorder.ts';
import { TraceWriter } from '../trace/writer.ts';
import type { Timers } from '../check/timings.ts';
import { HarnessError, InterruptedError, UsageError, describeError } from '../util/errors.ts';
import { writeFileAtomic } from '../util/files.ts';
import { poll } from '../util/poll.ts';
import type { Scenario, ScenarioContext } from './types.ts';

export interface RunOptions {
  nomad?: string;
  /** Nomad ACLs on, whatever the scenario says. */
  acl?: boolean;
  /** Number of servers instead of the scenario's (e.g. 1 for a quicker edge lab). */
  servers?: number;
  /** Keep the lab up afterwards (for a look with `nomad` or `lab status`). */
  keep: boolean;
  /** Job spec to use instead of the scenario's (a mutated job, a Docker variant). */
  jobFile?: string;
  /** Lab name (default `sc-<scenario>`). */
  labName?: string;
  /** Write this run's shape as the scenario's golden trace (scenarios/golden/<name>.json). */
  record?: boolean;
  /**
   * Multi-scenario runs: use the lab an earlier run of this process left up when it fits (same
   * topology), and leave the lab up for the next run instead of tearing it down. The job then gets
   * a fresh name, so nothing of an earlier job (its gauges linger in /v1/metrics) mixes in.
   */
  reuseLab?: { reuse: boolean; leaveUp: boolean };
  reportsDir?: string;
  /** Run on hosts reached over SSH (an Ansible inventory, or the Vagrant VMs) instead of a netns lab. */
  remote?: RemoteSource;
  signal: AbortSignal;
  log: (message: string) => void;
  waiting?: (what: string, elapsedMs: number, deadlineMs: number, detail: string) => void;
}

export interface ScenarioRun {
  result: RunResult;
  runDir: string;
}

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
  const updates = job.TaskGroups.map((g) => g['Update'] as { MaxParallel?: number; MinHealthyTime?: number } | null | undefined).filter((u) => (u?.MaxParallel ?? 0) > 0);
  if (updates.length === 0) return undefined;
  // Healthy allocations need min_healthy_time; a minute on top covers placement and task start.
  const minHealthyMs = Math.max(...updates.map((u) => (u?.MinHealthyTime ?? 10e9) / 1e6));
  return { timeoutMs: minHealthyMs + 60_000 };
}

export function newRunId(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}-${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}-${randomBytes(2).toString('hex')}`;
}

async function gitCommit(): Promise<string | undefined> {
  const r = await run(['git', '-C', repoRoot, 'rev-parse', 'HEAD'], { check: false });
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

export async function runScenario(scenario: Scenario, options: RunOptions): Promise<ScenarioRun> {
  const { signal, log } = options;
  const runId = newRunId();
  const runDir = join(options.reportsDir ?? join(repoRoot, 'reports'), scenario.name, runId);
  mkdirSync(runDir, { recursive: true });
  const labName = options.labName ?? `sc-${scenario.name}`;
  // On a shared lab every run gets a job of its own name; alone, the scenario's own name.
  const jobId = options.reuseLab ? `${scenario.job.id}-${runId.slice(-4)}` : scenario.job.id;
  const config = resolveLabConfig({
    name: labName,
    servers: String(options.servers ?? scenario.lab.servers),
    clients: String(scenario.lab.clients),
    ...(scenario.lab.clientDatacenters === undefined ? {} : { clientDatacenters: scenario.lab.clientDatacenters.join(',') }),
    ...(scenario.lab.acl === true || options.acl === true ? { acl: true } : {}),
    ...(options.nomad === undefined ? {} : { nomad: options.nomad }),
  });
  // A scenario keyed to other Nomad releases does not run: not applicable, never a pass.
  if (scenario.nomad !== undefined) {
    const binary = await resolveNomad(config.nomad);
    if (!applies(scenario, binary.version)) {
      const result = notApplicableResult(scenario, { path: binary.path, version: binary.version, source: binary.source }, runId);
      writeFileAtomic(join(runDir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
      writeFileAtomic(join(runDir, 'junit.xml'), junitXml([result]));
      log(`scenario ${scenario.name} applies to Nomad ${scenario.nomad}; ${binary.version} is not in that range: not applicable, nothing run`);
      return { result, runDir };
    }
  }
  const trace = new TraceWriter(runDir);
  let timers: Timers = { minHeartbeatTtl: 2, heartbeatGrace: 2 };
  let harnessError: string | undefined;
  // The netns lab's plan (netns runs only) and the driver every step goes through (any provider).
  let plan: LabPlan | undefined;
  let driver: LabDriver | undefined;
  const partitioned = new Set<LabHost>();
  /** The mode each host was partitioned in, so its heal removes exactly those rules. */
  const modes = new Map<string, PartitionMode>();
  let recorder: Recorder | undefined;
  let interrupted: unknown;

  log(`run ${runId}: scenario ${scenario.name} (${scenario.summary})`);
  try {
    trace.add({ kind: 'step', t: Date.now(), step: 'lab up', phase: 'start' });
    let nomad: NomadBinary;
    let upDetail: string;
    if (options.remote) {
      // Hosts reached over SSH: an inventory, or Vagrant's VMs.
      nomad = await resolveNomad(config.nomad);
      const previous = readSshState(labName);
      const reuse = options.reuseLab?.reuse === true && previous !== undefined && ownedByMe(previous) && previous.phase === 'up';
      if (!reuse && previous !== undefined && ownedByMe(previous)) await remoteLabDown(labName, log);
      const remotePlan = reuse ? previous.plan : await planRemote(options.remote, labName);
      // The hosts are what they are: the scenario must fit them (also when the lab is reused).
      const need = { servers: options.servers ?? scenario.lab.servers, clients: scenario.lab.clients };
      const have = { servers: remotePlan.hosts.filter((h) => h.role === 'server').length, clients: remotePlan.hosts.filter((h) => h.role === 'client').length };
      if (have.clients < need.clients || have.servers < need.servers) {
        throw new UsageError(`scenario ${scenario.name} needs ${need.servers} server(s) and ${need.clients} client(s); ${remotePlan.source} has ${have.servers} and ${have.clients}`);
      }
      if (scenario.lab.acl === true || options.acl === true) throw new UsageError('ACLs are not set up on SSH labs yet', 'run this scenario on the netns lab (drop --inventory/--lab vagrant)');
      if (reuse) {
        driver = new SshDriver(remotePlan, log);
        upDetail = 'reused';
        log(`reusing lab ${labName} from the previous run`);
      } else {
        const remoteUp = await remoteLabUp({ plan: remotePlan, nomad, provision: options.remote.provision, persistent: false, signal, log, ...(options.waiting ? { waiting: options.waiting } : {}) });
        driver = remoteUp.driver;
        upDetail = `${remoteUp.provisionSeconds.toFixed(1)}s provisioning, ${remoteUp.readySeconds.toFixed(1)}s to ready`;
      }
    } else {
      await cleanLeftovers(log);
      const previous = readState(labName);
      const reusable =
        options.reuseLab?.reuse === true && previous !== undefined && ownedByThisProcess(previous) && previous.phase === 'up' &&
        JSON.stringify(previous.plan) === JSON.stringify(planLab(config.spec)) && previous.agents.every((a) => isOurAgent(a));
      const up = reusable
        ? { state: previous, nomad: await resolveNomad(config.nomad), reused: false, timings: { networkSeconds: 0, ansibleSeconds: 0, readySeconds: 0, totalSeconds: 0 } }
        : await labUp({ config, persistent: false, signal, log, ...(options.waiting ? { waiting: options.waiting } : {}) });
      if (reusable) log(`reusing lab ${labName} from the previous run (same topology)`);
      else if (previous !== undefined && ownedByThisProcess(previous)) await teardownLab(labName, previous.plan, log); // ours, but unfit
      if (up.reused) {
        // A lab kept by an earlier run (--keep) still holds that run's job and allocations.
        throw new UsageError(`lab ${labName} is still up from an earlier run (--keep)`, `remove it first: npm run lab -- down --name ${labName}`);
      }
      if (up.state.plan.sshd === true) throw new UsageError(`lab ${labName} is an sshd lab (no agents)`, `run scenarios on it through its inventory: --inventory ${up.state.dir}/ssh/inventory.json`);
      plan = up.state.plan;
      driver = new NetnsDriver(plan);
      nomad = up.nomad;
      upDetail = reusable ? 'reused' : `${up.timings.totalSeconds.toFixed(1)}s`;
    }
    const lab = driver;
    trace.add({ kind: 'step', t: Date.now(), step: 'lab up', phase: 'end', detail: upDetail });

    const serverHosts = lab.hosts.filter((h) => h.role === 'server');
    const first = serverHosts[0]!;
    const leaderAddr = await lab.api(first).leader();
    const leaderHost = lab.hosts.find((h) => leaderAddr.startsWith(`${h.ip}:`)) ?? first;
    const leader = lab.api(leaderHost);
    const self = await leader.agentSelf();
    // On the VMs (provisioned by Vagrant, not by this run) another version may run than the binary the
    // harness renders jobs for and records: say so rather than record the wrong version.
    const running = self.config.Version?.Version;
    if (options.remote && running !== undefined && running !== nomad.version) {
      throw new UsageError(`the lab's agents run Nomad ${running}, the harness's binary is ${nomad.version} (${nomad.path})`, `pass the same version with --nomad, or provision the hosts with this one (vagrant provision with NOMAD_LAB_NOMAD_BINARY=${nomad.path} NOMAD_LAB_NOMAD_VERSION=${nomad.version})`);
    }
    timers = {
      minHeartbeatTtl: Number(self.config.Server?.['MinHeartbeatTTL'] ?? 2e9) / 1e9,
      heartbeatGrace: Number(self.config.Server?.['HeartbeatGrace'] ?? 2e9) / 1e9,
    };
    const nodes = await leader.nodes();
    trace.add({
      kind: 'run',
      t: Date.now(),
      run: {
        runId,
        scenario: scenario.name,
        startedAt: new Date().toISOString(),
        nomad: { path: nomad.path, version: nomad.version, source: nomad.source },
        lab: {
          provider: lab.provider,
          name: lab.name,
          id: lab.id,
          subnet: lab.subnet ?? '',
          hosts: lab.hosts.map((h) => {
            const nodeId = nodes.find((n) => n.Name === h.name)?.ID;
            return { name: h.name, role: h.role, ip: h.ip, ...(nodeId ? { nodeId } : {}) };
          }),
        },
        gitCommit: await gitCommit(),
        job: jobId,
        timers,
      },
    });

    const otherServers = lab.hosts.filter((h) => h.role === 'server' && h !== leaderHost).map((h) => lab.api(h));
    recorder = new Recorder(trace, leader, jobId, Date.now, otherServers);
    await recorder.start();
    const rec = recorder;
    const serverIps = serverHosts.map((s) => s.ip);
    const netnsPlan = plan;
    // Every wait ends as one `await` event in the trace and one line of progress.
    const took = (started: number) => ((Date.now() - started) / 1000).toFixed(1);
    const settle = (what: string, started: number, deadlineMs: number, ok: boolean, lastSeen: string | undefined, line: string, precondition?: string): boolean => {
      trace.add({ kind: 'await', t: Date.now(), what, ok, elapsedMs: Date.now() - started, deadlineMs, ...(lastSeen === undefined ? {} : { lastSeen }), ...(precondition === undefined ? {} : { precondition: true, source: precondition }) });
      log(`${what}: ${line}`);
      return ok;
    };
    /** Waits on the recorder's live view; `precondition` (its source) marks a wait the test rests on. */
    const awaitView = async (what: string, condition: (r: Recorder) => boolean, timeoutMs: number, hopeless?: (r: Recorder) => string | undefined, precondition?: string): Promise<boolean> => {
      const started = Date.now();
      let gaveUp: string | undefined;
      try {
        await poll(async () => rec, (r) => condition(r) || (gaveUp = hopeless?.(r)) !== undefined, {
          what,
          timeoutMs,
          signal,
          intervalsMs: [100],
          describe: () => rec.describe(),
          ...(options.waiting ? { onObservation: (_: Recorder, elapsed: number) => options.waiting!(what, elapsed, timeoutMs, rec.describe()) } : {}),
        });
        if (gaveUp !== undefined && !condition(rec)) return settle(what, started, timeoutMs, false, `gave up: ${gaveUp}; ${rec.describe()}`, `gave up after ${took(started)}s: ${gaveUp}`, precondition);
        return settle(what, started, timeoutMs, true, precondition === undefined ? undefined : rec.describe(), `after ${took(started)}s`, precondition);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        return settle(what, started, timeoutMs, false, rec.describe(), `NOT within ${(timeoutMs / 1000).toFixed(0)}s; last seen: ${rec.describe()}`, precondition);
      }
    };
    /** The job's deployments as the API has them, into the trace (before each fault). */
    const readDeployments = async (when: string) => {
      const deployments = await leader.jobDeployments(jobId).catch((error: unknown) => {
        trace.add({ kind: 'note', t: Date.now(), message: `deployments of ${jobId} not read ${when}: ${describeError(error)}` });
        return undefined;
      });
      if (deployments) trace.add({ kind: 'deployment-read', t: Date.now(), when, deployments: deployments.map((d) => ({ ID: d.ID, JobVersion: d.JobVersion, Status: d.Status, StatusDescription: d.StatusDescription, CreateIndex: d.CreateIndex, ModifyIndex: d.ModifyIndex })) });
    };
    const ctx: ScenarioContext = {
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
          trace.add({ kind: 'note', t: Date.now(), message: `job ${job.ID} (type ${String(job['Type'])}) has no update strategy: no deployment to wait for before the first fault` });
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
            return d !== undefined && d.jobVersion === version && ['failed', 'cancelled'].includes(d.status) ? `deployment ${d.id.slice(0, 8)} ${d.status}: ${d.description}` : undefined;
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
          await poll(async () => probe().then((r) => ((seen = r.seen), r)), (r) => r.ok, { what, timeoutMs, signal, intervalsMs: [250, 500], describe: () => seen });
          return settle(what, started, timeoutMs, true, seen, `after ${took(started)}s (${seen})`);
        } catch (error) {
          if (signal.aborted) throw signal.reason;
          return settle(what, started, timeoutMs, false, seen, `NOT within ${(timeoutMs / 1000).toFixed(0)}s; last seen: ${seen}`);
        }
      },
      async httpGet(host, url) {
        // Python's standard library is on every lab host (Ansible needs python3); the URL is an argument.
        const r = await lab.exec(host, ['python3', '-c', HTTP_GET, url], { check: false });
        if (r.exitCode !== 0) throw new HarnessError(`GET ${url} on ${host.name} failed: ${(r.stderr || r.stdout).trim().split('\n').pop() ?? ''}`, { host: host.name });
        const [status, ...body] = r.stdout.split('\n');
        return { status: Number(status), body: body.join('\n') };
      },
      async statusWithoutToken(path) {
        return lab.api(leaderHost, 'none').status(path);
      },
      async captureCli(title, args) {
        // Imported here to keep this change to one block while run.ts is refactored; hoist when convenient.
        const { captureNomad } = await import('./capture.ts');
        const token = netnsPlan ? readToken(netnsPlan) : undefined;
        const shot = await captureNomad({ nomadPath: nomad.path, address: `http://${leaderHost.ip}:4646`, ...(token === undefined ? {} : { token }), args, signal });
        trace.add({ kind: 'screen', t: Date.now(), title, argv: shot.argv, text: shot.text, exitCode: shot.exitCode });
        log(`captured ${title}: exit ${shot.exitCode}${shot.timedOut ? ' (timed out)' : ''} in ${(shot.elapsedMs / 1000).toFixed(2)}s${shot.scrolledOff > 0 ? `, ${shot.scrolledOff} line(s) scrolled off the screen` : ''}`);
      },
      async registerJob(file) {
        const path = options.jobFile ?? join(repoRoot, 'jobs', file);
        if (!existsSync(path)) throw new UsageError(`job file ${path} does not exist`);
        const hcl = renderJob(readFileSync(path, 'utf8'), nomad.version, relative(repoRoot, path));
        writeFileSync(join(runDir, 'job.nomad.hcl'), hcl);
        const job = await leader.parseJob(hcl);
        if (job.ID !== scenario.job.id) throw new HarnessError(`${relative(repoRoot, path)} defines job ${JSON.stringify(job.ID)}, but the scenario says ${JSON.stringify(scenario.job.id)}`);
        job.ID = jobId;
        job.Name = jobId;
        if (options.remote) recordSshJob(labName, jobId);
        const reply = await leader.registerJob(job);
        if (reply.Warnings) trace.add({ kind: 'note', t: Date.now(), message: `Nomad warned on register: ${reply.Warnings}` });
        const readBack = await leader.readJob(job.ID);
        trace.add({ kind: 'job-read', t: Date.now(), job: { ID: readBack.ID, Version: readBack.Version, TaskGroups: readBack.TaskGroups.map((g) => ({ Name: g.Name, Count: g.Count, MaxClientDisconnect: g.MaxClientDisconnect ?? null, Disconnect: g.Disconnect ?? null, ReschedulePolicy: g['ReschedulePolicy'] ?? null, Update: g['Update'] ?? null })) } });
        const dropped = disconnectSettingDropped(job, readBack);
        if (dropped.length > 0) throw new HarnessError(`Nomad ${nomad.version} dropped the disconnect setting of job ${job.ID}: ${dropped.join('; ')}`, { host: leader.host, hint: 'Nomad >= 1.10 ignores max_client_disconnect; use disconnect { lost_after } there' });
        log(`registered job ${job.ID} version ${readBack.Version ?? '?'}${job.TaskGroups.some((g) => g.MaxClientDisconnect || g.Disconnect?.LostAfter) ? ' (disconnect setting read back intact)' : ' (no disconnect setting)'}`);
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
        for (const r of await Promise.all(serverIps.map((ip) => reach(exec, ip)))) trace.add({ kind: 'reach', t: Date.now(), host: host.name, after: 'partition', ...r });
        log(`partitioned ${host.name}: ${argv.map((a) => a.join(' ')).join('; ')}`);
      },
      async heal(host) {
        const argv = healArgv(serverIps, modes.get(host.name) ?? 'input');
        const exec = (a: string[], o?: ExecOptions) => lab.exec(host, a, o);
        await applyAll(exec, argv);
        trace.add({ kind: 'fault', t: Date.now(), fault: 'heal', host: host.name, argv });
        // The host still exists here: the rule must be gone from it, not gone with it.
        trace.add({ kind: 'iptables', t: Date.now(), host: host.name, when: 'healed', rules: await assertHealed(exec, host.name, serverIps) });
        partitioned.delete(host);
        for (const r of await Promise.all(serverIps.map((ip) => reach(exec, ip)))) trace.add({ kind: 'reach', t: Date.now(), host: host.name, after: 'heal', ...r });
        log(`healed ${host.name}`);
      },
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
        if (ms > 0) await sleep(ms, undefined, { signal }).catch(() => {
          throw signal.reason;
        });
      },
      host(name) {
        const h = lab.hosts.find((x) => x.name === name);
        if (!h) throw new HarnessError(`no lab host named ${name}`);
        return h;
      },
    };
    await runSteps(scenario, ctx);
  } catch (error) {
    if (signal.aborted) interrupted = signal.reason;
    harnessError = signal.aborted ? `interrupted by ${(signal.reason as InterruptedError).signal ?? 'a signal'}` : describeError(error);
    log(`run stopped: ${harnessError}`);
  } finally {
    // Always resume and heal: a stopped agent or a DROP rule must never outlive the run.
    if (driver) {
      const lab = driver;
      await lab.resumePaused().catch((error: unknown) => log(`cleanup resume failed: ${describeError(error)}`));
      const ips = lab.hosts.filter((h) => h.role === 'server').map((s) => s.ip);
      for (const host of partitioned) {
        const left = await healFully((a, o) => lab.exec(host, a, o), ips).catch((error: unknown) => [`(heal failed: ${describeError(error)})`]);
        trace.add({ kind: 'fault', t: Date.now(), fault: 'heal', host: host.name, argv: healArgv(ips, modes.get(host.name) ?? 'input'), detail: 'cleanup' });
        if (left.length > 0) {
          harnessError ??= `the cleanup heal of ${host.name} left DROP rules: ${left.join('; ')}`;
          log(`cleanup heal of ${host.name} left rules: ${left.join('; ')}; the lab will be torn down`);
        } else {
          log(`healed ${host.name} (cleanup)`);
        }
      }
    }
    await recorder?.stop();
    // Agent logs go with the report, also when the lab never came up (that is when they matter most).
    const labState = options.remote ? undefined : readState(labName);
    const sshState = options.remote ? readSshState(labName) : undefined;
    const logDriver =
      driver ??
      (labState !== undefined && ownedByThisProcess(labState) ? new NetnsDriver(labState.plan) : sshState !== undefined && ownedByMe(sshState) ? new SshDriver(sshState.plan) : undefined);
    await logDriver?.collectLogs(join(runDir, 'logs')).catch((error: unknown) => log(`agent logs not collected: ${describeError(error)}`));
    await logDriver?.close();
  }

  // Reports, then the lab's fate. Whatever fails while reporting, the lab decision still runs.
  let result: RunResult | undefined;
  try {
    const tracePath = trace.finish();
    result = buildResult(trace.events, scenario, harnessError);
    const goldenFile = join(scenariosDir(), 'golden', `${scenario.name}.json`);
    if (existsSync(goldenFile)) {
      try {
        result.goldenDiff = diffGolden(JSON.parse(readFileSync(goldenFile, 'utf8')) as Golden, goldenOf(trace.events));
      } catch (error) {
        result.goldenDiff = [`could not read ${goldenFile}: ${error instanceof Error ? error.message : String(error)}`];
      }
    }
    if (options.record) {
      writeFileAtomic(goldenFile, `${JSON.stringify(goldenOf(trace.events), null, 2)}\n`);
      log(`recorded the golden trace ${relative(process.cwd(), goldenFile)}`);
    }
    writeFileAtomic(join(runDir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
    writeFileAtomic(join(runDir, 'junit.xml'), junitXml([result]));
    // The human reports render what is stored; a renderer that breaks must not cost the verdict.
    try {
      writeRunReports(runDir);
      log(`wrote ${relative(process.cwd(), tracePath)}, result.json, junit.xml, summary.md, report.html`);
    } catch (error) {
      log(`wrote ${relative(process.cwd(), tracePath)}, result.json, junit.xml; report.html failed: ${describeError(error)} (retry: npm run report -- ${runDir})`);
    }
  } finally {
    // Only a lab this run created is this run's to keep or tear down. A signal that came at any
    // point (also while reporting) means: tear down.
    if (options.remote) await remoteLabFate(labName, jobId, partitioned.size === 0, !signal.aborted && harnessError === undefined, options);
    const state = options.remote ? undefined : readState(labName);
    const ours = state !== undefined && ownedByThisProcess(state);
    const clean = !signal.aborted && harnessError === undefined;
    if (ours && options.keep && !signal.aborted && state.phase === 'up' && partitioned.size === 0) {
      state.persistent = true;
      state.phase = 'up';
      writeState(state);
      log(`lab ${labName} kept up: npm run lab -- status --name ${labName}; remove it with npm run lab -- down --name ${labName}`);
    } else if (ours && options.reuseLab?.leaveUp === true && clean && state.phase === 'up') {
      // The next run uses this lab: purge this run's job so its tasks stop, keep the rest.
      const server = state.plan.hosts.find((h) => h.role === 'server')!;
      await hostApi(state.plan, server).stopJob(jobId, 'default').catch(() => undefined);
      log(`lab ${labName} left up for the next run (job ${jobId} purged)`);
    } else if (ours) {
      await teardownLab(labName, state.plan, log);
    }
  }
  if (signal.aborted) throw interrupted ?? signal.reason;
  return { result: result!, runDir };
}
/** The end of a run on an SSH lab: kept (--keep), left up for the next run, or brought down. */
async function remoteLabFate(labName: string, jobId: string, healed: boolean, clean: boolean, options: RunOptions): Promise<void> {
  const { log, signal } = options;
  const state = readSshState(labName);
  if (!state || !ownedByMe(state)) return;
  if (options.keep && !signal.aborted && state.phase === 'up' && healed) {
    markSshLabKept(state);
    log(`lab ${labName} kept up: npm run lab -- status --name ${labName}; bring its agents down with npm run lab -- down --name ${labName}`);
  } else if (options.reuseLab?.leaveUp === true && clean && state.phase === 'up') {
    const driver = new SshDriver(state.plan);
    await driver.api(state.plan.hosts.find((h) => h.role === 'server')!).stopJob(jobId, 'default').catch(() => undefined);
    await driver.close();
    log(`lab ${labName} left up for the next run (job ${jobId} purged)`);
  } else {
    await remoteLabDown(labName, log);
  }
}
