// Terminal captures for the report: `nomad <args>` run against a lab on a pseudo-terminal of a fixed size, kept as the screen a person would have seen.
import { captureScreen, type ScreenCapture } from '../exec/pty.ts';
import type { TlsFiles } from '../lab/tls.ts';

/** Wide enough for Nomad's tables, tall enough for `alloc status` with its recent events. */
export const CAPTURE_SIZE = { cols: 120, rows: 40 } as const;
export const CAPTURE_TIMEOUT_MS = 15_000;

export interface NomadCaptureOptions {
  nomadPath: string;
  /** The API to talk to: http://<ip>:4646 (https://<ip>:4646 on a lab with TLS). */
  address: string;
  /** On a lab with TLS: the CA and the client certificate and key, passed as paths in the environment. */
  tls?: TlsFiles;
  /** ACL token, passed in the environment only (never on the command line). */
  token?: string;
  /** Arguments after `nomad`: ['alloc', 'status', '<alloc id>']. */
  args: string[];
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** Variables the harness's own environment may pass on; NOMAD_*, proxies and the rest stay out. */
const PASSED_ON = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ'];

/**
 * The capture's whole environment: the lab's address, token and TLS files, a known terminal, no proxy (lab
 * addresses are never behind one, and Nomad's client honours HTTP_PROXY), and nothing of the
 * harness's own NOMAD_* settings.
 */
export function captureEnv(address: string, token: string | undefined, base: NodeJS.ProcessEnv = process.env, tls?: TlsFiles): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of PASSED_ON) {
    const v = base[k];
    if (v !== undefined) env[k] = v;
  }
  env['TERM'] = 'xterm-256color';
  env['NOMAD_ADDR'] = address;
  if (token !== undefined) env['NOMAD_TOKEN'] = token;
  if (tls !== undefined) Object.assign(env, { NOMAD_CACERT: tls.ca, NOMAD_CLIENT_CERT: tls.cert, NOMAD_CLIENT_KEY: tls.key });
  return env;
}

/** Runs `nomad <args>` on a 120x40 pseudo-terminal and returns its final screen and exit code. */
export async function captureNomad(options: NomadCaptureOptions): Promise<ScreenCapture> {
  const argv = [options.nomadPath, ...options.args];
  return captureScreen(argv, {
    env: captureEnv(options.address, options.token, process.env, options.tls),
    ...CAPTURE_SIZE,
    timeoutMs: options.timeoutMs ?? CAPTURE_TIMEOUT_MS,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
}
