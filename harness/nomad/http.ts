// HTTP to Nomad agents: the one place `undici` is imported. Node 20's global fetch cannot present a
// client certificate, which an agent with verify_https_client asks of every caller; undici's own
// fetch with an Agent whose connector carries the lab's CA, certificate and key can (the fetch and
// the dispatcher come from the same undici, so they fit). Plain HTTP takes the same fetch, so
// answers read the same on every lab.
import { readFileSync, statSync } from 'node:fs';
import { Agent, fetch, type Headers, type Response } from 'undici';
import { HarnessError } from '../util/errors.ts';

export type { Headers, Response };

/** What a TLS caller presents: the CA that signed the agents' certificates, its own certificate and key (paths). */
export interface TlsClientFiles {
  ca: string;
  cert: string;
  key: string;
}

export interface HttpRequest {
  method: string;
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
}

/**
 * One dispatcher per set of files, made again when the files change (a lab of the same name made
 * again writes new ones): a stat per request tells, the files are read only when they changed.
 */
const agents = new Map<string, { stamp: string; agent: Agent }>();

/** Which version of the files these are: inode, size and modification time of each. */
function stampOf(tls: TlsClientFiles): string {
  return [tls.ca, tls.cert, tls.key]
    .map((f) => {
      const st = statSync(f);
      return `${st.ino}:${st.size}:${st.mtimeMs}`;
    })
    .join('|');
}

function agentFor(tls: TlsClientFiles): Agent {
  let stamp: string, ca: Buffer, cert: Buffer, key: Buffer;
  const id = `${tls.ca}\0${tls.cert}\0${tls.key}`;
  try {
    stamp = stampOf(tls);
    const known = agents.get(id);
    if (known?.stamp === stamp) return known.agent;
    if (known) void known.agent.close().catch(() => undefined);
    [ca, cert, key] = [readFileSync(tls.ca), readFileSync(tls.cert), readFileSync(tls.key)];
  } catch (cause) {
    // The message names the file only (ENOENT, EACCES), never what is in it.
    throw new HarnessError(`cannot read the lab's TLS files: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
  // The agent's certificate must chain to the lab's CA and name the address dialled (each carries its lab IP).
  const agent = new Agent({ connect: { ca, cert, key, rejectUnauthorized: true } });
  agents.set(id, { stamp, agent });
  return agent;
}

/** A request to `url` (http:// or https://; https with `tls` presents the client certificate). */
export async function httpFetch(url: string, request: HttpRequest, tls?: TlsClientFiles): Promise<Response> {
  return fetch(url, {
    method: request.method,
    headers: request.headers,
    signal: request.signal,
    ...(request.body === undefined ? {} : { body: request.body }),
    ...(tls === undefined ? {} : { dispatcher: agentFor(tls) }),
  });
}
