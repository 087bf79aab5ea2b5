// Writes a trace as NDJSON while the run goes (trace.ndjson.partial), renamed to trace.ndjson when
// the run ends, so a crash leaves a partial trace that says so by its name. Also reads traces back.
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Positioned, TraceEvent } from './types.ts';

export class TraceWriter {
  readonly events: Positioned[] = [];
  private readonly partial: string;

  constructor(readonly dir: string) {
    this.partial = join(dir, 'trace.ndjson.partial');
    writeFileSync(this.partial, '');
  }

  add<E extends TraceEvent>(event: E): Positioned<E> {
    const positioned = { ...event, line: this.events.length + 1 } as Positioned<E>;
    this.events.push(positioned);
    appendFileSync(this.partial, `${JSON.stringify(event)}\n`);
    return positioned;
  }

  finish(): string {
    const final = join(this.dir, 'trace.ndjson');
    if (existsSync(this.partial)) renameSync(this.partial, final);
    return final;
  }
}

/** A run directory's trace: the finished one, else what a run that died left (.partial). */
export function traceFileOf(runDir: string): string | undefined {
  return ['trace.ndjson', 'trace.ndjson.partial'].map((f) => join(runDir, f)).find((f) => existsSync(f));
}

export function readTrace(file: string): Positioned[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => ({ ...(JSON.parse(l) as TraceEvent), line: i + 1 }));
}

/** Keeps the fields of Nomad's payloads that checks, reports and people read; drops the bulk. */
export function trimPayload(topic: string, payload: Record<string, unknown>): Record<string, unknown> {
  const pick = (o: unknown, keys: string[]) =>
    o && typeof o === 'object' ? Object.fromEntries(keys.filter((k) => k in (o as object)).map((k) => [k, (o as Record<string, unknown>)[k]])) : o;
  switch (topic) {
    case 'Allocation': {
      const a = payload['Allocation'] as Record<string, unknown> | undefined;
      const taskStates = a?.['TaskStates'] as Record<string, Record<string, unknown>> | null | undefined;
      return {
        Allocation: {
          ...(pick(a, [
            'ID',
            'Name',
            'NodeID',
            'NodeName',
            'TaskGroup',
            'JobID',
            'JobVersion',
            'ClientStatus',
            'DesiredStatus',
            'ClientDescription',
            'DesiredDescription',
            'NextAllocation',
            'PreviousAllocation',
            'FollowupEvalID',
            'AllocStates',
            'DesiredTransition',
            'CreateIndex',
            'ModifyIndex',
            'AllocModifyIndex',
            'ModifyTime',
          ]) as object),
          TaskStates: taskStates
            ? Object.fromEntries(
                Object.entries(taskStates).map(([task, st]) => [task, pick(st, ['State', 'Failed', 'Restarts', 'StartedAt', 'FinishedAt', 'Events'])]),
              )
            : taskStates,
        },
      };
    }
    case 'Node': {
      const n = payload['Node'] as Record<string, unknown> | undefined;
      const events = (n?.['Events'] as unknown[] | undefined)?.slice(-3);
      return {
        Node: {
          ...(pick(n, [
            'ID',
            'Name',
            'Status',
            'StatusUpdatedAt',
            'SchedulingEligibility',
            'LastMissedHeartbeatIndex',
            'LastAllocUpdateIndex',
            'CreateIndex',
            'ModifyIndex',
          ]) as object),
          Events: events,
        },
      };
    }
    case 'Evaluation':
      return {
        Evaluation: pick(payload['Evaluation'], [
          'ID',
          'JobID',
          'TriggeredBy',
          'Status',
          'StatusDescription',
          'WaitUntil',
          'NodeID',
          'Type',
          'PreviousEval',
          'BlockedEval',
          'CreateIndex',
          'ModifyIndex',
        ]),
      };
    case 'Service':
      return {
        Service: pick(payload['Service'], [
          'ID',
          'ServiceName',
          'Namespace',
          'NodeID',
          'Datacenter',
          'JobID',
          'AllocID',
          'Address',
          'Port',
          'CreateIndex',
          'ModifyIndex',
        ]),
      };
    case 'Job':
      return { Job: pick(payload['Job'], ['ID', 'Version', 'Status', 'Stop', 'Type', 'JobModifyIndex']) };
    case 'Deployment':
      return { Deployment: pick(payload['Deployment'], ['ID', 'JobID', 'JobVersion', 'Status', 'StatusDescription', 'CreateIndex', 'ModifyIndex']) };
    default:
      return payload;
  }
}
