// Unit: roles in creation order (trace/roles.ts), how checks make a verdict (check/outcome.ts), and
// when a fault counts as having taken effect (check/faults.ts).
import { describe, expect, it } from 'vitest';
import { faultsTookEffect } from '../../harness/check/faults.ts';
import { verdictOf, type CheckOutcome } from '../../harness/check/outcome.ts';
import { normalise } from '../../harness/trace/normalise.ts';
import { assignRoles, parseRole, roleName } from '../../harness/trace/roles.ts';
import type { Positioned, TraceEvent } from '../../harness/trace/types.ts';

const roles = (allocs: Array<[string, string, number]>) =>
  Object.fromEntries([...assignRoles(allocs.map(([id, name, createIndex]) => ({ id, name, createIndex })))].map(([id, r]) => [id, roleName(r)]));

describe('roles', () => {
  it('number the allocations of each slot in creation order, whatever PreviousAllocation says', () => {
    // A flapping link: cache[0] replaced twice (b after the first cut, d after the second); c is
    // cache[1]'s original; e is a placement without a link after a reconnect.
    expect(
      roles([
        ['d', 'spread.cache[0]', 60],
        ['a', 'spread.cache[0]', 10],
        ['c', 'spread.cache[1]', 10],
        ['b', 'spread.cache[0]', 30],
        ['e', 'spread.cache[1]', 70],
      ]),
    ).toEqual({ a: 'cache[0]#1', b: 'cache[0]#2', d: 'cache[0]#3', c: 'cache[1]#1', e: 'cache[1]#2' });
  });

  it('give two allocations of one plan (same CreateIndex) distinct roles, by ID', () => {
    expect(
      roles([
        ['y', 'j.g[0]', 5],
        ['x', 'j.g[0]', 5],
      ]),
    ).toEqual({ x: 'g[0]#1', y: 'g[0]#2' });
  });

  it('parse only well-formed roles', () => {
    expect(parseRole('cache[0]#2')).toEqual({ group: 'cache', index: 0, n: 2 });
    for (const bad of ['cache[0]', 'cache[0]#0', 'cache[x]#1', 'cache[0]#1 ', '[0]#1']) expect(parseRole(bad)).toBeUndefined();
  });
});

const outcome = (verdict: CheckOutcome['verdict'], kind: CheckOutcome['kind']): CheckOutcome => ({
  check: `${kind} ${verdict}`,
  verdict,
  kind,
  detail: '',
  source: '',
});

describe('verdictOf', () => {
  it('a test that did not happen is unknown, whatever else failed', () => {
    expect(verdictOf([outcome('unknown', 'precondition'), outcome('fail', 'nomad')])).toBe('unknown');
    expect(verdictOf([outcome('unknown', 'fault'), outcome('fail', 'nomad')])).toBe('unknown');
  });
  it('what Nomad did wrong outranks a gap in the recording or a harness error', () => {
    expect(verdictOf([outcome('unknown', 'recording'), outcome('fail', 'nomad')])).toBe('fail');
    expect(verdictOf([outcome('unknown', 'harness'), outcome('fail', 'nomad')])).toBe('fail');
    expect(verdictOf([outcome('unknown', 'recording'), outcome('pass', 'nomad')])).toBe('unknown');
    expect(verdictOf([outcome('pass', 'precondition'), outcome('pass', 'fault'), outcome('pass', 'nomad')])).toBe('pass');
  });
});

describe('faultsTookEffect', () => {
  const at = (events: TraceEvent[]): Positioned[] => events.map((e, i) => ({ ...e, line: i + 1 }) as Positioned);
  const partition: TraceEvent = {
    kind: 'fault',
    t: 1,
    fault: 'partition',
    host: 'client1',
    argv: [['iptables', '-w', '-I', 'INPUT', '-s', '10.9.0.11', '-j', 'DROP']],
  };
  const listed: TraceEvent = { kind: 'iptables', t: 2, host: 'client1', when: 'partitioned', rules: '-P INPUT ACCEPT\n-A INPUT -s 10.9.0.11/32 -j DROP\n' };
  const probe = (reached: boolean): TraceEvent => ({
    kind: 'reach',
    t: 3,
    host: 'client1',
    target: '10.9.0.11:4647',
    after: 'partition',
    reached,
    detail: reached ? 'connected in 0.0s' : 'no answer within 2s',
  });
  const judge = (events: TraceEvent[]) => {
    const trace = at(events);
    return faultsTookEffect(trace, normalise(trace))[0]!;
  };

  it('counts a partition whose rule is listed and whose servers no longer answer', () => {
    expect(judge([partition, listed, probe(false)])).toMatchObject({ verdict: 'pass', kind: 'fault' });
  });
  it('does not count one whose rule is missing, whose server still answers, or that was never probed', () => {
    expect(judge([partition, { ...listed, rules: '-P INPUT ACCEPT\n' } as TraceEvent, probe(false)])).toMatchObject({
      verdict: 'unknown',
      detail: expect.stringContaining('not in client1'),
    });
    expect(judge([partition, listed, probe(true)])).toMatchObject({ verdict: 'unknown', detail: expect.stringContaining('answered client1') });
    expect(judge([partition, listed])).toMatchObject({ verdict: 'unknown', detail: expect.stringContaining('no reachability probe') });
    // A probe that could not run proves nothing; nor does one that cannot connect after the heal either.
    expect(judge([partition, listed, { ...probe(false), broken: true, detail: 'the probe failed: exit 127' } as TraceEvent])).toMatchObject({
      verdict: 'unknown',
      detail: expect.stringContaining('exit 127'),
    });
    const heal: TraceEvent = { kind: 'fault', t: 5, fault: 'heal', host: 'client1', argv: [] };
    const afterHeal = (reached: boolean): TraceEvent => ({ ...probe(reached), t: 6, after: 'heal' }) as TraceEvent;
    expect(judge([partition, listed, probe(false), heal, afterHeal(true)]).verdict).toBe('pass');
    expect(judge([partition, listed, probe(false), heal, afterHeal(false)])).toMatchObject({
      verdict: 'unknown',
      detail: expect.stringContaining('after the heal'),
    });
    // A DROP of another address does not stand in for this server's.
    expect(judge([partition, { ...listed, rules: '-A INPUT -s 10.9.0.111/32 -j DROP\n' } as TraceEvent, probe(false)]).verdict).toBe('unknown');
  });
  it('counts a kill only of an agent that was running before and is gone after', () => {
    const kill = (detail?: string) => {
      const trace = at([
        {
          kind: 'fault',
          t: 1,
          fault: 'kill-agent',
          host: 'client1',
          argv: detail === 'agent was not running' ? [] : [['kill', '-KILL', '4242']],
          ...(detail ? { detail } : {}),
        },
      ]);
      return faultsTookEffect(trace, normalise(trace))[0];
    };
    expect(kill()).toMatchObject({ verdict: 'pass', kind: 'fault' });
    expect(kill('agent was not running')).toMatchObject({ verdict: 'unknown', kind: 'fault' });
    expect(kill('agent still running after the kill')).toMatchObject({ verdict: 'unknown', detail: expect.stringContaining('still running') });
  });
});

describe('a write_file fault', () => {
  it('counts only when the task failed after the write and before the heal (the committed failed-task run, and the same with the failure moved past the heal)', async () => {
    const { readTrace } = await import('../../harness/trace/writer.ts');
    const { join } = await import('node:path');
    const trace = readTrace(join(import.meta.dirname, '..', 'fixtures', 'runs', 'failed-task-pass', 'trace.ndjson'));
    const judge = (t: Positioned[]) => faultsTookEffect(t, normalise(t)).find((o) => o.check.startsWith('fault: the task failed'))!;
    expect(judge(trace)).toMatchObject({ verdict: 'pass', detail: expect.stringMatching(/"Exit Code: 1" [\d.]+s after the write, [\d.]+s before the heal/) });
    const heal = trace.find((e) => e.kind === 'fault' && e.fault === 'heal')!;
    const late = structuredClone(trace).map((e) => {
      if (e.kind !== 'alloc-read') return e;
      for (const st of Object.values(e.alloc.TaskStates ?? {})) for (const ev of st.Events ?? []) if (ev.Type === 'Terminated') ev.Time = (heal.t + 3000) * 1e6;
      return e;
    });
    expect(judge(late)).toMatchObject({ verdict: 'unknown', detail: expect.stringContaining('AFTER the heal') });
  });
});
