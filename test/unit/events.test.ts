// Unit: the event stream client against a real HTTP server on loopback: NDJSON batches, keep-alives,
// and a dropped connection resumed from the last Raft index.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { EventStream, type NomadEvent } from '../../harness/nomad/events.ts';
import { NomadApi } from '../../harness/nomad/api.ts';

const servers: Array<ReturnType<typeof createServer>> = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

function event(index: number): NomadEvent {
  return {
    Topic: 'Node',
    Type: 'NodeStreamEvent',
    Key: 'n1',
    Index: index,
    Payload: { Node: { ID: 'n1', Name: 'client1', Status: index % 2 ? 'ready' : 'disconnected' } },
  };
}

describe('EventStream', () => {
  it('delivers batches in order, skips keep-alives, and resumes from the last index after a drop', async () => {
    const requests: string[] = [];
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      requests.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json' });
      if (requests.length === 1) {
        res.write(`${JSON.stringify({ Index: 5, Events: [event(5)] })}\n{}\n`);
        res.end(`${JSON.stringify({ Index: 6, Events: [event(6)] })}\n`); // the server goes away
      } else {
        // A resumed stream may repeat the last batch; it must not be delivered twice.
        res.write(`${JSON.stringify({ Index: 6, Events: [event(6)] })}\n`);
        res.write(`${JSON.stringify({ Index: 7, Events: [event(7)] })}\n`);
      }
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const api = new NomadApi(`127.0.0.1:${port}`, () => undefined, 'server1');
    const seen: number[] = [];
    const notes: string[] = [];
    const stream = new EventStream(api, ['Node', 'Allocation:spread'], { onEvents: (i) => seen.push(i), onStatus: (m) => notes.push(m) });
    stream.start();
    const deadline = Date.now() + 5000;
    while (seen.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await stream.stop();
    expect(seen).toEqual([5, 6, 7]);
    expect(requests[0]).toBe('/v1/event/stream?topic=Node&topic=Allocation%3Aspread&namespace=*');
    expect(requests[1]).toContain('index=7');
    expect(notes.some((n) => n.includes('resuming from index 7'))).toBe(true);
  });

  it("starts after a given Raft index, so a reused lab's history is not replayed", async () => {
    const requests: string[] = [];
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      requests.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`${JSON.stringify({ Index: 42, Events: [event(42)] })}\n`);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const api = new NomadApi(`127.0.0.1:${(server.address() as AddressInfo).port}`, () => undefined, 'server1');
    const seen: number[] = [];
    const stream = new EventStream(api, ['Node'], { onEvents: (i) => seen.push(i) });
    stream.start(41);
    const deadline = Date.now() + 5000;
    while (seen.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await stream.stop();
    expect(requests[0]).toContain('index=42');
    expect(seen).toEqual([42]);
  });

  it('asks the guard before connecting', async () => {
    const api = new NomadApi(
      '198.18.1.11:4646',
      () => {
        throw new Error('refused by guard');
      },
      'server1',
    );
    await expect(api.openStream('/v1/event/stream', new AbortController().signal)).rejects.toThrow('refused by guard');
  });
});

describe('EventStream: silence and resumes', () => {
  it('drops a connection that goes silent (no keep-alive) and resumes, telling where the resumed stream started', async () => {
    const requests: string[] = [];
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      requests.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json' });
      // The first connection sends one batch, then nothing at all: a half-open connection.
      if (requests.length === 1) res.write(`${JSON.stringify({ Index: 5, Events: [event(5)] })}\n`);
      // The resumed one starts past what was asked for (index 6): the broker no longer had 6..8.
      else res.write(`${JSON.stringify({ Index: 9, Events: [event(9)] })}\n`);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const api = new NomadApi(`127.0.0.1:${(server.address() as AddressInfo).port}`, () => undefined, 'server1');
    const seen: number[] = [];
    const notes: string[] = [];
    const resumes: Array<[number, number]> = [];
    const stream = new EventStream(
      api,
      ['Node'],
      { onEvents: (i) => seen.push(i), onStatus: (m) => notes.push(m), onResume: (a, f) => resumes.push([a, f]) },
      300,
    );
    stream.start();
    const deadline = Date.now() + 5000;
    while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await stream.stop();
    expect(seen).toEqual([5, 9]);
    expect(notes.some((n) => n.includes('no data for 0.3s'))).toBe(true);
    expect(requests[1]).toContain('index=6');
    expect(resumes).toEqual([[6, 9]]);
  });
});

describe('EventStream: several servers', () => {
  it('resumes on the next server when the one it streams from goes away', async () => {
    const server = (batches: number[], thenClose: boolean) => {
      const requests: string[] = [];
      const s = createServer((req: IncomingMessage, res: ServerResponse) => {
        requests.push(req.url ?? '');
        res.writeHead(200, { 'content-type': 'application/json' });
        for (const i of batches) res.write(`${JSON.stringify({ Index: i, Events: [event(i)] })}\n`);
        if (thenClose) {
          // The leader dies: this connection ends, and no new one is accepted.
          res.end();
          s.close();
          s.closeAllConnections();
        }
      });
      servers.push(s);
      return { s, requests };
    };
    const leader = server([5, 6], true);
    const follower = server([7], false);
    for (const { s } of [leader, follower]) await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const api = (s: ReturnType<typeof createServer>, name: string) => new NomadApi(`127.0.0.1:${(s.address() as AddressInfo).port}`, () => undefined, name);
    const seen: number[] = [];
    const notes: string[] = [];
    const stream = new EventStream([api(leader.s, 'server1'), api(follower.s, 'server2')], ['Node'], {
      onEvents: (i) => seen.push(i),
      onStatus: (m) => notes.push(m),
    });
    stream.start();
    const deadline = Date.now() + 5000;
    while (seen.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await stream.stop();
    expect(seen).toEqual([5, 6, 7]);
    expect(follower.requests[0]).toContain('index=7');
    expect(notes.some((n) => n.includes('connected to server2 from index 7'))).toBe(true);
  }, 10_000);
});

describe('EventStream: a stream that never opened', () => {
  it('does not count a refused connection as a resume: the first stream that opens starts where the first was asked', async () => {
    // A follower that has not yet applied the harness's ACL token refuses the stream (403); the next
    // server opens it. Nothing was delivered before, so nothing can have been missed: no gap.
    const refusing = createServer((_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end('Permission denied');
    });
    const requests: string[] = [];
    const serving = createServer((req: IncomingMessage, res: ServerResponse) => {
      requests.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json' });
      // Asked for 15, the first event of these topics is at 17 (14..16 were writes of other topics).
      // On the second connection, after a batch was delivered, the same jump is a possible gap.
      if (requests.length === 1) {
        res.write(`${JSON.stringify({ Index: 17, Events: [event(17)] })}\n`);
        res.end();
      } else res.write(`${JSON.stringify({ Index: 20, Events: [event(20)] })}\n`);
    });
    servers.push(refusing, serving);
    for (const s of [refusing, serving]) await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const api = (s: ReturnType<typeof createServer>, name: string) => new NomadApi(`127.0.0.1:${(s.address() as AddressInfo).port}`, () => undefined, name);
    const seen: number[] = [];
    const resumes: Array<[number, number]> = [];
    const stream = new EventStream([api(refusing, 'server2'), api(serving, 'server3')], ['Node'], {
      onEvents: (i) => seen.push(i),
      onResume: (a, f) => resumes.push([a, f]),
    });
    stream.start(14);
    const deadline = Date.now() + 8000;
    while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await stream.stop();
    expect(seen).toEqual([17, 20]);
    expect(requests[0]).toContain('index=15');
    // The refused connection is no resume; the stream after the one that ended is.
    expect(resumes).toEqual([[18, 20]]);
  }, 12_000);
});
