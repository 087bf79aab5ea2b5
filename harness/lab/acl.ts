// Nomad ACLs of a lab: bootstrap once the servers have a leader, keep the management token and a
// scoped token for the harness in the lab's state directory (mode 0600, removed with the lab), and
// hand them to API clients as a header. No token ever goes on a command line, into Ansible, a log
// or a report.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { labDir } from '../config/paths.ts';
import type { NomadApi } from '../nomad/api.ts';
import { writeFileAtomic } from '../util/files.ts';
import { poll } from '../util/poll.ts';
import type { LabPlan } from './topology.ts';

export type TokenKind = 'management' | 'harness';

/** What the harness does with a lab (run and stop jobs, read allocations, nodes, events, agent
 * config, metrics), and nothing more: no ACL, operator or quota rights. Read on every namespace,
 * because the event stream is subscribed with namespace=* (newer Nomads check that). */
export const HARNESS_POLICY = `namespace "*" {
  policy = "read"
}

namespace "default" {
  policy       = "read"
  capabilities = ["submit-job", "parse-job", "alloc-lifecycle", "read-logs", "read-fs"]
}

node {
  policy = "read"
}

agent {
  policy = "read"
}
`;
export const HARNESS_POLICY_NAME = 'nomad-lab-harness';

export const aclDir = (labName: string) => join(labDir(labName), 'acl');
export const tokenFile = (labName: string, kind: TokenKind) => join(aclDir(labName), `${kind}.token`);

/** The lab's token of that kind, or undefined when the lab has no ACLs (or none yet). */
export function readToken(plan: LabPlan, kind: TokenKind = 'harness'): string | undefined {
  if (!plan.acl) return undefined;
  const file = tokenFile(plan.name, kind);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

/**
 * Bootstraps ACLs through a server: the management token, the harness policy, a token with only
 * that policy. `api` carries no token yet.
 */
export async function bootstrapAcl(plan: LabPlan, api: NomadApi, options: { signal?: AbortSignal; log: (m: string) => void }): Promise<void> {
  mkdirSync(aclDir(plan.name), { recursive: true, mode: 0o700 });
  // Bootstrap is refused until a leader exists and has applied its first entries: retry briefly.
  const { value: management } = await poll(
    () => api.aclBootstrap(),
    (r) => typeof r?.SecretID === 'string' && r.SecretID !== '',
    { what: 'the ACL bootstrap', timeoutMs: 30_000, ...(options.signal ? { signal: options.signal } : {}), describe: () => 'no management token yet' },
  );
  writeFileAtomic(tokenFile(plan.name, 'management'), `${management.SecretID}\n`, 0o600);
  const admin = api.withToken(management.SecretID);
  await admin.putAclPolicy(
    HARNESS_POLICY_NAME,
    HARNESS_POLICY,
    'What nomad-lab needs to run scenarios: jobs, allocations, nodes and events, read; no ACL or operator rights.',
  );
  const harness = await admin.createAclToken('nomad-lab harness', [HARNESS_POLICY_NAME]);
  writeFileAtomic(tokenFile(plan.name, 'harness'), `${harness.SecretID}\n`, 0o600);
  options.log(`ACLs bootstrapped: management and harness tokens in ${aclDir(plan.name)} (mode 0600)`);
}
