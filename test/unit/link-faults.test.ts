// Unit: link faults: the argv of loss rules and netem, reading them back from `iptables -S` and
// `tc qdisc show`, the loss-rate proof (binomial bound), the checker's verdict on a degrade, and the
// link profiles (schema and the rules a schema cannot say).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  connectFailureRate,
  deleteListedArgv,
  devOf,
  linkQdiscDevs,
  linkRulesIn,
  lossArgv,
  lossRemoveArgv,
  lossRuleListed,
  netemArgv,
  netemRemoveArgv,
  parseLossProbe,
  plausibleFailures,
  qdiscUnknown,
} from '../../harness/faults/links.ts';
import { effectOf, loadProfile, loadProfileFile, profileNames } from '../../harness/faults/profiles.ts';
import { judgeProbe, linkFaultsTookEffect } from '../../harness/check/link-faults.ts';
import { loadScenarioFile } from '../../harness/scenario/load.ts';
import { partitionRulesIn } from '../../harness/lab/iptables.ts';
import { normalise } from '../../harness/trace/normalise.ts';
import type { Positioned, TraceEvent } from '../../harness/trace/types.ts';
import { runSteps } from '../../harness/scenario/steps.ts';
import { linkActions, type LinkDeps } from '../../harness/scenario/link-steps.ts';
import type { Scenario, ScenarioContext } from '../../harness/scenario/types.ts';
import type { Recorder } from '../../harness/trace/recorder.ts';
import type { LabHost } from '../../harness/lab/driver.ts';

// As iptables 1.8 prints them (checked in a namespace on this machine).
const LISTING = [
  '-P INPUT ACCEPT',
  '-P FORWARD ACCEPT',
  '-P OUTPUT ACCEPT',
  '-A INPUT -s 10.9.0.1/32 -m statistic --mode random --probability 0.29999999981 -m comment --comment nomad-lab-link -j DROP',
  '-A OUTPUT -d 10.9.0.1/32 -m statistic --mode random --probability 0.29999999981 -m comment --comment nomad-lab-link -j DROP',
].join('\n');

describe('loss rules', () => {
  it('one rule per server and direction, tagged, with a fixed-width probability; removal mirrors insertion', () => {
    expect(lossArgv(['10.9.0.1'], 0.3, 'both')).toEqual([
      [
        'iptables',
        '-w',
        '-I',
        'INPUT',
        '-s',
        '10.9.0.1',
        '-m',
        'statistic',
        '--mode',
        'random',
        '--probability',
        '0.3000',
        '-m',
        'comment',
        '--comment',
        'nomad-lab-link',
        '-j',
        'DROP',
      ],
      [
        'iptables',
        '-w',
        '-I',
        'OUTPUT',
        '-d',
        '10.9.0.1',
        '-m',
        'statistic',
        '--mode',
        'random',
        '--probability',
        '0.3000',
        '-m',
        'comment',
        '--comment',
        'nomad-lab-link',
        '-j',
        'DROP',
      ],
    ]);
    expect(lossArgv(['10.9.0.1', '10.9.0.2'], 0.05, 'input').map((a) => a.slice(3, 6))).toEqual([
      ['INPUT', '-s', '10.9.0.1'],
      ['INPUT', '-s', '10.9.0.2'],
    ]);
    expect(lossArgv(['10.9.0.1'], 0.05, 'output').map((a) => a[3])).toEqual(['OUTPUT']);
    expect(lossRemoveArgv(['10.9.0.1'], 0.3, 'both').map((a) => a[2])).toEqual(['-D', '-D']);
    expect(lossRemoveArgv(['10.9.0.1'], 0.3, 'both').map((a) => a.slice(3))).toEqual(lossArgv(['10.9.0.1'], 0.3, 'both').map((a) => a.slice(3)));
  });

  it('reads the rules back as iptables prints them (address /32, probability with eleven decimals)', () => {
    const [input, output] = lossArgv(['10.9.0.1'], 0.3, 'both');
    expect(lossRuleListed(LISTING, input!)).toBe(true);
    expect(lossRuleListed(LISTING, output!)).toBe(true);
    expect(lossRuleListed(LISTING, lossArgv(['10.9.0.2'], 0.3, 'input')[0]!)).toBe(false);
    expect(lossRuleListed(LISTING, lossArgv(['10.9.0.1'], 0.5, 'input')[0]!)).toBe(false);
    expect(lossRuleListed(LISTING.replace(/nomad-lab-link/g, 'someone-else'), input!)).toBe(false);
  });

  it('finds the tagged rules for the cleanup and deletes each as listed', () => {
    const found = linkRulesIn(`${LISTING}\n-A INPUT -s 10.9.0.1/32 -j DROP\n-A INPUT -m comment --comment other -j ACCEPT`);
    expect(found).toHaveLength(2);
    expect(deleteListedArgv(found[0]!)).toEqual([
      'iptables',
      '-w',
      '-D',
      'INPUT',
      '-s',
      '10.9.0.1/32',
      '-m',
      'statistic',
      '--mode',
      'random',
      '--probability',
      '0.29999999981',
      '-m',
      'comment',
      '--comment',
      'nomad-lab-link',
      '-j',
      'DROP',
    ]);
  });

  it('a loss rule is no partition: a heal check does not see one, nor a partition proof', () => {
    expect(partitionRulesIn(LISTING, ['10.9.0.1'])).toEqual([]);
    expect(partitionRulesIn(`${LISTING}\n-A INPUT -s 10.9.0.1/32 -j DROP`, ['10.9.0.1'])).toEqual(['-A INPUT -s 10.9.0.1/32 -j DROP']);
  });
});

describe('netem', () => {
  it('a prio root of the harness handle, netem in a fourth band, one filter per server', () => {
    const argv = netemArgv('eth0', ['10.9.0.1', '10.9.0.2'], 200, 50);
    expect(argv[0]).toEqual(['tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'handle', '4e4c:', 'prio', 'bands', '4']);
    expect(argv[1]).toEqual(['tc', 'qdisc', 'add', 'dev', 'eth0', 'parent', '4e4c:4', 'handle', '4e4d:', 'netem', 'delay', '200ms', '50ms']);
    expect(argv.slice(2).map((a) => a.slice(-3))).toEqual([
      ['10.9.0.1/32', 'flowid', '4e4c:4'],
      ['10.9.0.2/32', 'flowid', '4e4c:4'],
    ]);
    expect(netemArgv('eth0', ['10.9.0.1'], 100)[1]!.slice(-3)).toEqual(['netem', 'delay', '100ms']);
    expect(netemRemoveArgv('eth0')).toEqual(['tc', 'qdisc', 'del', 'dev', 'eth0', 'root', 'handle', '4e4c:']);
  });

  it("knows this kernel's refusal, and finds only its own root qdisc for the cleanup", () => {
    expect(qdiscUnknown('Error: Specified qdisc kind is unknown.')).toBe(true);
    expect(qdiscUnknown('RTNETLINK answers: Operation not permitted')).toBe(false);
    const show = [
      'qdisc noqueue 0: dev lo root refcnt 2',
      'qdisc prio 4e4c: dev eth0 root refcnt 2 bands 4',
      'qdisc prio 1: dev eth1 root refcnt 2 bands 3',
    ].join('\n');
    expect(linkQdiscDevs(show)).toEqual(['eth0']);
  });

  it('finds the device that holds an address', () => {
    const addrs = [
      '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever',
      '2: eth0    inet 198.19.12.11/24 brd 198.19.12.255 scope global eth0\\       valid_lft forever',
    ].join('\n');
    expect(devOf(addrs, '198.19.12.11')).toBe('eth0');
    expect(devOf(addrs, '198.19.12.1')).toBeUndefined();
  });
});

describe('the loss-rate proof', () => {
  it('a connect needs its SYN out and its SYN-ACK back: both directions compound', () => {
    expect(connectFailureRate(0.3, 'input')).toBeCloseTo(0.3);
    expect(connectFailureRate(0.3, 'output')).toBeCloseTo(0.3);
    expect(connectFailureRate(0.3, 'both')).toBeCloseTo(0.51);
  });

  it('the binomial bound holds a correct loss and rejects none, a cut, or half the rate', () => {
    const { low, high } = plausibleFailures(60, 0.51);
    expect([low, high]).toEqual([15, 47]);
    expect(judgeProbe({ sent: 60, dropped: 31, expectedRate: 0.51, target: 's:4647' }).ok).toBe(true);
    expect(judgeProbe({ sent: 60, dropped: 0, expectedRate: 0.51, target: 's:4647' }).ok).toBe(false);
    expect(judgeProbe({ sent: 60, dropped: 60, expectedRate: 0.51, target: 's:4647' }).ok).toBe(false);
    expect(judgeProbe({ sent: 60, dropped: 8, expectedRate: 0.51, target: 's:4647' }).ok).toBe(false);
    expect(judgeProbe({ sent: 0, dropped: 0, expectedRate: 0.51, target: 's:4647' }).ok).toBe(false);
    expect(judgeProbe({ sent: 60, dropped: 31, expectedRate: 0.51, target: 's:4647' }).detail).toBe(
      '31 of 60 connects to s:4647 failed (52%; expected 51%, plausible 15..47)',
    );
  });

  it('a correct loss lands inside the bound in nearly every simulated probe (z = 4)', () => {
    // A fixed linear congruential generator: the same draws every run.
    let x = 12345;
    const rand = () => ((x = (x * 1103515245 + 12345) % 2 ** 31), x / 2 ** 31);
    let outside = 0;
    for (let trial = 0; trial < 2000; trial++) {
      let dropped = 0;
      for (let k = 0; k < 60; k++) if (rand() < 0.51) dropped++;
      if (!judgeProbe({ sent: 60, dropped, expectedRate: 0.51, target: 's' }).ok) outside++;
    }
    expect(outside).toBeLessThanOrEqual(2);
  });

  it("reads the probe's output, and names a probe that could not run", () => {
    expect(parseLossProbe('{"sent": 60, "dropped": 29, "errors": [], "medianMs": 0.2}\n')).toEqual({ sent: 60, dropped: 29, errors: [], medianMs: 0.2 });
    expect(parseLossProbe('{"sent": 60, "dropped": 0, "errors": ["error:[Errno 101] Network is unreachable"], "medianMs": null}')).toEqual({
      broken: 'connects failed otherwise: error:[Errno 101] Network is unreachable',
    });
    expect(parseLossProbe('Traceback (most recent call last):')).toHaveProperty('broken');
  });
});

/** A trace of one degrade on client1 and its restore, with what the steps write. */
function degradeTrace(o: { listed?: boolean; dropped?: number; before?: boolean; afterDropped?: number } = {}): Positioned[] {
  const argv = lossArgv(['10.0.0.10'], 0.3, 'both');
  const listed = LISTING.replace(/10\.9\.0\.1/g, '10.0.0.10');
  const events: TraceEvent[] = [
    { kind: 'fault', t: 1000, fault: 'degrade', host: 'client1', argv, began: 990, detail: 'profile lossy-30: loss 30% (both, the servers)' },
    { kind: 'iptables', t: 1001, host: 'client1', when: 'degraded', rules: o.listed === false ? '-P INPUT ACCEPT' : listed },
    { kind: 'link-probe', t: 1002, host: 'client1', target: '10.0.0.10:4647', after: 'degrade', sent: 60, dropped: o.dropped ?? 30, expectedRate: 0.51 },
    { kind: 'iptables', t: 60000, host: 'client1', when: 'before restore', rules: o.before === false ? '-P INPUT ACCEPT' : listed },
    { kind: 'fault', t: 60001, fault: 'restore', host: 'client1', argv: lossRemoveArgv(['10.0.0.10'], 0.3, 'both'), detail: 'profile lossy-30' },
    { kind: 'iptables', t: 60002, host: 'client1', when: 'restored', rules: '-P INPUT ACCEPT' },
    { kind: 'link-probe', t: 60003, host: 'client1', target: '10.0.0.10:4647', after: 'restore', sent: 60, dropped: o.afterDropped ?? 0, expectedRate: 0 },
  ];
  return events.map((e, i) => ({ ...e, line: i + 1 }));
}

describe('the checker on a degrade', () => {
  const verdictOf = (trace: Positioned[]) => linkFaultsTookEffect(trace, normalise(trace));

  it('passes when the rules are listed, held until the restore, and the loss measured is the profile’s', () => {
    const [out] = verdictOf(degradeTrace());
    expect(out).toMatchObject({ check: 'fault: profile lossy-30 on client1 took effect', kind: 'fault', verdict: 'pass' });
    expect(out!.detail).toContain('30 of 60 connects to 10.0.0.10:4647 failed');
  });

  it('is unknown when a rule is not listed, gone before the restore, the loss implausible, or the restore did not free the link', () => {
    expect(verdictOf(degradeTrace({ listed: false }))[0]).toMatchObject({ verdict: 'unknown', detail: expect.stringContaining('are not in client1') });
    expect(verdictOf(degradeTrace({ before: false }))[0]).toMatchObject({ verdict: 'unknown', detail: expect.stringContaining('did not hold throughout') });
    expect(verdictOf(degradeTrace({ dropped: 2 }))[0]).toMatchObject({ verdict: 'unknown', detail: expect.stringContaining('not the profile') });
    expect(verdictOf(degradeTrace({ afterDropped: 30 }))[0]).toMatchObject({ verdict: 'unknown', detail: expect.stringContaining('after the restore') });
  });

  it('is unknown without a probe', () => {
    const trace = degradeTrace().filter((e) => e.kind !== 'link-probe');
    expect(verdictOf(trace)[0]).toMatchObject({ verdict: 'unknown', detail: expect.stringContaining('its effect was not measured') });
  });
});

describe('a node under a degraded link', () => {
  /** degradeTrace with a job (lost_after 1h unless `lostAfter: false`), client1's allocation, and its node's statuses during the loss. */
  function withNode(statuses: string[], o: { lostAfter?: boolean } = {}): Positioned[] {
    const [degrade, ...rest] = degradeTrace();
    let index = 10;
    const node = (t: number, status: string): TraceEvent => ({
      kind: 'nomad',
      t,
      index: ++index,
      topic: 'Node',
      type: 'NodeStreamEvent',
      key: 'client1',
      payload: { Node: { ID: 'id-client1', Name: 'client1', Status: status } },
    });
    const alloc: TraceEvent = {
      kind: 'nomad',
      t: 500,
      index: ++index,
      topic: 'Allocation',
      type: 'AllocationUpdated',
      key: 'a0',
      payload: {
        Allocation: {
          ID: 'a0',
          Name: 'spread.cache[0]',
          NodeName: 'client1',
          ClientStatus: 'running',
          DesiredStatus: 'run',
          CreateIndex: 5,
          ModifyIndex: index,
        },
      },
    };
    const job: TraceEvent = {
      kind: 'job-read',
      t: 100,
      job: { ID: 'spread', TaskGroups: [{ Name: 'cache', Count: 1, MaxClientDisconnect: o.lostAfter === false ? null : 3600e9 }] },
    };
    const events = [job, node(400, 'ready'), alloc, degrade!, ...statuses.map((st, i) => node(2000 + i * 1000, st)), ...rest] as TraceEvent[];
    return events.map((e, i) => ({ ...e, line: i + 1 }) as Positioned);
  }
  const nomadOutcomes = (trace: Positioned[]) => linkFaultsTookEffect(trace, normalise(trace)).filter((x) => x.kind === 'nomad');

  it('fails a node that went down, not disconnected, while lost_after was set and it held an allocation, naming the line', () => {
    const trace = withNode(['down']);
    const downLine = trace.find((e) => e.kind === 'nomad' && e.topic === 'Node' && (e.payload as { Node: { Status: string } }).Node.Status === 'down')!.line;
    const out = nomadOutcomes(trace);
    expect(out).toContainEqual(expect.objectContaining({ check: 'link: client1 under profile lossy-30: disconnected, not down', verdict: 'fail' }));
    expect(out.find((x) => x.verdict === 'fail')!.detail).toContain(`went down at trace line ${downLine} (from ready) while holding cache[0]#1`);
    expect(out.map((x) => x.check)).not.toContain('link: client1 under profile lossy-30: never disconnected');
  });

  it('reports, without failing, a down without lost_after or from initializing; a node that stayed ready was never disconnected', () => {
    expect(nomadOutcomes(withNode(['down'], { lostAfter: false }))).toEqual([
      expect.objectContaining({ check: 'link: client1 under profile lossy-30: went down', verdict: 'pass', detail: expect.stringContaining('no lost_after') }),
    ]);
    const mid = nomadOutcomes(withNode(['disconnected', 'initializing', 'down']));
    expect(mid.filter((x) => x.verdict === 'fail')).toEqual([]);
    expect(nomadOutcomes(withNode([]))).toEqual([
      expect.objectContaining({ check: 'link: client1 under profile lossy-30: never disconnected', verdict: 'pass' }),
    ]);
  });
});

describe('link profiles', () => {
  it('every profile in profiles/ loads, and its effect is parsed', () => {
    expect(profileNames().length).toBeGreaterThanOrEqual(3);
    for (const name of profileNames()) expect(loadProfile(name).name).toBe(name);
    expect(effectOf(loadProfile('lossy-30'))).toEqual({ direction: 'both', loss: 0.3 });
    expect(effectOf(loadProfile('flap-15-30'))).toEqual({ direction: 'both', flap: { upMs: 30_000, downMs: 15_000, times: 3 } });
    expect(effectOf(loadProfile('slow-200'))).toEqual({ direction: 'output', delayMs: 200, jitterMs: 50 });
  });

  const write = (name: string, text: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'h5-profiles-'));
    writeFileSync(join(dir, `${name}.yaml`), text);
    return join(dir, `${name}.yaml`);
  };
  const head = 'summary: a test profile\npeers: servers\n';

  it('refuses what cannot be applied or would assert nothing, with the line', () => {
    expect(() => loadProfileFile(write('p', `name: p\n${head}direction: both\ndelay: 100ms\n`))).toThrow(/p\.yaml:\d+: \/direction .*direction: output/);
    expect(() => loadProfileFile(write('p', `name: p\n${head}direction: both\n`))).toThrow(/p\.yaml/);
    expect(() => loadProfileFile(write('p', `name: p\n${head}direction: both\nloss: 0%\n`))).toThrow(/\/loss/);
    expect(() => loadProfileFile(write('p', `name: p\n${head}direction: both\nloss: 100%\n`))).toThrow(/\/loss/);
    expect(() => loadProfileFile(write('p', `name: p\n${head}direction: both\nloss: 10%\nflap: { up: 3s, down: 8s, times: 3 }\n`))).toThrow(/p\.yaml/);
    expect(() => loadProfileFile(write('p', `name: p\n${head}direction: output\njitter: 10ms\nloss: 10%\n`))).toThrow(/p\.yaml/);
    expect(() => loadProfileFile(write('q', `name: p\n${head}direction: both\nloss: 10%\n`))).toThrow(/q\.yaml:1: \/name .*q\.yaml/);
    // A delay proof of at least 0.8 × (delay − jitter) must be able to fail.
    expect(() => loadProfileFile(write('p', `name: p\n${head}direction: output\ndelay: 0ms\n`))).toThrow(/p\.yaml:\d+: \/delay is 0/);
    expect(() => loadProfileFile(write('p', `name: p\n${head}direction: output\ndelay: 100ms\njitter: 100ms\n`))).toThrow(
      /p\.yaml:\d+: \/jitter is 100ms, not less than the delay/,
    );
    expect(() => loadProfileFile(write('p', `name: p\n${head}direction: output\ndelay: 100ms\njitter: 150ms\n`))).toThrow(/\/jitter/);
    expect(loadProfileFile(write('p', `name: p\n${head}direction: output\ndelay: 100ms\njitter: 99ms\n`)).jitter).toBe('99ms');
    expect(() => loadProfile('no-such-profile')).toThrow(/no link profile "no-such-profile".*/);
  });
});

describe('degrade steps in a scenario file', () => {
  const scenario = (steps: string) =>
    [
      'name: t',
      'summary: "a test scenario"',
      'lab: { servers: 1, clients: 2 }',
      'job: { file: spread.nomad.hcl, id: spread }',
      'roles: { original: "cache[0]#1", replacement: "cache[0]#2", others: [] }',
      'steps:',
      '  - do: run_job',
      '  - { do: await, for: running, all: [{ alloc: "cache[0]#1", client: running }], within: 60s }',
      steps,
      'expect:',
      '  transitions:',
      '    - { subject: { alloc: "cache[0]#1" }, field: client, sequence: [running], source: "a test" }',
      '',
    ].join('\n');
  const load = (steps: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'h5-scenario-'));
    writeFileSync(join(dir, 't.yaml'), scenario(steps));
    return loadScenarioFile(join(dir, 't.yaml'));
  };

  it('loads a degrade for a while, and one restored by a later step', () => {
    expect(load('  - { do: degrade, clientOf: "cache[0]#1", profile: lossy-30, for: 60s }').steps[2]).toEqual({
      do: 'degrade',
      clientOf: 'cache[0]#1',
      profile: 'lossy-30',
      for: '60s',
    });
    expect(load('  - { do: degrade, host: client1, profile: lossy-30 }\n  - { do: restore, host: client1 }').steps).toHaveLength(4);
  });

  it('refuses an unknown profile, a flap with `for`, and a step without exactly one target, each on its line', () => {
    expect(() => load('  - { do: degrade, clientOf: "cache[0]#1", profile: no-such }')).toThrow(/t\.yaml:9: \/steps\/2\/profile no link profile "no-such"/);
    expect(() => load('  - { do: degrade, clientOf: "cache[0]#1", profile: flap-15-30, for: 10s }')).toThrow(/\/steps\/2\/for profile flap-15-30 is a flap/);
    expect(() => load('  - { do: degrade, profile: lossy-30 }')).toThrow(/\/steps\/2 names no target or several/);
    expect(() => load('  - { do: restore, clientOf: "cache[0]#1", host: client1 }')).toThrow(/\/steps\/2 names no target or several/);
  });
});

describe('a degrade on several hosts', () => {
  const hosts = [
    { name: 'server1', role: 'server' },
    { name: 'client1', role: 'client' },
    { name: 'client2', role: 'client' },
  ] as LabHost[];
  /** Runs the steps against a context that records when each host's degrade starts and ends (each takes 20ms). */
  const drive = async (steps: Scenario['steps']) => {
    const done: string[] = [];
    const slow = (what: string) => async (h: LabHost) => {
      done.push(`${what} ${h.name}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
      done.push(`${what} ${h.name} done`);
    };
    const ctx = {
      hosts,
      recorder: { allocs: new Map(), nodes: new Map(), byRole: () => undefined, describe: () => 'fake' } as unknown as Recorder,
      nomadVersion: '1.6.0',
      signal: new AbortController().signal,
      trace: { add: () => undefined },
      log: () => undefined,
      step: async (_name: string, body: () => Promise<unknown>) => body(),
      host: (name: string) => hosts.find((h) => h.name === name)!,
      checkLinkBackends: async () => undefined,
      degrade: slow('degrade'),
      restore: slow('restore'),
      flap: async (hs: LabHost[]) => void done.push(`flap ${hs.map((h) => h.name).join(',')}`),
      sleepUntil: async (_at: number, what: string) => void done.push(`sleep: ${what}`),
    } as unknown as ScenarioContext;
    await runSteps({ steps, expect: { transitions: [] } } as unknown as Scenario, ctx);
    return done;
  };

  it('degrades every host at once, starts the `for` clock once all are degraded, then restores them all at once', async () => {
    expect(await drive([{ do: 'degrade', hosts: ['client1', 'client2'], profile: 'lossy-30', for: '60s' }] as Scenario['steps'])).toEqual([
      'degrade client1',
      'degrade client2',
      'degrade client1 done',
      'degrade client2 done',
      'sleep: the lossy-30 profile has been on for 60s',
      'restore client1',
      'restore client2',
      'restore client1 done',
      'restore client2 done',
    ]);
  });

  it('flaps every host in one call', async () => {
    expect(await drive([{ do: 'degrade', hosts: ['client1', 'client2'], profile: 'flap-15-30' }] as Scenario['steps'])).toEqual(['flap client1,client2']);
  });

  it('a flap cuts and heals all its hosts together in each cycle', async () => {
    const done: string[] = [];
    const names = (hs: LabHost[]) => hs.map((h) => h.name).join(',');
    const deps = {
      trace: { add: () => undefined },
      partition: async (hs: LabHost[]) => void done.push(`cut ${names(hs)}`),
      heal: async (hs: LabHost[]) => void done.push(`heal ${names(hs)}`),
      sleepUntil: async () => undefined,
    } as unknown as LinkDeps;
    await linkActions(deps).flap(hosts.slice(1), loadProfile('flap-15-30'));
    expect(done).toEqual([
      'cut client1,client2',
      'heal client1,client2',
      'cut client1,client2',
      'heal client1,client2',
      'cut client1,client2',
      'heal client1,client2',
    ]);
  });
});
