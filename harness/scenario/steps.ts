// Interprets a scenario's steps against a lab: roles resolved to allocations and clients at run
// time (placement is the scheduler's choice), waits on the recorder's live view, faults through the
// context. Conditions and "hopeless" are pure functions of the live view.
import { describeError, HarnessError } from '../util/errors.ts';
import type { NomadJob } from '../nomad/api.ts';
import type { Recorder } from '../trace/recorder.ts';
import { applies } from '../check/versioned.ts';
import { parseDuration } from '../util/duration.ts';
import type { Condition, Scenario, ScenarioContext, Step } from './types.ts';
import { describeTarget, isMany, resolveTarget, targetKey, targetOf, type Target } from './targets.ts';
import { loadProfile } from '../faults/profiles.ts';
import type { LabHost } from '../lab/driver.ts';
import { describeSelector, isServerStep } from '../faults/servers.ts';

export { parseDuration };

const nodeOf = (r: Recorder, role: string) => r.byRole(role)?.node;

/**
 * Every allocation role a scenario's steps name. (Its `roles` block only says which roles the phase
 * timings speak of: naming a replacement there does not make one expected.)
 */
export function rolesInSteps(scenario: Pick<Scenario, 'steps'>): string[] {
  const roles = new Set<string>();
  const condition = (c: Condition) => [c.alloc, c.clientOf, ...(c.instances ?? [])].forEach((r) => r !== undefined && roles.add(r));
  for (const step of scenario.steps) {
    actsOn(step).forEach((r) => roles.add(r));
    if (step.do === 'await') step.all.forEach(condition);
    // A probe names the allocation it asks as well as the client it asks from.
    if (step.do === 'http_probe') roles.add(step.alloc);
  }
  return [...roles];
}

/** `cut`: the hosts the run's latest partition cut off (for `cutNodes`). */
export function holds(c: Condition, r: Recorder, cut: readonly string[] = []): boolean {
  if (c.alloc !== undefined) {
    const a = r.byRole(c.alloc);
    if (!a) return false;
    if (c.client !== undefined && a.client !== c.client) return false;
    if (c.desired !== undefined && a.desired !== c.desired) return false;
    if (c.taskEvent !== undefined && !a.taskEvents.includes(c.taskEvent)) return false;
  }
  if (c.clientOf !== undefined) {
    const node = nodeOf(r, c.clientOf);
    if (!node || (c.status !== undefined && r.nodes.get(node) !== c.status)) return false;
  }
  if (c.cutNodes !== undefined && (cut.length === 0 || cut.some((h) => r.nodes.get(h) !== c.cutNodes))) return false;
  if (c.metric !== undefined && r.metric(c.metric, c.labels ?? {}) !== c.value) return false;
  if (c.service !== undefined && r.serviceRoles(c.service).join() !== [...(c.instances ?? [])].sort().join()) return false;
  if (c.blockedEval === true && !r.hasBlockedEval()) return false;
  if (c.running !== undefined && r.runningAtVersion(c.version ?? 0) !== c.running) return false;
  return true;
}

/** Why `c` can no longer come true, or undefined while it still can. */
export function hopeless(c: Condition, r: Recorder): string | undefined {
  if (c.alloc !== undefined && c.client !== undefined) {
    const a = r.byRole(c.alloc);
    // complete and failed are final; lost can still become complete (the client stops it on reconnect).
    if (a && (a.client === 'complete' || a.client === 'failed') && a.client !== c.client) return `${c.alloc} is ${a.client}`;
    if (a && a.client === 'lost' && c.client !== 'lost' && c.client !== 'complete') return `${c.alloc} is lost`;
  }
  if (c.clientOf !== undefined && c.status === 'disconnected') {
    const node = nodeOf(r, c.clientOf);
    if (node && r.nodes.get(node) === 'down') return `${node} is down, not disconnected`;
  }
  return undefined;
}

function describeCondition(c: Condition): string {
  const parts = Object.entries(c).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  return parts.join(' ');
}

const captureTitle = (step: Extract<Step, { do: 'capture' }>) => step.title ?? `nomad alloc status ${step.alloc}`;

function stepLabel(step: Step): string {
  switch (step.do) {
    case 'run_job':
      return 'register job';
    case 'update_job':
      return `update job (${step.file})`;
    case 'await':
      return `await ${step.for}`;
    case 'write_file':
      return `write ${step.path} for ${step.alloc}`;
    case 'wait_until':
      return `wait until ${step.deadline}`;
    case 'stop_alloc':
      return `stop ${step.alloc}`;
    case 'stop_job':
      return 'stop job';
    case 'sleep':
      return `sleep ${step.duration}`;
    case 'http_probe':
      return `http probe: ${step.for}`;
    case 'refused_without_token':
      return 'API without a token';
    case 'capture':
      return `capture ${captureTitle(step)}`;
    case 'partition':
    case 'heal':
      return `${step.do} of ${describeTarget(targetOf(step) ?? { clientOf: '?' })}`;
    case 'degrade':
      return `degrade (${step.profile}${step.for === undefined ? '' : ` for ${step.for}`}) of ${describeTarget(targetOf(step) ?? { clientOf: '?' })}`;
    case 'restore':
      return `restore of ${describeTarget(targetOf(step) ?? { clientOf: '?' })}`;
    default:
      return `${step.do.replace('_', ' ')} of ${isServerStep(step) ? describeSelector(step) : step.clientOf}`;
  }
}

/** The roles a step acts on: it cannot run before they exist. */
function actsOn(step: Step): string[] {
  switch (step.do) {
    case 'partition':
    case 'heal':
    case 'degrade':
    case 'restore':
      return step.clientOf === undefined ? [] : [step.clientOf];
    case 'kill_agent':
    case 'restart_agent':
    case 'pause_agent':
    case 'resume_agent':
      return isServerStep(step) ? [] : [step.clientOf];
    case 'write_file':
    case 'stop_alloc':
    case 'capture':
      return [step.alloc];
    case 'http_probe':
      return [step.from.clientOf];
    default:
      return [];
  }
}

/** What target resolution reads of a run: the lab's hosts, and where the job's live allocations are. */
function targetView(ctx: ScenarioContext) {
  const r = ctx.recorder;
  const live = [...r.allocs.values()].filter((a) => a.desired === 'run' && !['complete', 'failed', 'lost'].includes(a.client));
  return { hosts: ctx.hosts, nodeOfRole: (role: string) => nodeOf(r, role), holding: new Set(live.map((a) => a.node)) };
}

export async function runSteps(scenario: Scenario, ctx: ScenarioContext): Promise<void> {
  const r = ctx.recorder;
  let job: NomadJob | undefined;
  let faulted = false;
  const clientHost = (role: string, i: number) => {
    const node = nodeOf(r, role);
    if (!node) throw new HarnessError(`step ${i + 1}: no allocation ${role} has been seen (roles seen: ${r.describe()})`);
    return ctx.host(node);
  };
  const alloc = (role: string, i: number) => {
    const a = r.byRole(role);
    if (!a) throw new HarnessError(`step ${i + 1}: no allocation ${role} has been seen (${r.describe()})`);
    return a;
  };

  // Hosts each partition's target form cut (a heal of the same form heals exactly those), and the
  // hosts the latest partition cut (what `cutNodes` conditions speak of).
  const cutBy = new Map<string, string[]>();
  let cut: string[] = [];
  const targetHosts = (target: Target | undefined, i: number, heal: boolean) => {
    if (target === undefined) throw new HarnessError(`step ${i + 1}: give exactly one of clientOf, host, hosts, clients`);
    const remembered = heal && isMany(target) ? cutBy.get(targetKey(target)) : undefined;
    // A partition's `clients: N` takes hosts not cut off already (a heal's takes what it is to heal).
    const view = !heal && 'clients' in target ? { ...targetView(ctx), cut: new Set(ctx.partitionedNow()) } : targetView(ctx);
    const names = remembered ?? resolveTarget(target, view);
    if (typeof names === 'string') throw new HarnessError(`step ${i + 1}: ${heal ? 'heal' : 'partition'} of ${describeTarget(target)}: ${names}`);
    return names.map((h) => ctx.host(h));
  };

  // The first await that failed: a later step acting on a role that never came is Nomad's doing then.
  let failedAwait: string | undefined;

  // A profile this lab cannot apply (delay without the kernel's netem) stops the run before it starts.
  const profiles = scenario.steps.flatMap((s) => (s.do === 'degrade' && applies(s, ctx.nomadVersion) ? [loadProfile(s.profile)] : []));
  if (profiles.length > 0) await ctx.checkLinkBackends(profiles);
  // The hosts each degrade's target form degraded: a restore of the same form restores exactly those.
  const degradedBy = new Map<string, LabHost[]>();
  const linkHosts = (target: Target | undefined, i: number): LabHost[] => {
    if (target === undefined) throw new HarnessError(`step ${i + 1}: give exactly one of clientOf, host, hosts, clients`);
    const names = resolveTarget(target, targetView(ctx));
    if (typeof names === 'string') throw new HarnessError(`step ${i + 1}: ${describeTarget(target)}: ${names}`);
    return names.map((h) => ctx.host(h));
  };

  for (const [i, step] of scenario.steps.entries()) {
    ctx.signal.throwIfAborted();
    if (!applies(step, ctx.nomadVersion)) {
      ctx.trace.add({ kind: 'note', t: Date.now(), message: `step ${i + 1} (${stepLabel(step)}) is for Nomad ${step.nomad}, not run on ${ctx.nomadVersion}` });
      ctx.log(`step ${i + 1} (${stepLabel(step)}) not for Nomad ${ctx.nomadVersion} (${step.nomad})`);
      continue;
    }
    const missing = actsOn(step).filter((role) => r.byRole(role) === undefined);
    if (missing.length > 0 && failedAwait !== undefined) {
      const why = `${missing.join(', ')} never appeared (the await "${failedAwait}" had already failed); ${r.describe()}`;
      ctx.trace.add({ kind: 'step', t: Date.now(), step: stepLabel(step), phase: 'skipped', detail: why });
      ctx.log(`step ${i + 1} (${stepLabel(step)}) not run: ${why}`);
      continue;
    }
    const isFault = step.do === 'partition' || step.do === 'degrade' || step.do.endsWith('_agent') || step.do === 'write_file';
    if (isFault && !faulted) {
      faulted = true;
      // The precondition "these roles on distinct clients" decides whether the faults test anything.
      const distinct = scenario.expect.distinctNodes?.roles;
      if (distinct) {
        const nodes = distinct.map((role) => nodeOf(r, role));
        if (nodes.some((n) => n === undefined) || new Set(nodes).size !== nodes.length) {
          ctx.log(
            `precondition not met (${distinct.map((role, k) => `${role} on ${nodes[k] ?? 'nothing'}`).join(', ')}): no faults injected; the verdict is unknown`,
          );
          return;
        }
      }
      // As the seed's `nomad job run` does: the cut comes after the deployment succeeded.
      if (scenario.faultsDuringDeployment !== true && job !== undefined && !(await ctx.awaitDeployment(job))) {
        ctx.log("precondition not met (the job's deployment did not succeed): no faults injected; the verdict is unknown");
        return;
      }
    }
    await ctx.step(stepLabel(step), async () => {
      switch (step.do) {
        case 'run_job':
          job = await ctx.registerJob(step.file ?? scenario.job.file);
          return;
        case 'update_job':
          job = await ctx.registerJob(step.file);
          return;
        case 'await': {
          const ms = parseDuration(step.within);
          // Conditions name the scenario's job; on a shared lab the job runs under a fresh name.
          const all = step.all.map((c) => (c.labels?.['job'] === scenario.job.id ? { ...c, labels: { ...c.labels, job: ctx.jobId } } : c));
          const ok = await ctx.await(
            step.for,
            (rec) => all.every((c) => holds(c, rec, cut)),
            ms,
            (rec) => all.map((c) => hopeless(c, rec)).find((why) => why !== undefined),
          );
          if (!ok) {
            failedAwait ??= step.for;
            ctx.log(`(${all.map(describeCondition).join('; ')})`);
          }
          return;
        }
        case 'partition': {
          const target = targetOf(step);
          if (target !== undefined && 'clientOf' in target && step.from !== undefined) {
            // Cut from some servers only: the node is not meant to go anywhere (no `cut` for conditions).
            const within = step.failoverWithin === undefined ? undefined : parseDuration(step.failoverWithin);
            return ctx.partitionFrom(clientHost(target.clientOf, i), step.from, step.mode, within);
          }
          if (target !== undefined && 'clientOf' in target) {
            cut = [clientHost(target.clientOf, i).name];
            return ctx.partition(clientHost(target.clientOf, i), step.mode);
          }
          const hosts = targetHosts(target, i, false);
          cutBy.set(
            targetKey(target!),
            hosts.map((h) => h.name),
          );
          cut = hosts.map((h) => h.name);
          return ctx.partitionMany(hosts, step.mode);
        }
        case 'heal': {
          const target = targetOf(step);
          if (target !== undefined && 'clientOf' in target) return ctx.heal(clientHost(target.clientOf, i));
          return ctx.healMany(targetHosts(target, i, true));
        }
        case 'kill_agent':
        case 'restart_agent':
        case 'pause_agent':
        case 'resume_agent':
          if (isServerStep(step)) return ctx.serverAgent(step);
          return ctx.agent(clientHost(step.clientOf, i), step.do.slice(0, -'_agent'.length) as 'kill' | 'restart' | 'pause' | 'resume');
        case 'write_file': {
          const a = alloc(step.alloc, i);
          return ctx.writeFile(a.id, a.node, step.task, step.path, step.content ?? '');
        }
        case 'wait_until': {
          const lostAfter = job?.TaskGroups.map((g) => g.Disconnect?.LostAfter || g.MaxClientDisconnect || 0).find((v) => v > 0);
          if (!lostAfter) throw new HarnessError(`step ${i + 1}: wait_until lost_after_expired, but the job has no lost_after / max_client_disconnect`);
          if (r.firstUnknownAt === undefined) throw new HarnessError(`step ${i + 1}: wait_until lost_after_expired, but no allocation has gone unknown`);
          const at = r.firstUnknownAt + lostAfter / 1e6 + parseDuration(step.margin ?? '0s');
          return ctx.sleepUntil(at, `lost_after (${lostAfter / 1e9}s) after the first unknown, plus ${step.margin ?? '0s'}`);
        }
        case 'stop_alloc':
          return ctx.stopAlloc(alloc(step.alloc, i).id);
        case 'stop_job':
          return ctx.stopJob();
        case 'sleep':
          return ctx.sleepUntil(Date.now() + parseDuration(step.duration), step.why);
        case 'http_probe': {
          const from = clientHost(step.from.clientOf, i);
          await ctx.awaitProbe(
            step.for,
            async () => {
              const at = r.serviceAddress(step.service, step.alloc);
              if (!at) return { ok: false, seen: `${step.alloc} is not registered under service ${step.service}; ${r.describe()}` };
              const url = `http://${at.address}:${at.port}${step.path ?? '/'}`;
              const got = await ctx.httpGet(from, url).catch((e: unknown) => ({ status: 0, body: e instanceof Error ? e.message : String(e) }));
              const ok = got.status === 200 && got.body.includes(step.expect);
              return {
                ok,
                seen: `GET ${url} from ${from.name}: ${got.status === 0 ? 'no answer' : `HTTP ${got.status}`}, body ${JSON.stringify(got.body.slice(0, 120))}`,
              };
            },
            parseDuration(step.within),
          );
          return;
        }
        case 'refused_without_token': {
          await ctx.awaitProbe(
            `without a token the API refuses ${step.paths.join(', ')}`,
            async () => {
              const statuses = await Promise.all(step.paths.map(async (p) => [p, await ctx.statusWithoutToken(p)] as const));
              return { ok: statuses.every(([, s]) => s === 403), seen: statuses.map(([p, s]) => `${p} -> ${s}`).join(', ') };
            },
            5_000,
          );
          return;
        }
        case 'degrade': {
          const target = targetOf(step);
          const hosts = linkHosts(target, i);
          const profile = loadProfile(step.profile);
          // Every host at once: a flap cuts and heals them together, cycle by cycle, and a loss or delay is
          // on all of them before the `for` clock starts (one after another, the first would be degraded
          // longer than `for`, and a flap's second host would wait out all of the first's cycles).
          if (profile.flap !== undefined) {
            await ctx.flap(hosts, profile);
            return;
          }
          await onEveryHost(hosts, `the degrade (profile ${profile.name})`, (h) => ctx.degrade(h, profile));
          if (step.for === undefined) {
            degradedBy.set(targetKey(target!), hosts);
            return;
          }
          await ctx.sleepUntil(Date.now() + parseDuration(step.for), `the ${profile.name} profile has been on for ${step.for}`);
          await onEveryHost(hosts, `the restore (profile ${profile.name})`, (h) => ctx.restore(h));
          return;
        }
        case 'restore': {
          const target = targetOf(step);
          const hosts = (target === undefined ? undefined : degradedBy.get(targetKey(target))) ?? linkHosts(target, i);
          await onEveryHost(hosts, 'the restore', (h) => ctx.restore(h));
          return;
        }
        case 'capture':
          return ctx.captureCli(captureTitle(step), ['alloc', 'status', alloc(step.alloc, i).id]);
      }
    });
  }
}

/**
 * Runs `body` on every host at once and waits for all of them, so that none is left half done unseen;
 * a failure names each host that failed and why.
 */
export async function onEveryHost(hosts: LabHost[], what: string, body: (host: LabHost) => Promise<void>): Promise<void> {
  const results = await Promise.allSettled(hosts.map(body));
  const failed = results.flatMap((r, k) => (r.status === 'rejected' ? [`${hosts[k]!.name}: ${describeError(r.reason)}`] : []));
  if (failed.length === 1 && hosts.length === 1) throw (results[0] as PromiseRejectedResult).reason;
  if (failed.length > 0) throw new HarnessError(`${what} failed on ${failed.length} of ${hosts.length} host(s): ${failed.join('; ')}`);
}
