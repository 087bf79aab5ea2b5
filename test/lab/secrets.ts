// Shared by the lab tests of secrets (ACL tokens, TLS keys on netns and SSH labs): where a secret must
// never appear (files, command lines), a TLS lab's key material, and HTTPS with Node's own client (not
// the harness's), to see what an agent accepts.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { tlsDir } from '../../harness/lab/tls.ts';
import { startLabCli } from './support.ts';

/** Every file under a directory (none when it does not exist). */
export function filesUnder(directory: string): string[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

/** Every process's command line, right now. */
export function commandLines(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      out.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** A TLS lab's key files here (the CA's, every agent's, the CLI's) and the base64 lines of each. */
export function keyMaterial(lab: string): { files: string[]; lines: string[] } {
  const files = filesUnder(tlsDir(lab)).filter((f) => f.endsWith('key.pem'));
  const lines = files.flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('-----')),
  );
  return { files, lines };
}

export function httpsGet(url: string, tls: { ca?: Buffer; cert?: Buffer; key?: Buffer }): Promise<{ status?: number; body?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = request(url, { ...tls, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end();
  });
}

/** A TLS connection that sends one request: the handshake's error code when the server refuses us. */
export function handshakeWithoutClientCert(ip: string, ca: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: ip, port: 4646, ca }, () => s.write('GET /v1/status/leader HTTP/1.1\r\nHost: lab\r\n\r\n'));
    let data = '';
    s.on('data', (d: Buffer) => (data += d.toString()));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    s.on('close', () => resolve(`closed after ${JSON.stringify(data.slice(0, 40))}`));
  });
}

/**
 * Runs `nomad-lab scenario <args>` to its end while sampling every process's command line every
 * 100 ms (agents, iptables, Ansible, nsenter...): what a secret must never be part of.
 */
export async function scenarioSampled(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; samples: Set<string> }> {
  const running = startLabCli(args, 'scenario');
  let stdout = '';
  running.child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  const samples = new Set<string>();
  const sampler = setInterval(() => commandLines().forEach((c) => samples.add(c)), 100);
  const { code } = await running.exited;
  clearInterval(sampler);
  return { code, stdout, stderr: running.stderr(), samples };
}
