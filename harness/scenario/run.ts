// Runs one scenario end to end: a lab (any provider), the recorder, the scenario's steps, then
// always: heal every cut, stop recording, write the reports (even when the run failed or was
// interrupted), and end the lab (kept, left up for the next run, or torn down). The verdict comes
// from the checker alone. The steps' context is context.ts; labs are harness/lab/labs.ts's.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { runSteps } from './steps.ts';
import { scenariosDir } from './load.ts';
import { scenarioContext, type Cuts } from './context.ts';
import { clearLinks } from './link-steps.ts';
import { diffGolden, goldenOf, type Golden } from '../check/golden.ts';
import { repoRoot } from '../config/paths.ts';
import { run } from '../exec/local.ts';
import { healArgv, healFully } from '../faults/partition.ts';
import { followLeader } from '../faults/servers.ts';
import type { LabDriver, LabHost } from '../lab/driver.ts';
import { attachOwned, checkRunFits, endRunLab, labForRun, labRequest, runsSideBySide, type LabNeed, type LabSelection } from '../lab/labs.ts';
import { resolveNomad } from '../nomad/binary.ts';
import { junitXml } from '../report/junit.ts';
import { writeRunReports } from '../report/write.ts';
import { buildResult, notApplicableResult, type RunResult } from '../report/result.ts';
import { applies } from '../check/versioned.ts';
import { Recorder } from '../trace/recorder.ts';
import { TraceWriter } from '../trace/writer.ts';
import type { Timers } from '../check/timings.ts';
import { HarnessError, InterruptedError, describeError } from '../util/errors.ts';
import { writeFileAtomic } from '../util/files.ts';
import type { Scenario } from './types.ts';
import { describeStorm, stormFigures } from '../check/storm.ts';
import { normalise } from '../trace/normalise.ts';

export interface RunOptions {
  /** Which lab (`--lab`, `--provider`, `--inventory`, `--servers`, `--acl`, `--tls`, `--nomad`, ...); the scenario's topology fills in the rest. */
  lab: LabSelection;
  /** Keep the lab up afterwards (for a look with `nomad` or `lab status`). */
  keep: boolean;
  /** Job spec to use instead of the scenario's (a mutated job, a Docker variant). */
  jobFile?: string;
  /** Write this run's shape as the scenario's golden trace (scenarios/golden/<name>.json). */
  record?: boolean;
  /**
   * Multi-scenario runs: use the lab an earlier run of this process left up when it fits (same
   * topology), and leave the lab up for the next run instead of tearing it down. The job then gets
   * a fresh name, so nothing of an earlier job (its gauges linger in /v1/metrics) mixes in.
   */
  reuseLab?: { reuse: boolean; leaveUp: boolean };
  reportsDir?: string;
  signal: AbortSignal;
  log: (message: string) => void;
  waiting?: (what: string, elapsedMs: number, deadlineMs: number, detail: string) => void;
}

export interface ScenarioRun {
  result: RunResult;
  runDir: string;
}

export { deploymentWait, DEPLOYMENT_PRECONDITION } from './context.ts';

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
  const request = labRequest(options.lab, {
    name: `sc-${scenario.name}`,
    topology: {
      servers: String(scenario.lab.servers),
      clients: String(scenario.lab.clients),
      ...(scenario.lab.clientDatacenters === undefined ? {} : { clientDatacenters: scenario.lab.clientDatacenters.join(',') }),
      ...(scenario.lab.acl === true ? { acl: true } : {}),
      ...(scenario.lab.tls === true ? { tls: true } : {}),
    },
  });
  const need: LabNeed = {
    servers: Number(options.lab.servers ?? scenario.lab.servers),
    clients: scenario.lab.clients,
    acl: scenario.lab.acl === true || options.lab.acl === true,
    tls: scenario.lab.tls === true || options.lab.tls === true,
  };
  // On a shared lab every run gets a job of its own name; alone, the scenario's own name. So do runs on
  // hosts that stay (SSH labs): a purged job's allocations stay in the servers' state until Nomad
  // collects them, and a later job of the same name would read them as its own.
  const jobId = options.reuseLab || !runsSideBySide(request) ? `${scenario.job.id}-${runId.slice(-4)}` : scenario.job.id;
  // A lab that cannot take this scenario is a usage error before the run starts (exit 2), not a broken run.
  await checkRunFits(request, need);
  const notApplicable = await skipIfNotApplicable(scenario, request.config.nomad, runId, runDir, log);
  if (notApplicable) return notApplicable;

  const trace = new TraceWriter(runDir);
  let harnessError: string | undefined;
  let driver: LabDriver | undefined;
  const cuts: Cuts = { partitioned: new Set<LabHost>(), modes: new Map(), links: new Map() };
  let recorder: Recorder | undefined;
  let interrupted: unknown;

  log(`run ${runId}: scenario ${scenario.name} (${scenario.summary})`);
  try {
    trace.add({ kind: 'step', t: Date.now(), step: 'lab up', phase: 'start' });
    const up = await labForRun(request, need, {
      reuse: options.reuseLab?.reuse === true,
      signal,
      log,
      ...(options.waiting ? { waiting: options.waiting } : {}),
    });
    driver = up.driver;
    const lab = driver;
    trace.add({ kind: 'step', t: Date.now(), step: 'lab up', phase: 'end', detail: up.detail });
    const { leaderHost } = await recordRunInfo(lab, up.nomad, trace, { runId, scenario: scenario.name, jobId });
    // The recorder's scrape and reads and the steps' API calls follow the leader (a step may kill it).
    const leader = followLeader(lab, leaderHost, trace, log);
    const otherServers = lab.hosts.filter((h) => h.role === 'server' && h !== leaderHost).map((h) => lab.api(h));
    recorder = new Recorder(trace, leader, jobId, Date.now, otherServers);
    await recorder.start();
    const ctx = scenarioContext({
      scenario,
      lab,
      leader,
      leaderHost,
      jobId,
      nomad: up.nomad,
      trace,
      recorder,
      runDir,
      jobFile: options.jobFile,
      cuts,
      signal,
      log,
      waiting: options.waiting,
    });
    await runSteps(scenario, ctx);
    noteStorm(trace, log);
  } catch (error) {
    if (signal.aborted) interrupted = signal.reason;
    harnessError = signal.aborted ? `interrupted by ${(signal.reason as InterruptedError).signal ?? 'a signal'}` : describeError(error);
    log(`run stopped: ${harnessError}`);
  } finally {
    harnessError = (await healAll(driver, cuts, trace, log)) ?? harnessError;
    await recorder?.stop();
    // Agent logs go with the report, also when the lab never came up (that is when they matter most).
    const logDriver = driver ?? attachOwned(request.name);
    await logDriver?.collectLogs(join(runDir, 'logs')).catch((error: unknown) => log(`agent logs not collected: ${describeError(error)}`));
    await logDriver?.close();
  }

  // Reports, then the lab's fate. Whatever fails while reporting, the lab decision still runs.
  let result: RunResult | undefined;
  try {
    result = writeOutputs(trace, scenario, harnessError, runDir, options.record === true, log);
  } finally {
    // Only a lab this run created is this run's to keep or tear down. A signal that came at any
    // point (also while reporting) means: tear down.
    await endRunLab(
      request.name,
      {
        keep: options.keep,
        leaveUp: options.reuseLab?.leaveUp === true,
        healed: cuts.partitioned.size === 0 && cuts.links.size === 0,
        clean: !signal.aborted && harnessError === undefined,
        interrupted: signal.aborted,
        jobId,
      },
      log,
    );
  }
  if (signal.aborted) throw interrupted ?? signal.reason;
  return { result, runDir };
}

/** A mass fault's figures (check/storm.ts), into the trace as a note and onto the terminal. */
function noteStorm(trace: TraceWriter, log: (m: string) => void): void {
  const figures = stormFigures(trace.events, normalise(trace.events));
  if (!figures) return;
  for (const line of describeStorm(figures)) {
    trace.add({ kind: 'note', t: Date.now(), message: line });
    log(line);
  }
}

/** A scenario keyed to other Nomad releases does not run: not applicable, never a pass. */
async function skipIfNotApplicable(
  scenario: Scenario,
  nomadChoice: Parameters<typeof resolveNomad>[0],
  runId: string,
  runDir: string,
  log: (m: string) => void,
): Promise<ScenarioRun | undefined> {
  if (scenario.nomad === undefined) return undefined;
  const binary = await resolveNomad(nomadChoice);
  if (applies(scenario, binary.version)) return undefined;
  const result = notApplicableResult(scenario, { path: binary.path, version: binary.version, source: binary.source }, runId);
  writeFileAtomic(join(runDir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileAtomic(join(runDir, 'junit.xml'), junitXml([result]));
  log(`scenario ${scenario.name} applies to Nomad ${scenario.nomad}; ${binary.version} is not in that range: not applicable, nothing run`);
  return { result, runDir };
}

/**
 * Finds the leader, checks the agents run the binary the harness renders jobs for and records, and
 * writes the run's header (what ran, where, with which timers) into the trace.
 */
async function recordRunInfo(
  lab: LabDriver,
  nomad: Awaited<ReturnType<typeof resolveNomad>>,
  trace: TraceWriter,
  run: { runId: string; scenario: string; jobId: string },
) {
  const serverHosts = lab.hosts.filter((h) => h.role === 'server');
  const first = serverHosts[0]!;
  const leaderAddr = await lab.api(first).leader();
  const leaderHost = lab.hosts.find((h) => leaderAddr.startsWith(`${h.ip}:`)) ?? first;
  const leader = lab.api(leaderHost);
  const self = await leader.agentSelf();
  // Hosts provisioned by someone else (Vagrant, an inventory taken as it is) may run another version
  // than the binary the harness renders jobs for and records: say so rather than record the wrong one.
  const running = self.config.Version?.Version;
  if (running !== undefined && running !== nomad.version.replace(/[-+].*$/, '')) {
    throw new HarnessError(`the lab's agents run Nomad ${running}, the harness's binary is ${nomad.version} (${nomad.path})`, {
      host: leaderHost.name,
      hint: `pass the same version with --nomad, or provision the hosts with this one (vagrant provision with NOMAD_BINARY=${nomad.path})`,
    });
  }
  const timers: Timers = {
    minHeartbeatTtl: Number(self.config.Server?.['MinHeartbeatTTL'] ?? 2e9) / 1e9,
    heartbeatGrace: Number(self.config.Server?.['HeartbeatGrace'] ?? 2e9) / 1e9,
  };
  const nodes = await leader.nodes();
  trace.add({
    kind: 'run',
    t: Date.now(),
    run: {
      runId: run.runId,
      scenario: run.scenario,
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
        ...(lab.acl ? { acl: true } : {}),
        ...(lab.tls !== undefined ? { tls: true } : {}),
      },
      gitCommit: await gitCommit(),
      job: run.jobId,
      timers,
    },
  });
  return { leader, leaderHost };
}

/**
 * The run's cleanup: resume paused agents, start killed ones (a killed server too), heal every host still cut
 * off, take every link profile off. A DROP rule, a loss rule, a delay qdisc or a stopped agent must
 * never outlive the run. Returns a harness error when a
 * heal left rules.
 */
async function healAll(driver: LabDriver | undefined, cuts: Cuts, trace: TraceWriter, log: (m: string) => void): Promise<string | undefined> {
  if (!driver) return undefined;
  const lab = driver;
  let problem: string | undefined;
  for (const stop of cuts.stoppers ?? []) await stop().catch((error: unknown) => log(`cleanup stop failed: ${describeError(error)}`));
  await lab.resumePaused(log).catch((error: unknown) => log(`cleanup resume failed: ${describeError(error)}`));
  const ips = lab.hosts.filter((h) => h.role === 'server').map((s) => s.ip);
  for (const host of cuts.partitioned) {
    const left = await healFully((a, o) => lab.exec(host, a, o), ips).catch((error: unknown) => [`(heal failed: ${describeError(error)})`]);
    trace.add({ kind: 'fault', t: Date.now(), fault: 'heal', host: host.name, argv: healArgv(ips, cuts.modes.get(host.name) ?? 'input'), detail: 'cleanup' });
    if (left.length > 0) {
      problem ??= `the cleanup heal of ${host.name} left DROP rules: ${left.join('; ')}`;
      log(`cleanup heal of ${host.name} left rules: ${left.join('; ')}; the lab will be torn down`);
    } else {
      log(`healed ${host.name} (cleanup)`);
    }
  }
  // Loss rules and delay qdiscs of a degrade that was not restored (a failed or interrupted run).
  if (cuts.links.size > 0) problem ??= (await clearLinks(lab, cuts.links, trace, log))[0];
  return problem;
}

/** trace.ndjson, result.json, junit.xml, then the human reports (a renderer that breaks must not cost the verdict). */
function writeOutputs(
  trace: TraceWriter,
  scenario: Scenario,
  harnessError: string | undefined,
  runDir: string,
  record: boolean,
  log: (m: string) => void,
): RunResult {
  const tracePath = trace.finish();
  const result = buildResult(trace.events, scenario, harnessError);
  const goldenFile = join(scenariosDir(), 'golden', `${scenario.name}.json`);
  if (existsSync(goldenFile)) {
    try {
      result.goldenDiff = diffGolden(JSON.parse(readFileSync(goldenFile, 'utf8')) as Golden, goldenOf(trace.events));
    } catch (error) {
      result.goldenDiff = [`could not read ${goldenFile}: ${error instanceof Error ? error.message : String(error)}`];
    }
  }
  if (record) {
    writeFileAtomic(goldenFile, `${JSON.stringify(goldenOf(trace.events), null, 2)}\n`);
    log(`recorded the golden trace ${relative(process.cwd(), goldenFile)}`);
  }
  writeFileAtomic(join(runDir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileAtomic(join(runDir, 'junit.xml'), junitXml([result]));
  try {
    writeRunReports(runDir);
    log(`wrote ${relative(process.cwd(), tracePath)}, result.json, junit.xml, summary.md, report.html`);
  } catch (error) {
    log(`wrote ${relative(process.cwd(), tracePath)}, result.json, junit.xml; report.html failed: ${describeError(error)} (retry: nomad-lab report ${runDir})`);
  }
  return result;
}
