// Lab (root, real agents): faults on servers through the one program. `leader-kill-cut` kills the
// leader of 3 servers while a client is cut off; `partial-partition` cuts a client from 2 of them.
// Each must pass, and its trace must show what the verdict rests on: the leader as resolved, a new
// one elected and followed by the harness, the killed server back; the partial cut's listed servers
// unreachable and the kept one reachable, the client's failover to it. About 2.5 minutes.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../harness/config/paths.ts';
import { run } from '../../harness/exec/local.ts';
import type { Positioned, TraceEvent } from '../../harness/trace/types.ts';
import { readTrace } from '../../harness/trace/writer.ts';
import { isRoot, nomadLab, ownsLab } from './support.ts';

const reports = mkdtempSync(join(tmpdir(), 'nomad-lab-reports-'));
const lab = 'h3-lab';
const scenario = (name: string) =>
  run(['node', nomadLab, 'scenario', name, '--reports', reports, '--lab', lab], { check: false, timeoutMs: 170_000, cwd: repoRoot });
const traceOf = (name: string): Positioned[] => {
  const [dir] = existsSync(join(reports, name)) ? readdirSync(join(reports, name)) : [];
  return readTrace(join(reports, name, dir!, 'trace.ndjson'));
};
const of = <K extends TraceEvent['kind']>(trace: Positioned[], kind: K) =>
  trace.filter((e): e is Positioned<Extract<TraceEvent, { kind: K }>> => e.kind === kind);

describe.skipIf(!isRoot)('faults on servers on real agents', () => {
  ownsLab(lab);

  afterAll(() => rmSync(reports, { recursive: true, force: true }));

  it('leader-kill-cut passes: the leader killed and replaced, the harness follows, the killed server rejoins', async () => {
    const r = await scenario('leader-kill-cut');
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/^leader-kill-cut: PASS/m);
    const trace = traceOf('leader-kill-cut');
    const kill = of(trace, 'fault').find((f) => f.fault === 'kill-agent')!;
    const leaders = of(trace, 'leader');
    // The step resolved the leader, and it is the server it killed.
    expect(leaders.filter((l) => l.line < kill.line).at(-1)?.leader).toBe(kill.host);
    // Another server leads after it, and the harness's calls moved there.
    const after = leaders.filter((l) => l.line > kill.line);
    const elected = after.find((l) => l.leader !== undefined && l.leader !== kill.host)!;
    expect(elected).toBeDefined();
    expect(after.some((l) => l.why.startsWith("the harness's API calls follow the leader") && l.leader === elected.leader)).toBe(true);
    // The gauges were read from the new leader after the kill, unknown = 1 among them.
    expect(of(trace, 'metric').some((m) => m.line > kill.line && m.host === elected.leader && m.name.endsWith('.unknown') && m.value === 1)).toBe(true);
    // The stream ran on a follower: no gap while the leader died.
    expect(of(trace, 'gap')).toEqual([]);
    expect(of(trace, 'rejoin')).toMatchObject([{ host: kill.host, ok: true, answered: true }]);
  }, 180_000);

  it('partial-partition passes: only the listed servers cut, the client fails over to the third', async () => {
    const r = await scenario('partial-partition');
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/^partial-partition: PASS/m);
    const trace = traceOf('partial-partition');
    const cut = of(trace, 'fault').find((f) => f.fault === 'partition')!;
    const servers = trace
      .find((e): e is Positioned<Extract<TraceEvent, { kind: 'run' }>> => e.kind === 'run')!
      .run.lab.hosts.filter((h) => h.role === 'server');
    const dropped = new Set(cut.argv.map((a) => a[a.indexOf(a.includes('-s') ? '-s' : '-d') + 1]));
    expect(dropped.size).toBe(2);
    const probes = of(trace, 'reach').filter((p) => p.after === 'partition');
    for (const s of servers) expect(probes.find((p) => p.target.startsWith(`${s.ip}:`))?.reached, s.name).toBe(!dropped.has(s.ip));
    // The heal removed exactly the two servers' rules (both directions): four deletions.
    expect(of(trace, 'fault').find((f) => f.fault === 'heal' && f.detail !== 'cleanup')?.argv).toHaveLength(4);
    const failover = of(trace, 'await').find((a) => a.what.includes('fails over'));
    expect(failover?.ok).toBe(true);
  }, 180_000);
});
