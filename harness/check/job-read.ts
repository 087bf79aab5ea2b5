// What the checks read from the job as Nomad read it back (the trace's job-read event). Pure.
import type { Positioned } from '../trace/types.ts';

/** The job's lost_after (or max_client_disconnect) in seconds, from the read-back in the trace. */
export function lostAfterSeconds(trace: Positioned[]): number | undefined {
  const read = trace.find((e) => e.kind === 'job-read');
  if (!read || read.kind !== 'job-read') return undefined;
  const groups = (read.job['TaskGroups'] ?? []) as Array<{ MaxClientDisconnect?: number | null; Disconnect?: { LostAfter?: number } | null }>;
  const ns = groups.map((g) => g.Disconnect?.LostAfter || g.MaxClientDisconnect || 0).find((v) => v > 0);
  return ns === undefined ? undefined : ns / 1e9;
}
