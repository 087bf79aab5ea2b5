// Unit: parsing `iptables -S` (as printed by iptables 1.8.9 on this machine) into deletable rules.
import { describe, expect, it } from 'vitest';
import { chainPolicy, deleteArgv, parseRules, ruleComment, tokenizeRule } from '../../harness/lab/iptables.ts';
import { partitionMode } from '../../harness/check/faults.ts';
import { phaseTimings } from '../../harness/check/timings.ts';
import { healArgv, partitionArgv, partitionRulesIn } from '../../harness/faults/partition.ts';
import type { Positioned } from '../../harness/trace/types.ts';

const listing = [
  '-P INPUT ACCEPT',
  '-P FORWARD DROP',
  '-P OUTPUT ACCEPT',
  '-N DOCKER',
  '-A FORWARD -i nl37a8e-br -o nl37a8e-br -m comment --comment nomad-lab:nl37a8e -j ACCEPT',
  '-A FORWARD -o docker0 -m comment --comment "some spaced comment" -j DOCKER',
  '-A INPUT -s 198.19.97.11/32 -j DROP',
].join('\n');

describe('iptables listing', () => {
  it('keeps quoted comments whole', () => {
    expect(tokenizeRule('-A X -m comment --comment "a b \\"c\\"" -j ACCEPT')).toEqual(['-A', 'X', '-m', 'comment', '--comment', 'a b "c"', '-j', 'ACCEPT']);
  });

  it('finds appended rules with chain, spec and comment, skipping policies and chain creation', () => {
    const rules = parseRules(listing);
    expect(rules.map((r) => r.chain)).toEqual(['FORWARD', 'FORWARD', 'INPUT']);
    expect(rules.map(ruleComment)).toEqual(['nomad-lab:nl37a8e', 'some spaced comment', undefined]);
    expect(deleteArgv(rules[0]!)).toEqual([
      'iptables',
      '-w',
      '-t',
      'filter',
      '-D',
      'FORWARD',
      '-i',
      'nl37a8e-br',
      '-o',
      'nl37a8e-br',
      '-m',
      'comment',
      '--comment',
      'nomad-lab:nl37a8e',
      '-j',
      'ACCEPT',
    ]);
  });

  it('reads a chain policy', () => {
    expect(chainPolicy(listing, 'FORWARD')).toBe('DROP');
    expect(chainPolicy(listing, 'INPUT')).toBe('ACCEPT');
    expect(chainPolicy('-P OUTPUT ACCEPT', 'FORWARD')).toBeUndefined();
  });
});

describe('partition modes', () => {
  const servers = ['10.9.0.11', '10.9.0.12'];
  it("input is the seed's rule, one per server; output drops what goes to the servers; both does both", () => {
    expect(partitionArgv(servers)).toEqual([
      ['iptables', '-w', '-I', 'INPUT', '-s', '10.9.0.11', '-j', 'DROP'],
      ['iptables', '-w', '-I', 'INPUT', '-s', '10.9.0.12', '-j', 'DROP'],
    ]);
    expect(partitionArgv(['10.9.0.11'], 'output')).toEqual([['iptables', '-w', '-I', 'OUTPUT', '-d', '10.9.0.11', '-j', 'DROP']]);
    expect(partitionArgv(['10.9.0.11'], 'both').map((a) => a[3])).toEqual(['INPUT', 'OUTPUT']);
    expect(healArgv(['10.9.0.11'], 'both')).toEqual([
      ['iptables', '-w', '-D', 'INPUT', '-s', '10.9.0.11', '-j', 'DROP'],
      ['iptables', '-w', '-D', 'OUTPUT', '-d', '10.9.0.11', '-j', 'DROP'],
    ]);
    expect(partitionMode(partitionArgv(servers, 'output'))).toBe('output');
    expect(partitionMode(partitionArgv(servers, 'both'))).toBe('both');
    expect(partitionMode(partitionArgv(servers))).toBe('input');
  });

  it('finds the rules of every mode in a listing, and only those of these servers', () => {
    const listing = [
      '-P INPUT ACCEPT',
      '-A INPUT -s 10.9.0.11/32 -j DROP',
      '-A OUTPUT -d 10.9.0.12/32 -j DROP',
      '-A INPUT -s 10.9.0.111/32 -j DROP',
      '-A OUTPUT -s 10.9.0.11/32 -j DROP',
    ].join('\n');
    expect(partitionRulesIn(listing, servers)).toEqual(['-A INPUT -s 10.9.0.11/32 -j DROP', '-A OUTPUT -d 10.9.0.12/32 -j DROP']);
  });
});

describe('the bounds of the detection phases follow the partition mode', () => {
  const timers = { minHeartbeatTtl: 2, heartbeatGrace: 2 };
  const trace = (argv: string[][]): Positioned[] =>
    [
      { kind: 'fault', t: 1000, fault: 'partition', host: 'client1', argv },
      { kind: 'fault', t: 11_000, fault: 'heal', host: 'client1', argv: [] },
    ].map((e, i) => ({ ...e, line: i + 1 }) as Positioned);
  const bound = (argv: string[][], phase: string) =>
    phaseTimings(trace(argv), { original: 'cache[0]#1', replacement: 'cache[0]#2', others: [] }, timers).find((p) => p.phase === phase)?.bound;
  it('an INPUT-only DROP lets one heartbeat through: 2 TTLs + grace; dropping what goes out: 1 TTL + grace', () => {
    expect(bound(partitionArgv(['10.9.0.11']), 'partition -> node disconnected')).toBe(10);
    expect(bound(partitionArgv(['10.9.0.11'], 'output'), 'partition -> node disconnected')).toBe(6);
    expect(bound(partitionArgv(['10.9.0.11'], 'both'), 'partition -> alloc unknown')).toBe(7);
  });
  it('the reconnect bounds grow with how long the cut lasted (TCP retransmission backoff)', () => {
    expect(bound(partitionArgv(['10.9.0.11']), 'heal -> Reconnected')).toBe(18);
    expect(bound(partitionArgv(['10.9.0.11']), 'heal -> node ready')).toBe(22);
  });
});
