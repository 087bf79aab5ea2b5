// Unit: the recorder's gap detection against a stand-in Nomad HTTP API on loopback: a stream that
// resumes past the index it asked for while the job changed is a gap; one while nothing changed is a
// note; final reads newer than anything streamed are a gap.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NomadApi } from '../../harness/nomad/api.ts';
import { Recorder } from '../../harness/trace/recorder.ts';
import { TraceWriter } from '../../harness/trace/writer.ts';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const alloc = (id: string, index: number, status: string) => ({
  ID: id,
  Name: 'job.cache[0]',
  JobID: 'job',
  TaskGroup: 'cache',
  NodeName: 'client1',
  ClientStatus: status,
  DesiredStatus: 'run',
  CreateIndex: 3,
  ModifyIndex: index,
});
const batch = (index: number, a: object) =>
  `${JSON.stringify({ Index: index, Events: [{ Topic: 'Allocation', Type: 'AllocationUpdated', Key: 'a', Index: index, Payload: { Allocation: a } }] })}\n`;

/** A Nomad stand-in: the stream's first connection ends after index 5; the second starts at 9. */
async function nomad(allocNow: object) {
  let streams = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    res.setHeader('content-type', 'application/json');
    if (url.startsWith('/v1/event/stream')) {
      streams++;
      res.writeHead(200);
      if (streams === 1) res.end(batch(5, alloc('a1', 5, 'running')));
      else res.write(batch(9, alloc('a1', 9, 'running')));
    } else if (url.startsWith('/v1/nodes')) {
      res.setHeader('x-nomad-index', '4');
      res.end(JSON.stringify([{ ID: 'n1', Name: 'client1', Status: 'ready', ModifyIndex: 2 }]));
    } else if (url.startsWith('/v1/job/job/allocations')) {
      res.end(JSON.stringify([allocNow]));
    } else if (url.startsWith('/v1/allocation/')) {
      res.end(JSON.stringify(allocNow));
    } else if (url.startsWith('/v1/metrics')) {
      res.end('');
    } else {
      res.writeHead(404);
      res.end('{}');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => server.close());
  return new NomadApi(`127.0.0.1:${(server.address() as AddressInfo).port}`, () => undefined, 'server1');
}

async function record(allocNow: object) {
  const dir = mkdtempSync(join(tmpdir(), 'nomad-lab-recorder-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const trace = new TraceWriter(dir);
  const recorder = new Recorder(trace, await nomad(allocNow), 'job');
  await recorder.start();
  const deadline = Date.now() + 5000;
  while (!trace.events.some((e) => e.kind === 'nomad' && e.index === 9) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 200)); // the resume check's reads
  await recorder.stop();
  return trace.events;
}

describe('recorder: gaps in the event stream', () => {
  it('a resume past the asked index while the job changed is a gap with its window', async () => {
    const events = await record(alloc('a1', 9, 'running'));
    const gap = events.find((e) => e.kind === 'gap');
    expect(gap).toMatchObject({ kind: 'gap', fromIndex: 6, toIndex: 8, detail: expect.stringContaining('allocation a1 (job.cache[0]) at index 9') });
  });

  it('final reads newer than anything streamed are a gap too', async () => {
    const events = await record(alloc('a1', 12, 'complete'));
    const gaps = events.filter((e) => e.kind === 'gap');
    expect(gaps.some((g) => g.kind === 'gap' && g.detail.includes('final reads newer than the stream') && g.toIndex === 12)).toBe(true);
  }, 15_000);

  it('a resume while nothing of the job and no node changed since is a note, not a gap', async () => {
    const events = await record(alloc('a1', 5, 'running'));
    expect(events.filter((e) => e.kind === 'gap')).toEqual([]);
    expect(events.some((e) => e.kind === 'note' && e.message.includes('nothing missed'))).toBe(true);
  });
});

describe('recorder: gauges after a failed scrape', () => {
  it('forgets what it held when the leader cannot be read, and records the next value read, even an equal one', async () => {
    let up = true;
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      if (!up) {
        res.writeHead(500);
        res.end('down');
        return;
      }
      res.end('nomad_nomad_job_summary_running{job="job",task_group="cache",namespace="default"} 2\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => server.close());
    const api = new NomadApi(`127.0.0.1:${(server.address() as AddressInfo).port}`, () => undefined, 'server1');
    const dir = mkdtempSync(join(tmpdir(), 'nomad-lab-recorder-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const trace = new TraceWriter(dir);
    const recorder = new Recorder(trace, api, 'job');
    const labels = { job: 'job', task_group: 'cache' };
    const metrics = () => trace.events.filter((e) => e.kind === 'metric');

    await recorder.scrape();
    await recorder.scrape();
    expect(metrics()).toHaveLength(1); // unchanged: recorded once
    up = false;
    await expect(recorder.scrape()).rejects.toThrow();
    expect(recorder.metric('nomad.nomad.job_summary.running', labels)).toBeUndefined();
    expect(trace.events.some((e) => e.kind === 'note' && e.message.includes('gauges forgotten'))).toBe(true);
    up = true;
    await recorder.scrape();
    expect(recorder.metric('nomad.nomad.job_summary.running', labels)).toBe(2);
    expect(metrics()).toHaveLength(2); // the same value, read again after the failure
  });
});
