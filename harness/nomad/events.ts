// Nomad's event stream (/v1/event/stream, NDJSON): delivers batches in Raft-index order and, when
// the connection drops (a server restart kills it), resumes from the last index seen.
import { setTimeout as sleep } from 'node:timers/promises';
import type { NomadApi } from './api.ts';

export interface NomadEvent {
  Topic: string;
  Type: string;
  Key: string;
  Namespace?: string;
  Index: number;
  Payload: Record<string, unknown>;
}

export interface StreamHandlers {
  onEvents: (index: number, events: NomadEvent[]) => void;
  /** Connection changes, for the trace: "connected", "lost: ...; resuming from index N". */
  onStatus?: (message: string) => void;
}

export class EventStream {
  private readonly controller = new AbortController();
  private lastIndex = 0;
  private running: Promise<void> | undefined;

  constructor(
    private readonly api: NomadApi,
    /** e.g. ["Node", "Allocation:spread", "Evaluation:spread", "Job:spread"] */
    private readonly topics: string[],
    private readonly handlers: StreamHandlers,
  ) {}

  /**
   * Starts streaming events after Raft index `after` (0: whatever the broker still buffers). A
   * stream that should not replay history (a lab used by an earlier run) starts after the index
   * of a read of the current state.
   */
  start(after = 0): void {
    if (this.running) return;
    this.lastIndex = after;
    this.running = this.loop().catch(() => undefined);
  }

  get index(): number {
    return this.lastIndex;
  }

  async stop(): Promise<void> {
    this.controller.abort();
    await this.running?.catch(() => undefined);
  }

  private path(): string {
    const q = new URLSearchParams();
    for (const t of this.topics) q.append('topic', t);
    q.set('namespace', '*');
    if (this.lastIndex > 0) q.set('index', String(this.lastIndex + 1));
    return `/v1/event/stream?${q.toString()}`;
  }

  private async loop(): Promise<void> {
    const signal = this.controller.signal;
    while (!signal.aborted) {
      try {
        const response = await this.api.openStream(this.path(), signal);
        this.handlers.onStatus?.(`event stream connected to ${this.api.host}${this.lastIndex ? ` from index ${this.lastIndex + 1}` : ''}`);
        const decoder = new TextDecoder();
        let buffer = '';
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let nl: number;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (line) this.deliver(line);
          }
        }
        if (!signal.aborted) this.handlers.onStatus?.(`event stream from ${this.api.host} ended; resuming from index ${this.lastIndex + 1}`);
      } catch (error) {
        if (signal.aborted) return;
        this.handlers.onStatus?.(`event stream from ${this.api.host} lost (${error instanceof Error ? error.message : String(error)}); resuming from index ${this.lastIndex + 1}`);
      }
      await sleep(500, undefined, { signal }).catch(() => undefined);
    }
  }

  private deliver(line: string): void {
    const batch = JSON.parse(line) as { Index?: number; Events?: NomadEvent[] };
    if (!batch.Index || !batch.Events) return; // keep-alive "{}"
    if (batch.Index <= this.lastIndex) return; // a resumed stream may repeat the last batch
    this.lastIndex = batch.Index;
    this.handlers.onEvents(batch.Index, batch.Events);
  }
}
