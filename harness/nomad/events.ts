// Nomad's event stream (/v1/event/stream, NDJSON): delivers batches in Raft-index order and, when
// the connection drops (a server restart kills it) or goes silent (a half-open connection: Nomad
// sends a keep-alive `{}` every 30 s, so 45 s of nothing means the peer is gone), resumes from the
// last index seen, and tells the caller where the resumed stream really started.
import { pause } from '../util/poll.ts';
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
  /**
   * The first batch after a reconnect: events were asked for from `askedFrom` and the stream
   * started at `firstIndex`. The indexes between may simply hold nothing of these topics, or may have
   * left the server's event buffer: only a read of the current state can tell which.
   */
  onResume?: (askedFrom: number, firstIndex: number) => void;
}

/**
 * Silence after which a connection counts as dead. Nomad sends its keep-alive `{}` every 30 s from a
 * fixed ticker (nomad/event_endpoint.go NewJsonStream(ctx, 30*time.Second), 1.5.3-2.0): a 30 s timeout
 * races that tick while nothing changes (a held partition) and resumes a healthy stream, leaving a
 * gap. One keep-alive late by 15 s is dead.
 */
export const STREAM_IDLE_MS = 45_000;

export class EventStream {
  private readonly controller = new AbortController();
  private lastIndex = 0;
  private running: Promise<void> | undefined;
  /** Set on a reconnect: the index asked for, until the first batch arrives. */
  private resumedFrom: number | undefined;

  /** The server streamed from now: the first given, then the next after a connection is lost. */
  private current = 0;

  constructor(
    /** Servers to stream from, in order of preference (the leader first): any server serves the stream. */
    private readonly apis: NomadApi | readonly NomadApi[],
    /** e.g. ["Node", "Allocation:spread", "Evaluation:spread", "Job:spread"] */
    private readonly topics: string[],
    private readonly handlers: StreamHandlers,
    private readonly idleMs = STREAM_IDLE_MS,
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

  /** The server the stream is on now (reads about the stream's own state go there). */
  get server(): NomadApi {
    return this.api;
  }

  private get api(): NomadApi {
    const all = Array.isArray(this.apis) ? this.apis : [this.apis as NomadApi];
    return all[this.current % all.length]!;
  }

  /** After a lost connection, the next server (a dead leader must not end the recording). */
  private nextServer(): void {
    if (Array.isArray(this.apis) && this.apis.length > 1) this.current++;
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
    // Streams opened so far. A connection refused before its stream opened (a follower answering 403
    // because it has not yet applied the ACL token the harness just wrote, a server that is down)
    // delivered nothing, so it broke no continuity: the next stream to open is still the first, and
    // its start is trusted as the first one's is. Only a stream after an opened one is a resume.
    let opened = 0;
    while (!signal.aborted) {
      // One controller per connection: the idle timer ends this connection, not the stream.
      const connection = new AbortController();
      const stopAll = () => connection.abort();
      signal.addEventListener('abort', stopAll, { once: true });
      let idle: NodeJS.Timeout | undefined;
      const touch = () => {
        clearTimeout(idle);
        idle = setTimeout(() => connection.abort(new Error(`no data for ${this.idleMs / 1000}s (not even a keep-alive)`)), this.idleMs);
      };
      try {
        touch();
        const response = await this.api.openStream(this.path(), connection.signal);
        if (opened++ > 0) this.resumedFrom = this.lastIndex + 1;
        this.handlers.onStatus?.(`event stream connected to ${this.api.host}${this.lastIndex ? ` from index ${this.lastIndex + 1}` : ''}`);
        const decoder = new TextDecoder();
        let buffer = '';
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          touch();
          buffer += decoder.decode(chunk, { stream: true });
          let nl: number;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (line) this.deliver(line);
          }
        }
        if (!signal.aborted) {
          const from = this.api.host;
          this.nextServer();
          this.handlers.onStatus?.(
            `event stream from ${from} ended; resuming from index ${this.lastIndex + 1}${this.api.host !== from ? ` on ${this.api.host}` : ''}`,
          );
        }
      } catch (error) {
        if (signal.aborted) return;
        const why =
          connection.signal.aborted && connection.signal.reason instanceof Error
            ? connection.signal.reason.message
            : error instanceof Error
              ? error.message
              : String(error);
        const from = this.api.host;
        this.nextServer();
        this.handlers.onStatus?.(
          `event stream from ${from} lost (${why}); resuming from index ${this.lastIndex + 1}${this.api.host !== from ? ` on ${this.api.host}` : ''}`,
        );
      } finally {
        clearTimeout(idle);
        signal.removeEventListener('abort', stopAll);
        connection.abort();
      }
      // A back-off before reconnecting, not a wait for a condition: stop() cuts it short.
      await pause(500, signal);
    }
  }

  private deliver(line: string): void {
    const batch = JSON.parse(line) as { Index?: number; Events?: NomadEvent[] };
    if (!batch.Index || !batch.Events) return; // keep-alive "{}"
    if (batch.Index <= this.lastIndex) return; // a resumed stream may repeat the last batch
    if (this.resumedFrom !== undefined) {
      const askedFrom = this.resumedFrom;
      this.resumedFrom = undefined;
      if (batch.Index > askedFrom) this.handlers.onResume?.(askedFrom, batch.Index);
    }
    this.lastIndex = batch.Index;
    this.handlers.onEvents(batch.Index, batch.Events);
  }
}
