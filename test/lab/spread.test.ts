// Lab (root, real agents; runs in CI): `npm run scenario spread` end to end, asserting the trace's
// content (not only the verdict); and a run interrupted or killed during the partition.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { repoRoot } from '../../harness/config/paths.ts';
import { run } from '../../harness/exec/local.ts';
import { auditLeaks } from '../../harness/lab/audit.ts';
import { readState } from '../../harness/lab/store.ts';
import { normalise, transitions } from '../../harness/trace/normalise.ts';
import { readTrace } from '../../harness/trace/writer.ts';
import type { RunResult } from '../../harness/report/result.ts';
import { nomadLab, isRoot, labCli, ownsLab, startLabCli, waitForOutput } from './support.ts';

const reports = mkdtempSync(join(tmpdir(), 'nomad-lab-reports-'));
const lab = 't-spread';
const scenario = (args: string[]) =>
  run(['node', nomadLab, 'scenario', ...args, '--reports', reports, '--lab', lab], { check: false, timeoutMs: 170_000, cwd: repoRoot });
const runDirs = () => (existsSync(join(reports, 'spread')) ? readdirSync(join(reports, 'spread')).map((d) => join(reports, 'spread', d)) : []);

describe.skipIf(!isRoot)('scenario spread on real agents', () => {
  ownsLab(lab);

  afterAll(async () => {
    rmSync(reports, { recursive: true, force: true });
  }, 60_000);

  it('passes, and its trace shows what the seed bench test shows', async () => {
    const r = await scenario(['spread']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^spread: PASS/m);
    for (const phase of [
      'lab up',
      'placement',
      'partition -> node disconnected',
      'partition -> alloc unknown',
      'partition -> replacement running',
      'heal -> Reconnected',
      'total',
    ]) {
      expect(r.stdout).toMatch(new RegExp(`${phase.replace(/[>()]/g, '.')}.*\\d+\\.\\d+s`));
    }
    const [dir] = runDirs();
    for (const f of ['trace.ndjson', 'result.json', 'junit.xml', 'logs/client1.log']) expect(existsSync(join(dir!, f)), f).toBe(true);
    const result = JSON.parse(readFileSync(join(dir!, 'result.json'), 'utf8')) as RunResult;
    expect(result.verdict).toBe('pass');
    expect(result.nomad?.version).toMatch(/^\d+\.\d+\.\d+/);

    const trace = readTrace(join(dir!, 'trace.ndjson'));
    const n = normalise(trace);
    const original = n.byRole.get('cache[0]#1')!;
    const replacement = n.byRole.get('cache[0]#2')!;
    const other = n.byRole.get('cache[1]#1')!;
    const values = (xs: Array<{ value: string }>) => xs.map((x) => x.value);
    // The original: running -> unknown -> running, never lost.
    expect(values(transitions(original.observations, (o) => o.client))).toEqual(expect.arrayContaining(['running', 'unknown']));
    expect(values(transitions(original.observations, (o) => o.client)).slice(-3)).toEqual(['running', 'unknown', 'running']);
    // The replacement: on the other client, linked to the original, running, then stopped and complete.
    expect(replacement.previous).toBe(original.id);
    expect(replacement.node).toBe(other.node);
    expect(values(transitions(replacement.observations, (o) => o.client))).toEqual(expect.arrayContaining(['running', 'complete']));
    expect(values(transitions(replacement.observations, (o) => o.desired)).at(-1)).toBe('stop');
    // The node: ready -> disconnected -> (initializing) -> ready.
    const node = values(transitions(n.nodes.get(original.node)!.observations, (o) => o.status));
    expect(node.slice(node.indexOf('disconnected'))).toEqual(expect.arrayContaining(['disconnected', 'ready']));
    // The metric from the leader, with its labels: 0 -> 1 -> 0.
    const unknown = n.metrics.find((m) => m.name === 'nomad.nomad.job_summary.unknown' && m.labels['job'] === 'spread' && m.labels['task_group'] === 'cache')!;
    expect(unknown.points.map((p) => p.value)).toEqual([0, 1, 0]);
    // The fault: the seed's command, a mid-partition snapshot holding it, and a heal that removed it.
    const faults = trace.filter((e) => e.kind === 'fault');
    const partition = faults.find((f) => f.kind === 'fault' && f.fault === 'partition');
    const heal = faults.find((f) => f.kind === 'fault' && f.fault === 'heal');
    // The seed's command (plus -w, which only waits for the xtables lock).
    expect(partition && partition.kind === 'fault' && partition.argv[0]?.filter((a) => a !== '-w').slice(0, 4)).toEqual(['iptables', '-I', 'INPUT', '-s']);
    const snapshots = trace.filter((e) => e.kind === 'iptables');
    expect(snapshots.map((s) => s.kind === 'iptables' && s.when)).toEqual(['partitioned', 'healed']);
    expect(snapshots[0]!.kind === 'iptables' && snapshots[0]!.rules).toMatch(/-A INPUT -s 198\.\d+\.\d+\.11\/32 -j DROP/);
    expect(snapshots[1]!.kind === 'iptables' && snapshots[1]!.rules).not.toMatch(/DROP/);
    // Reconnected, after the heal.
    const reconnected = original.observations.find((o) => o.taskEvents.some((e) => e.Type === 'Reconnected' && e.DisplayMessage === 'Client reconnected'));
    expect(reconnected && heal && reconnected.t >= heal.t).toBe(true);
    // Nomad's events are in Raft-index order in the normalised view.
    const indexes = original.observations.map((o) => o.index);
    expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
    expect(await auditLeaks(lab)).toEqual([]);
  }, 170_000);

  it('SIGINT during the partition: heals, writes the reports (verdict unknown), tears down, exits 130', async () => {
    const before = runDirs().length;
    const running = startScenario();
    await waitForOutput(running, /partitioned client\d/);
    running.child.kill('SIGINT');
    const { code } = await running.exited;
    expect(code).toBe(130);
    expect(running.stderr()).toContain('interrupted by SIGINT');
    expect(running.stderr()).toMatch(/healed client\d \(cleanup\)/);
    const dir = runDirs().sort().at(-1)!;
    expect(runDirs().length).toBe(before + 1);
    const result = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as RunResult;
    expect(result.verdict).toBe('unknown');
    expect(result.harnessError).toBe('interrupted by SIGINT');
    expect(existsSync(join(dir, 'trace.ndjson'))).toBe(true);
    expect(await auditLeaks(lab)).toEqual([]);
  }, 170_000);

  it('SIGKILL during the partition: the DROP rule and lab are there until the next run cleans them, and that run passes', async () => {
    const running = startScenario();
    await waitForOutput(running, /partitioned client\d/);
    const state = readState(lab)!;
    running.child.kill('SIGKILL');
    await running.exited;
    // The rule lives on in the partitioned client's namespace.
    const target = /partitioned (client\d)/.exec(running.stderr())![1]!;
    const ns = state.plan.hosts.find((h) => h.name === target)!.netns;
    const rules = await run(['nsenter', `--net=/run/netns/${ns}`, '--', 'iptables', '-S', 'INPUT']);
    expect(rules.stdout).toContain('-j DROP');

    const next = await scenario(['spread']);
    expect(next.stderr).toMatch(new RegExp(`cleaned leftovers of lab ${lab} \\(left by process \\d+ while up\\)`));
    expect(next.exitCode, next.stdout + next.stderr).toBe(0);
    expect(await auditLeaks(lab)).toEqual([]);
  }, 170_000);
});

function startScenario() {
  // startLabCli runs the lab CLI; the scenario CLI is started the same way.
  return startLabCli(['spread', '--reports', reports, '--lab', lab], 'scenario');
}
