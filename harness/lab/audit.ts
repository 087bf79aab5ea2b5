// The leak audit: everything a lab can leave on the machine, looked for from scratch. Used after
// every teardown and by the tests; an empty list is the only clean result.
import { existsSync } from 'node:fs';
import { labDir, labRoot } from '../config/paths.ts';
import { run } from '../exec/local.ts';
import { allPids, cmdline, cwd } from '../exec/procs.ts';
import { table } from '../util/table.ts';
import { allocCgroups } from './cgroups.ts';
import { isOurUnreachable, labResources, routes, taggedRules } from './network.ts';
import { listLabs } from './store.ts';
import { labId, labIdOfName } from './topology.ts';

export type LeakKind = 'netns' | 'link' | 'iptables' | 'route' | 'mount' | 'process' | 'cgroup' | 'directory';

export interface Leak {
  kind: LeakKind;
  what: string;
}

/** Processes that belong to a lab directory: started from it, running in it, or naming it. */
export function processesUnder(dir: string): Array<{ pid: number; argv: string[] }> {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const found: Array<{ pid: number; argv: string[] }> = [];
  for (const pid of allPids()) {
    const argv = cmdline(pid);
    const where = cwd(pid);
    if ((where !== undefined && (where + '/').startsWith(prefix)) || argv.some((a) => a.includes(prefix))) {
      found.push({ pid, argv });
    }
  }
  return found;
}

export async function mountsUnder(dir: string): Promise<string[]> {
  const r = await run(['findmnt', '-rn', '-o', 'TARGET'], { check: false });
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return r.stdout
    .split('\n')
    .map((l) => l.replace(/\\x20/g, ' ').trim())
    .filter((t) => t === dir || t.startsWith(prefix));
}

/**
 * Leaks of one lab (by name) or, without a name, of any nomad-lab lab that is not recorded as up.
 * `ignoreLabs` names labs that are legitimately up (their resources are not leaks). `sharedCgroups:
 * false` leaves out the alloc cgroups every agent on the host shares (they belong to no one lab).
 */
export async function auditLeaks(name?: string, options: { ignoreLabs?: string[]; sharedCgroups?: boolean } = {}): Promise<Leak[]> {
  const leaks: Leak[] = [];
  const onlyId = name === undefined ? undefined : labId(name);
  const ignoredIds = new Set((options.ignoreLabs ?? []).map(labId));
  const relevant = (id: string) => (onlyId === undefined ? !ignoredIds.has(id) : id === onlyId);

  const resources = await labResources();
  for (const [id, r] of resources) {
    if (!relevant(id)) continue;
    for (const n of r.netns) leaks.push({ kind: 'netns', what: n });
    for (const l of r.links) leaks.push({ kind: 'link', what: l });
  }

  for (const rule of await taggedRules('nomad-lab:', true)) {
    const id = rule.spec[rule.spec.indexOf('--comment') + 1]?.slice('nomad-lab:'.length) ?? '';
    if (relevant(id)) leaks.push({ kind: 'iptables', what: `${rule.line}` });
  }

  const otherLabsUp = [...resources.keys()].some((id) => !relevant(id));
  for (const r of await routes()) {
    if (isOurUnreachable(r)) {
      if (!otherLabsUp) leaks.push({ kind: 'route', what: `unreachable ${r.dst} proto ${r.protocol}` });
    } else if (r.dev !== undefined && labIdOfName(r.dev) !== undefined && relevant(labIdOfName(r.dev)!)) {
      leaks.push({ kind: 'route', what: `${r.dst} dev ${r.dev}` });
    }
  }

  const dirs = name === undefined ? [labRoot()] : [labDir(name)];
  for (const dir of dirs) {
    for (const m of await mountsUnder(dir)) leaks.push({ kind: 'mount', what: m });
    for (const p of processesUnder(dir)) leaks.push({ kind: 'process', what: `${p.pid} ${p.argv.join(' ').slice(0, 160)}` });
  }
  if (name !== undefined && existsSync(labDir(name))) leaks.push({ kind: 'directory', what: labDir(name) });
  if (name === undefined) {
    for (const lab of listLabs()) {
      if (relevant(labId(lab))) leaks.push({ kind: 'directory', what: labDir(lab) });
    }
  }

  // Alloc cgroups are shared by every agent on the host; with no Nomad agent left at all, any is a leak.
  const agents = allPids().filter((pid) => {
    const argv = cmdline(pid);
    return argv.some((a) => a.endsWith('nomad')) && argv.includes('agent');
  });
  if (agents.length === 0 && options.sharedCgroups !== false) for (const c of allocCgroups()) leaks.push({ kind: 'cgroup', what: c });
  return leaks;
}

export function formatLeaks(leaks: Leak[]): string {
  return table(leaks.map((l) => [l.kind, l.what]))
    .map((line) => `  ${line}`)
    .join('\n');
}
