// Unit: every committed run (real runs, see fixture.json) re-checks offline to its committed verdict,
// and the mutated run fails for the reason the scenario is about.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { recheck } from '../../harness/check/recheck.ts';
import { check } from '../../harness/check/checker.ts';
import { findScenario } from '../../harness/scenario/catalog.ts';

const spreadExpectations = findScenario('spread').expect;
import { normalise } from '../../harness/trace/normalise.ts';
import { readTrace } from '../../harness/trace/writer.ts';

const root = join(import.meta.dirname, '..', 'fixtures', 'runs');
const runs = readdirSync(root);

describe('committed runs', () => {
  it('there are committed runs to re-check', () => {
    expect(runs).toEqual(expect.arrayContaining(['spread-pass', 'spread-without-disconnect', 'job-version-without-update', 'expired-healed-early']));
  });

  for (const run of runs) {
    it(`${run}: re-checking reproduces the committed verdict`, () => {
      const dir = join(root, run);
      const fixture = JSON.parse(readFileSync(join(dir, 'fixture.json'), 'utf8')) as { verdict: string };
      const committed = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as { verdict: string };
      expect(committed.verdict).toBe(fixture.verdict);
      expect(recheck(dir).verdict).toBe(fixture.verdict);
    });
  }

  it('spread without the disconnect setting fails naming the allocation, expected unknown, observed lost', () => {
    const result = recheck(join(root, 'spread-without-disconnect'));
    expect(result.verdict).toBe('fail');
    const reason = result.reasons.find((r) => r.check === 'transitions: alloc cache[0]#1 client status');
    expect(reason?.detail).toMatch(/^alloc cache\[0\]#1 \([0-9a-f]{8} on client\d\): expected unknown after running, observed lost \(trace line \d+\)/);
    expect(result.exitCode).toBe(1);
  });

  it('job-version without the update fails: the v0 allocations are never stopped', () => {
    const result = recheck(join(root, 'job-version-without-update'));
    expect(result.verdict).toBe('fail');
    const detail = (check: string) => result.reasons.find((r) => r.check === check)?.detail;
    expect(detail('transitions: alloc cache[1]#1 desired status')).toMatch(
      /^alloc cache\[1\]#1 \([0-9a-f]{8} on client\d\): expected stop after run, observed nothing more; whole history: run$/,
    );
    expect(detail('final: 2 running at job version 1')).toMatch(/v0/);
  });

  it('expired healed before lost_after fails: the allocation never went lost and the node never down', () => {
    const result = recheck(join(root, 'expired-healed-early'));
    expect(result.verdict).toBe('fail');
    const detail = (check: string) => result.reasons.find((r) => r.check === check)?.detail;
    expect(detail('transitions: alloc cache[0]#1 client status')).toMatch(/expected lost after unknown, observed running \(trace line \d+\)/);
    expect(detail('transitions: node of cache[0]#1 node status')).toMatch(/expected down after disconnected, observed initializing/);
  });

  it('the Nomad bugs the matrix found stay FAILs that name what Nomad did (#16609 on 1.5.3; two cache[0] on 1.6.3)', () => {
    const old = recheck(join(root, 'failed-replacement-1.5.3-bug'));
    expect(old.verdict).toBe('fail');
    expect(old.reasons.find((r) => r.check === 'final: group cache has 2 running')?.detail).toMatch(/cache\[0\]#2 failed\/run, cache\[1\]#1 complete\/stop/);
    const fresh = recheck(join(root, 'job-version-1.6.3-bug'));
    expect(fresh.verdict).toBe('fail');
    const checks = fresh.reasons.map((r) => `${r.check}: ${r.detail}`).join('\n');
    expect(checks).toMatch(/accounting: unexpected allocation cache\[0\]#4: .*PreviousAllocation cache\[0\]#1/);
    expect(checks).toMatch(/no allocation cache\[1\]#2 in the trace/);
  });

  it('deploy-cut on 1.6.3: the deployment was active at the cut and no replacement came; on 1.6.2 one came at once', () => {
    const fresh = recheck(join(root, 'deploy-cut-pass'));
    expect(fresh.verdict).toBe('pass');
    expect(fresh.checks.find((c) => c.check.startsWith("precondition: the job's deployment active"))?.detail).toMatch(
      /deployment [0-9a-f]{8} \(job v0\) was running \("Deployment is running"\) at the partition/,
    );
    expect(fresh.checks.find((c) => c.check === 'absent: no cache[0]#2')?.verdict).toBe('pass');
    expect(fresh.notApplied?.map((x) => x.expectation)).toEqual(['transitions cache[0]#2 running -> complete', 'placements cache[0]#2']);
    const old = recheck(join(root, 'deploy-cut-1.6.2-pass'));
    expect(old.verdict).toBe('pass');
    expect(old.checks.find((c) => c.check.startsWith('placement: cache[0]#2'))?.verdict).toBe('pass');
    expect(old.notApplied?.map((x) => x.expectation)).toEqual(['absent cache[0]#2']);
  });

  it('the passing run has the shape the seed describes, read straight from the trace', () => {
    const n = normalise(readTrace(join(root, 'spread-pass', 'trace.ndjson')));
    expect([...n.byRole.keys()].sort()).toEqual(['cache[0]#1', 'cache[0]#2', 'cache[1]#1']);
    const original = n.byRole.get('cache[0]#1')!;
    const replacement = n.byRole.get('cache[0]#2')!;
    expect(replacement.previous).toBe(original.id);
    expect(replacement.node).not.toBe(original.node);
    expect(n.faults.map((f) => [f.fault, f.host])).toEqual([
      ['partition', original.node],
      ['heal', original.node],
    ]);
    expect(n.faults[0]!.argv[0]).toEqual(['iptables', '-w', '-I', 'INPUT', '-s', expect.stringMatching(/^198\.1[89]\./), '-j', 'DROP']);
    // The proof the partition took effect, and that the heal undid it: the server's RPC port from the client.
    const trace = readTrace(join(root, 'spread-pass', 'trace.ndjson'));
    const reach = trace.filter((e) => e.kind === 'reach').map((e) => (e.kind === 'reach' ? [e.host, e.after, e.reached, e.target] : []));
    expect(reach).toEqual([
      [original.node, 'partition', false, expect.stringMatching(/:4647$/)],
      [original.node, 'heal', true, expect.stringMatching(/:4647$/)],
    ]);
  });

  it('a trace cut before the partition is not a pass, and a checker crash is unknown', () => {
    const trace = readTrace(join(root, 'spread-pass', 'trace.ndjson'));
    const cut = trace.slice(
      0,
      trace.findIndex((e) => e.kind === 'fault'),
    );
    expect(check(cut, spreadExpectations).verdict).not.toBe('pass');
    const broken = check(trace, { ...spreadExpectations, transitions: null as never });
    expect(broken.verdict).toBe('unknown');
    expect(broken.reasons[0]?.detail).toMatch(/checker crashed/);
  });

  it('swapping two allocations onto one client makes the verdict unknown, not pass', () => {
    const trace = readTrace(join(root, 'spread-pass', 'trace.ndjson')).map((e) => {
      if (e.kind !== 'nomad' || e.topic !== 'Allocation') return e;
      const a = e.payload['Allocation'] as Record<string, unknown>;
      return { ...e, payload: { Allocation: { ...a, NodeName: 'client1', NodeID: 'x' } } };
    });
    expect(check(trace, spreadExpectations).verdict).toBe('unknown');
  });
});
