// Unit: faults on servers and partitions from some servers only. The pure parts: a leader's address
// to its lab host, step selectors and the choice of servers to cut, `ss` listings, and whether such
// faults took effect, judged on real runs (test/fixtures/runs/leader-kill-cut-pass, partial-partition-pass)
// and on those runs changed the way a broken fault or a misbehaving Nomad would change them. And the
// leader-following API client, against two stand-in HTTP servers (its logic, not Nomad's).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { recheck } from '../../harness/check/recheck.ts';
import { faultAt, faultsTookEffect } from '../../harness/check/faults.ts';
import { isPartialPartition, onServer } from '../../harness/check/server-faults.ts';
import {
  pickServers,
  rpcConnectionsIn,
  sentSince,
  serverSelector,
  serverStepProblems,
  serversInUse,
  rejoinVerdict,
  type RpcConnection,
} from '../../harness/faults/servers.ts';
import { agreedLeader, LeaderApi, leaderHostOf, mayRetry, type LeaderAnswer, type LeaderChange } from '../../harness/nomad/leader.ts';
import { NomadApi } from '../../harness/nomad/api.ts';
import { awaitCleanupLeader, type LabHost } from '../../harness/lab/driver.ts';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { normalise } from '../../harness/trace/normalise.ts';
import type { Positioned, TraceEvent } from '../../harness/trace/types.ts';
import { readTrace } from '../../harness/trace/writer.ts';
import { check } from '../../harness/check/checker.ts';
import { MUTATIONS } from '../../harness/check/mutations.ts';
import { findScenario } from '../../harness/scenario/catalog.ts';

const servers = [
  { name: 'server1', ip: '198.19.69.11', role: 'server' },
  { name: 'server2', ip: '198.19.69.12', role: 'server' },
  { name: 'server3', ip: '198.19.69.13', role: 'server' },
];
const hosts = [...servers, { name: 'client1', ip: '198.19.69.21', role: 'client' }];

describe('leaderHostOf', () => {
  it('maps /v1/status/leader (the RPC address) to the lab server with that address', () => {
    expect(leaderHostOf('198.19.69.12:4647', servers)).toBe('server2');
    expect(leaderHostOf(' 198.19.69.13:4647\n', servers)).toBe('server3');
    expect(leaderHostOf('[fd00::2]:4647', [{ name: 'server9', ip: 'fd00::2' }])).toBe('server9');
  });
  it('names nobody while there is no leader, or for an address outside the lab', () => {
    expect(leaderHostOf('', servers)).toBeUndefined();
    expect(leaderHostOf('198.19.69.99:4647', servers)).toBeUndefined();
    // A prefix of another address is not that address.
    expect(leaderHostOf('198.19.69.1:4647', servers)).toBeUndefined();
  });
});

describe('server step selectors', () => {
  it('reads leader, killed, paused, server[N] and servers: all', () => {
    expect(serverSelector({ server: 'leader' })).toEqual({ leader: true });
    expect(serverSelector({ server: 'killed' })).toEqual({ killed: true });
    expect(serverSelector({ server: 'server[2]' })).toEqual({ index: 2 });
    expect(serverSelector({ servers: 'all' })).toEqual({ all: true });
  });
  it('refuses anything else with a sentence', () => {
    expect(serverSelector({ server: 'server[0]' })).toMatch(/server\[N\]/);
    expect(serverSelector({ server: 'server2' })).toMatch(/leader, killed, paused/);
    expect(serverSelector({})).toMatch(/exactly one/);
    expect(serverSelector({ server: 'leader', servers: 'all' })).toMatch(/exactly one/);
  });
  it('the loader finds indexes past the lab, and from that leaves no server or needs clientOf', () => {
    const steps = [
      { do: 'kill_agent', server: 'server[4]' },
      { do: 'kill_agent', server: 'leader' },
      { do: 'partition', clientOf: 'cache[0]#1', from: { servers: 3 } },
      { do: 'partition', clients: 2, from: ['server[1]'] },
      { do: 'partition', clientOf: 'cache[0]#1', from: ['server[1]', 'server[2]'] },
    ];
    expect(serverStepProblems(steps, 3)).toEqual([
      [0, 'server[4]: the lab has 3 server(s)'],
      [2, 'from names every server (3): that is a full partition, drop from'],
      [3, 'from (a partition from some servers) needs clientOf'],
    ]);
  });
});

describe('pickServers', () => {
  it('by index, 1-based as the host names', () => {
    expect((pickServers(['server[3]', 'server[1]'], hosts, []) as Array<{ name: string }>).map((s) => s.name)).toEqual(['server3', 'server1']);
  });
  it('by count: the servers the client uses first, then the lab order', () => {
    expect((pickServers({ servers: 2 }, hosts, ['server3']) as Array<{ name: string }>).map((s) => s.name)).toEqual(['server3', 'server1']);
    expect((pickServers({ servers: 1 }, hosts, []) as Array<{ name: string }>).map((s) => s.name)).toEqual(['server1']);
    // In the order of use, not the lab's: the server it talks to is cut, whatever its index.
    expect((pickServers({ servers: 2 }, hosts, ['server3', 'server1', 'server2']) as Array<{ name: string }>).map((s) => s.name)).toEqual([
      'server3',
      'server1',
    ]);
  });
  it('refuses a full partition, a server that does not exist, a name twice', () => {
    expect(pickServers({ servers: 3 }, hosts, [])).toMatch(/full partition/);
    expect(pickServers(['server[4]'], hosts, [])).toMatch(/no server\[4\]/);
    expect(pickServers(['server[1]', 'server[1]'], hosts, [])).toMatch(/twice/);
    expect(pickServers(['server1'], hosts, [])).toMatch(/not "server\[N\]"/);
  });
});

describe('ss listings of RPC connections', () => {
  // As `ss -H -t -n -i state established dport = :4647` prints them in a client's namespace.
  const listing = [
    '0      0      198.19.69.21:40010 198.19.69.12:4647',
    '\t cubic wscale:7,7 rto:204 rtt:0.05/0.02 bytes_sent:236 bytes_acked:237 bytes_received:91 lastsnd:20000',
    '0      0      198.19.69.21:40012 198.19.69.11:4647',
    '\t cubic wscale:7,7 rto:204 rtt:0.05/0.02 bytes_sent:14724 bytes_acked:14725 bytes_received:40000 lastsnd:300',
    '0      0      198.19.69.21:40014 198.19.69.13:4647',
    '\t cubic wscale:7,7 rto:204 bytes_sent:236 lastsnd:25000',
    '0      0      198.19.69.21:50000 198.19.69.99:4647',
  ].join('\n');
  const before = rpcConnectionsIn(listing, servers);

  it('reads each connection to a lab server with its bytes sent; other peers are not servers', () => {
    expect(before).toEqual([
      { server: 'server2', local: '198.19.69.21:40010', bytesSent: 236 },
      { server: 'server1', local: '198.19.69.21:40012', bytesSent: 14724 },
      { server: 'server3', local: '198.19.69.21:40014', bytesSent: 236 },
    ]);
  });
  it('the server in use is the one the client sent the most to', () => {
    expect(serversInUse(before)[0]).toBe('server1');
  });
  it('failover: RPC traffic to a kept server since the cut; a keep-alive frame or a cut server does not count', () => {
    const now: RpcConnection[] = [
      { server: 'server2', local: '198.19.69.21:40010', bytesSent: 5000 },
      { server: 'server3', local: '198.19.69.21:40014', bytesSent: 248 },
    ];
    expect(sentSince(before, now, ['server3'])).toEqual(new Map([['server3', 12]]));
    // A new connection (a new local port) counts from zero.
    const fresh = [...now, { server: 'server3', local: '198.19.69.21:40100', bytesSent: 900 }];
    expect(sentSince(before, fresh, ['server3'])).toEqual(new Map([['server3', 912]]));
  });
});

const fixture = (name: string) => join(import.meta.dirname, '..', 'fixtures', 'runs', name);
type Fault = Positioned<Extract<TraceEvent, { kind: 'fault' }>>;
const tookEffect = (trace: Positioned[]) => faultsTookEffect(trace, normalise(trace));

describe('a partition from some servers (partial-partition-pass, a real run)', () => {
  const trace = readTrace(join(fixture('partial-partition-pass'), 'trace.ndjson'));
  const n = normalise(trace);
  const cut = n.faults.find((f) => f.fault === 'partition')!;
  const cutIps = new Set(cut.argv.map((a) => a[a.indexOf(a.includes('-s') ? '-s' : '-d') + 1]));
  const kept = servers.map((s) => s.ip).find((ip) => !cutIps.has(ip))!;
  const partial = (t: Positioned[]) => tookEffect(t).find((o) => o.check.startsWith(`fault: partition of ${cut.host} from`))!;
  const probe = (e: Positioned, ip: string) => e.kind === 'reach' && e.after === 'partition' && e.target.startsWith(`${ip}:`);

  it('is told from a full one by the servers its rules name', () => {
    expect(isPartialPartition(n, cut)).toBe(true);
    expect(isPartialPartition(n, { ...cut, argv: servers.map((s) => ['iptables', '-w', '-I', 'INPUT', '-s', s.ip, '-j', 'DROP']) })).toBe(false);
  });
  it('took effect: the cut servers unreachable, the kept one reachable; the run re-checks to pass', () => {
    expect(partial(trace)).toMatchObject({ verdict: 'pass', kind: 'fault' });
    expect(partial(trace).detail).toMatch(/still reachable: server\d/);
    expect(recheck(fixture('partial-partition-pass')).verdict).toBe('pass');
  });
  it('a kept server that did not answer either: no partial partition, unknown', () => {
    const t = trace.map((e) => (probe(e, kept) ? { ...e, reached: false, detail: 'no answer within 2s' } : e));
    expect(partial(t)).toMatchObject({ verdict: 'unknown', kind: 'fault' });
    expect(partial(t).detail).toMatch(/no server left/);
  });
  it('a cut server that answered: not cut off, unknown', () => {
    const ip = [...cutIps][0]!;
    const t = trace.map((e) => (probe(e, ip) ? { ...e, reached: true, detail: 'connected in 0.0s' } : e));
    expect(partial(t)).toMatchObject({ verdict: 'unknown' });
    expect(partial(t).detail).toMatch(/not cut off/);
  });
  it('no probe to the kept server: unknown', () => {
    const t = trace.filter((e) => !probe(e, kept));
    expect(partial(t).detail).toMatch(/no reach probe/);
  });
});

describe('a leader killed while a client is cut off (leader-kill-cut-pass, a real run)', () => {
  const dir = fixture('leader-kill-cut-pass');
  const trace = readTrace(join(dir, 'trace.ndjson'));
  const n = normalise(trace);
  const kill = n.faults.find((f) => f.fault === 'kill-agent')!;
  const scenario = findScenario('leader-kill-cut');
  const verdictOf = (t: Positioned[]) => check(t, scenario.expect).verdict;
  const outcome = (t: Positioned[], prefix: string) => tookEffect(t).find((o) => o.check.startsWith(prefix));

  it('the kill and the restart are faults on a server: they neither cut a client off nor restore one', () => {
    expect(onServer(n, kill)).toBe(true);
    expect(faultAt(n, 'partition')?.fault).toBe('partition');
    expect(faultAt(n, 'partition#2')).toBeUndefined();
    expect(faultAt(n, 'heal')?.fault).toBe('heal');
    expect(faultAt(n, 'heal#2')).toBeUndefined();
  });
  it('re-checks to pass, the killed server the leader and a new one elected', () => {
    expect(recheck(dir).verdict).toBe('pass');
    expect(outcome(trace, `fault: kill-agent on server ${kill.host}`)).toMatchObject({ verdict: 'pass' });
    expect(outcome(trace, `fault: kill-agent on server ${kill.host}`)!.detail).toMatch(/the leader/);
    expect(outcome(trace, 'server: a new leader')).toMatchObject({ verdict: 'pass', kind: 'nomad' });
    expect(outcome(trace, 'server: a new leader')!.detail).toMatch(/gauges read from server\d/);
  });
  it('no other leader after the kill: a fail', () => {
    const t = trace.filter((e) => !(e.kind === 'leader' && e.line > kill.line));
    expect(outcome(t, 'server: a new leader')).toMatchObject({ verdict: 'fail' });
  });
  it('a new leader that loses the disconnect window (the original lost after the kill): a fail, by the never-lost invariant', () => {
    const mutant = MUTATIONS.find((m) => m.name === 'lost-after-leader-change')!.apply(trace, scenario.roles, scenario.expect);
    expect(typeof mutant).not.toBe('string');
    const failed = check(mutant as Positioned[], scenario.expect)
      .checks.filter((c) => c.verdict === 'fail')
      .map((c) => c.check);
    expect(failed).toContain('invariant: alloc cache[0]#1 never lost');
  });
  it('a kill that left the agent running: unknown', () => {
    const t = trace.map((e) => (e.line === kill.line ? ({ ...(e as Fault), detail: 'agent still running after the kill' } as Positioned) : e));
    expect(outcome(t, `fault: kill-agent on server ${kill.host}`)).toMatchObject({ verdict: 'unknown', kind: 'fault' });
    expect(verdictOf(t)).toBe('unknown');
  });
  it('a restarted server that answers but does not rejoin: a fail; one that never answers: unknown; no proof: unknown', () => {
    const rejoin = (change: object) => trace.map((e) => (e.kind === 'rejoin' ? ({ ...e, ...change } as Positioned) : e));
    const restart = n.faults.find((f) => f.fault === 'restart-agent')!;
    expect(outcome(rejoin({ ok: false, answered: true }), `server: ${restart.host} rejoined`)?.verdict).toBe('fail');
    expect(verdictOf(rejoin({ ok: false, answered: true }))).toBe('fail');
    expect(outcome(rejoin({ ok: false, answered: false }), 'fault: restart-agent')).toMatchObject({ verdict: 'unknown' });
    expect(
      outcome(
        trace.filter((e) => e.kind !== 'rejoin'),
        'fault: restart-agent',
      ),
    ).toMatchObject({ verdict: 'unknown' });
  });
});

describe('every server killed, then started again (servers-down-pass, a real run)', () => {
  const dir = fixture('servers-down-pass');
  const trace = readTrace(join(dir, 'trace.ndjson'));
  const n = normalise(trace);
  const scenario = findScenario('servers-down');
  const kills = n.faults.filter((f) => f.fault === 'kill-agent');
  const restarts = n.faults.filter((f) => f.fault === 'restart-agent');
  const mutant = (name: string) => {
    const m = MUTATIONS.find((x) => x.name === name)!.apply(trace, scenario.roles, scenario.expect);
    expect(typeof m, name).not.toBe('string');
    return check(m as Positioned[], scenario.expect);
  };

  it('one step each: every server killed, then every one restarted, under one group id per step', () => {
    expect(kills.map((f) => f.host).sort()).toEqual(['server1', 'server2', 'server3']);
    expect(new Set(kills.map((f) => f.group)).size).toBe(1);
    expect(kills[0]!.group).toBeDefined();
    expect(new Set(restarts.map((f) => f.group)).size).toBe(1);
    expect(restarts[0]!.group).not.toBe(kills[0]!.group);
  });
  it('server-kill and server-restart name the first server of each step; partition and heal name nothing', () => {
    expect(faultAt(n, 'server-kill')).toBe(kills[0]);
    expect(faultAt(n, 'server-kill#2')).toBeUndefined();
    expect(faultAt(n, 'server-restart')).toBe(restarts[0]);
    expect(faultAt(n, 'partition')).toBeUndefined();
    expect(faultAt(n, 'heal')).toBeUndefined();
  });
  it('re-checks to pass, and no new leader is owed: the step left no quorum', () => {
    expect(recheck(dir).verdict).toBe('pass');
    expect(tookEffect(trace).filter((o) => o.check.startsWith('server: a new leader'))).toEqual([]);
  });
  // The leader as the first server the step killed (in this run it was the second): had the kills been
  // separate steps, two servers would be left after it, a quorum that owes a new leader.
  const leaderFirst = (t: Positioned[]) =>
    t.map((e) => (e.kind === 'leader' && e.line < kills[0]!.line ? ({ ...e, leader: kills[0]!.host } as Positioned) : e));
  it('the leader killed first with the others in one step: no new leader owed', () => {
    const t = leaderFirst(trace);
    expect(tookEffect(t).find((o) => o.check === `fault: kill-agent on server ${kills[0]!.host} took effect`)!.detail).toMatch(/the leader/);
    expect(tookEffect(t).filter((o) => o.check.startsWith('server: a new leader'))).toEqual([]);
  });
  it('the same kills as separate steps (no group id): a new leader is owed after the first, none came: a fail', () => {
    const t = leaderFirst(trace).map((e) => (e.kind === 'fault' && e.fault === 'kill-agent' ? ({ ...e, group: undefined } as Positioned) : e));
    expect(tookEffect(t).find((o) => o.check.startsWith('server: a new leader'))).toMatchObject({ verdict: 'fail' });
  });
  it("a leader that judges nodes by the missed heartbeats after the restart: a fail, by the node's and the allocation's invariants", () => {
    const failed = mutant('disconnected-after-servers-restart')
      .checks.filter((c) => c.verdict === 'fail')
      .map((c) => c.check);
    expect(failed).toEqual(expect.arrayContaining(['invariant: alloc cache[0]#1 never unknown', 'invariant: node of cache[0]#1 never disconnected']));
  });
  it("the original's task restarted after the servers came back: a fail, by no-restart", () => {
    const failed = mutant('original-restarted')
      .checks.filter((c) => c.verdict === 'fail')
      .map((c) => c.check);
    expect(failed).toContain('no restart: cache[0]#1 re-attached after the server-kill');
  });
  it('a stream that resumed past the index it asked for after the restart, a node changed meanwhile: unknown, never a pass', () => {
    const result = mutant('stream-gap-servers-down');
    expect(result.verdict).toBe('unknown');
    expect(result.checks.find((c) => c.check === 'recording: no gap in the event stream')).toMatchObject({ verdict: 'unknown' });
  });
});

describe('LeaderApi (two stand-in servers on loopback addresses)', () => {
  // Each answers /v1/status/leader with what `leader` holds, and its own name as the metrics text.
  const serve = async (ip: string, name: string, leader: { is: string }) => {
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/v1/status/leader') res.end(JSON.stringify(leader.is));
      else if (req.url?.startsWith('/v1/metrics')) res.end(name);
      else res.writeHead(404).end('{}');
    });
    await new Promise<void>((r) => server.listen(0, ip, r));
    const api = new NomadApi(`${ip}:${(server.address() as AddressInfo).port}`, () => undefined, name);
    return { server, followed: { name, ip, api } };
  };

  it('follows a new leader when the old one dies, and when another server says it leads', async () => {
    const leader = { is: '127.0.0.2:4647' };
    const a = await serve('127.0.0.2', 'server1', leader);
    const b = await serve('127.0.0.3', 'server2', leader);
    let clock = 0;
    const changes: LeaderChange[] = [];
    const api = new LeaderApi(
      [a.followed, b.followed],
      a.followed,
      (c) => changes.push(c),
      () => clock,
    );
    try {
      expect(await api.metricsPrometheus()).toBe('server1');
      // The leader dies; the other server now names itself.
      await new Promise<void>((r) => a.server.close(() => r()));
      a.server.closeAllConnections();
      leader.is = '127.0.0.3:4647';
      expect(await api.metricsPrometheus()).toBe('server2');
      expect(api.host).toBe('server2');
      expect(changes).toMatchObject([{ leader: 'server2', previous: 'server1', askedOf: 'server2', address: '127.0.0.3:4647' }]);
      // Back on server1 by election: noticed at the next check, at most a second later.
      const c = await serve('127.0.0.2', 'server1', leader);
      const again = new LeaderApi(
        [c.followed, b.followed],
        b.followed,
        (x) => changes.push(x),
        () => clock,
      );
      leader.is = '127.0.0.2:4647';
      expect(await again.metricsPrometheus()).toBe('server2');
      clock += 1000;
      expect(await again.metricsPrometheus()).toBe('server1');
      expect(changes.at(-1)).toMatchObject({ leader: 'server1', previous: 'server2', why: 'periodic check of who leads' });
      c.server.close();
    } finally {
      b.server.close();
    }
  });
});

describe('a restarted server proven back (rejoinVerdict): every live server names one leader', () => {
  const follows = (server: string, leader: string | undefined): LeaderAnswer => ({
    server,
    leader,
    detail: leader ? `follows ${leader}` : 'answered 500: No cluster leader',
  });
  const view = (leader: string, peers: string[], status = 'alive') => ({
    leader,
    peers,
    members: [{ Addr: '198.19.69.11', Status: status }],
  });
  const all = ['198.19.69.11:4647', '198.19.69.12:4647', '198.19.69.13:4647'];

  it('passes when all live servers follow one leader whose peers list the restarted one, alive', () => {
    const answers = [follows('server1', 'server2'), follows('server2', 'server2'), follows('server3', 'server2')];
    expect(agreedLeader(answers)).toEqual({ leader: 'server2' });
    expect(rejoinVerdict(servers[0]!, answers, view('server2', all))).toMatchObject({ ok: true });
  });

  it('a restarted server that bootstrapped afresh and leads itself (split brain) is not back', () => {
    const answers = [follows('server1', 'server1'), follows('server2', 'server2'), follows('server3', 'server2')];
    expect(agreedLeader(answers)).toMatchObject({ why: expect.stringMatching(/different leaders.*server1 follows server1/) });
    // Its own view would have passed: it names itself, and lists itself among its peers.
    const verdict = rejoinVerdict(servers[0]!, answers, view('server1', ['198.19.69.11:4647']));
    expect(verdict.ok).toBe(false);
    expect(verdict.detail).toMatch(/server1 names server1 as leader, but the servers name different leaders/);
  });

  it('one live server without a leader, or the leader not listing it, or gossip not alive: not back', () => {
    expect(rejoinVerdict(servers[0]!, [follows('server1', 'server2'), follows('server2', undefined)], view('server2', all)).ok).toBe(false);
    expect(rejoinVerdict(servers[0]!, [follows('server1', undefined), follows('server2', 'server2')], view('server2', all)).detail).toMatch(
      /^server1: answered 500/,
    );
    const agreed = [follows('server1', 'server2'), follows('server2', 'server2')];
    expect(rejoinVerdict(servers[0]!, agreed, view('server2', all.slice(1))).detail).toMatch(/does NOT list 198\.19\.69\.11/);
    expect(rejoinVerdict(servers[0]!, agreed, view('server2', all, 'failed')).ok).toBe(false);
    // A view of another server than the agreed leader proves nothing.
    expect(rejoinVerdict(servers[0]!, agreed, view('server3', all)).ok).toBe(false);
    expect(rejoinVerdict(servers[0]!, agreed, undefined).ok).toBe(false);
    expect(agreedLeader([])).toMatchObject({ why: 'no server was asked' });
  });
});

describe('LeaderApi retries only what is safe to send twice', () => {
  it('mayRetry: reads always; writes only when the connection was never made', () => {
    const refused = new Error('POST http://x/v1/jobs failed: connect ECONNREFUSED', {
      cause: Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) }),
    });
    const reset = new Error('POST http://x/v1/jobs failed: other side closed', {
      cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }),
    });
    const answered = new Error('POST http://x/v1/jobs answered 500: rpc error: leadership lost while committing log');
    expect(mayRetry('GET', reset)).toBe(true);
    expect(mayRetry('GET', answered)).toBe(true);
    expect(mayRetry('POST', refused)).toBe(true);
    expect(mayRetry('POST', reset)).toBe(false);
    expect(mayRetry('POST', answered)).toBe(false);
    // DELETE and PUT are idempotent (RFC 9110): a second copy changes nothing more.
    expect(mayRetry('DELETE', reset)).toBe(true);
    expect(mayRetry('PUT', new Error('timeout'))).toBe(true);
  });

  // Two stand-in servers. server1 "commits" a request and dies before it answers (the socket is cut);
  // by then server2 leads. Each records the requests it received.
  const serve = async (ip: string, name: string, leader: { is: string }, onDying?: () => void) => {
    const received: string[] = [];
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/v1/status/leader') return void res.end(JSON.stringify(leader.is));
      received.push(`${req.method} ${req.url}`);
      if (onDying) {
        onDying();
        req.socket.destroy();
        return;
      }
      res.end(JSON.stringify({ EvalID: name }));
    });
    await new Promise<void>((r) => server.listen(0, ip, r));
    const api = new NomadApi(`${ip}:${(server.address() as AddressInfo).port}`, () => undefined, name);
    return { server, received, followed: { name, ip, api } };
  };

  it('a POST cut off at a dying leader is not replayed on the new one; a DELETE and a read are; a POST refused outright is', async () => {
    const leader = { is: '127.0.0.4:4647' };
    const a = await serve('127.0.0.4', 'server1', leader, () => (leader.is = '127.0.0.5:4647'));
    const b = await serve('127.0.0.5', 'server2', leader);
    const api = new LeaderApi(
      [a.followed, b.followed],
      a.followed,
      () => undefined,
      () => 0,
    );
    try {
      await expect(api.request('POST', '/v1/jobs', { Job: {} })).rejects.toThrow(/POST .*\/v1\/jobs failed/);
      expect(a.received).toEqual(['POST /v1/jobs']);
      expect(b.received).toEqual([]);
      // A DELETE cut off the same way is idempotent: asked again of the new leader.
      leader.is = '127.0.0.4:4647';
      const deleting = new LeaderApi(
        [a.followed, b.followed],
        a.followed,
        () => undefined,
        () => 0,
      );
      expect(await deleting.request('DELETE', '/v1/job/web?purge=true', undefined)).toEqual({ EvalID: 'server2' });
      expect(b.received).toEqual(['DELETE /v1/job/web?purge=true']);
      b.received.length = 0;
      // A read cut off the same way is asked again of the new leader.
      leader.is = '127.0.0.4:4647';
      const again = new LeaderApi(
        [a.followed, b.followed],
        a.followed,
        () => undefined,
        () => 0,
      );
      expect(await again.request('GET', '/v1/jobs', undefined)).toEqual({ EvalID: 'server2' });
      expect(b.received).toEqual(['GET /v1/jobs']);
      // A write to a server that is gone (connection refused): never sent, so sent to the new leader.
      // A port that had a listener and no connection: refused for sure (no pooled socket to reuse).
      const c = await serve('127.0.0.6', 'server3', leader);
      await new Promise<void>((r) => c.server.close(() => r()));
      leader.is = '127.0.0.5:4647';
      const third = new LeaderApi(
        [c.followed, b.followed],
        c.followed,
        () => undefined,
        () => 0,
      );
      expect(await third.request('POST', '/v1/jobs', { Job: {} })).toEqual({ EvalID: 'server2' });
      expect(b.received).toEqual(['GET /v1/jobs', 'POST /v1/jobs']);
      expect(c.received).toEqual([]);
      expect(a.received).toHaveLength(3);
    } finally {
      a.server.close();
      b.server.close();
    }
  });
});

describe('awaitCleanupLeader: the wait both drivers (netns, SSH) run after their cleanup restarted servers', () => {
  const host = (name: string, index: number): LabHost => ({ name, role: 'server', index, datacenter: 'dc1', ip: `198.19.1.${10 + index}` });
  const servers = [host('server1', 1), host('server2', 2), host('server3', 3)];
  /** Each server's answers in turn (the last repeats); an Error is a request that failed. */
  const api = (answers: Record<string, Array<string | Error>>) => {
    const asked = new Map<string, number>();
    return (h: LabHost) => ({
      leader: async () => {
        const k = asked.get(h.name) ?? 0;
        asked.set(h.name, k + 1);
        const list = answers[h.name]!;
        const a = list[Math.min(k, list.length - 1)]!;
        if (a instanceof Error) throw a;
        return a;
      },
    });
  };

  it('logs the leader once every restarted server names the same one, after an election', async () => {
    const lines: string[] = [];
    const agreed = await awaitCleanupLeader(
      servers,
      [servers[0]!, servers[2]!],
      api({ server1: [new Error('connection refused'), '', '198.19.1.12:4647'], server3: ['198.19.1.12:4647'] }),
      (l) => lines.push(l),
      5_000,
    );
    expect(agreed).toBe(true);
    expect(lines).toEqual([expect.stringMatching(/^cleanup: restarted server1, server3; leader server2 after [\d.]+s$/)]);
  });

  it('says, and does not throw, when they never agree (a restarted server leading a cluster of its own)', async () => {
    const lines: string[] = [];
    const agreed = await awaitCleanupLeader(
      servers,
      [servers[0]!, servers[2]!],
      api({ server1: ['198.19.1.11:4647'], server3: ['198.19.1.12:4647'] }),
      (l) => lines.push(l),
      600,
    );
    expect(agreed).toBe(false);
    expect(lines).toEqual([
      expect.stringMatching(
        /^cleanup: restarted server1, server3, but no leader within [\d.]+s \(the servers name different leaders .*\); the lab may still be electing one$/,
      ),
    ]);
  });
});
