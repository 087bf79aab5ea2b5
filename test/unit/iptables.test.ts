// Unit: parsing `iptables -S` (as printed by iptables 1.8.9 on this machine) into deletable rules.
import { describe, expect, it } from 'vitest';
import { chainPolicy, deleteArgv, parseRules, ruleComment, tokenizeRule } from '../../harness/lab/iptables.ts';

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
    expect(deleteArgv(rules[0]!)).toEqual(['iptables', '-w', '-t', 'filter', '-D', 'FORWARD', '-i', 'nl37a8e-br', '-o', 'nl37a8e-br', '-m', 'comment', '--comment', 'nomad-lab:nl37a8e', '-j', 'ACCEPT']);
  });

  it('reads a chain policy', () => {
    expect(chainPolicy(listing, 'FORWARD')).toBe('DROP');
    expect(chainPolicy(listing, 'INPUT')).toBe('ACCEPT');
    expect(chainPolicy('-P OUTPUT ACCEPT', 'FORWARD')).toBeUndefined();
  });
});
