// Nomad's cgroups on this host: v1 `/sys/fs/cgroup/<controller>/nomad/<alloc>.<task>`, v2
// `/sys/fs/cgroup/nomad.slice/...`. Every agent on a host shares these parents, so teardown removes
// the lab's alloc cgroups, and the parents only when no Nomad agent is left on the machine.
import { existsSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const CGROUP_ROOT = '/sys/fs/cgroup';
const UUID_PREFIX = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

/** Nomad parent cgroup directories present on this host. */
export function nomadParents(): string[] {
  if (!existsSync(CGROUP_ROOT)) return [];
  const parents: string[] = [];
  const v2 = join(CGROUP_ROOT, 'nomad.slice');
  if (existsSync(v2)) parents.push(v2);
  for (const controller of readdirSync(CGROUP_ROOT)) {
    const p = join(CGROUP_ROOT, controller, 'nomad');
    if (existsSync(p) && statSync(p).isDirectory()) parents.push(p);
  }
  return parents;
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => join(dir, d.name));
  } catch {
    return [];
  }
}

/** Every cgroup directory under the Nomad parents (depth-first, deepest first). */
function walk(dir: string, depth = 0): string[] {
  if (depth > 4) return [];
  return subdirs(dir).flatMap((d) => [...walk(d, depth + 1), d]);
}

/** Alloc cgroups (named after an allocation id) under the Nomad parents; `allocIds` narrows them. */
export function allocCgroups(allocIds?: ReadonlySet<string>): string[] {
  return nomadParents()
    .flatMap((p) => walk(p))
    .filter((d) => {
      const base = d.slice(d.lastIndexOf('/') + 1);
      const m = UUID_PREFIX.exec(base);
      return m !== null && (allocIds === undefined || allocIds.has(m[0]));
    });
}

/**
 * The Nomad-made cgroup directories a process is in, from /proc/<pid>/cgroup: v1 lines
 * `6:freezer:/nomad/<uuid>` (raw_exec's executor names its freezer cgroup with a random uuid, not
 * the allocation id) and v2 `0::/nomad.slice/...`. Read before the process is killed.
 */
export function cgroupsOf(pid: number): string[] {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return [];
  }
  const dirs: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(\/.*)$/.exec(line);
    if (!m) continue;
    const [, controllers, path] = m as unknown as [string, string, string];
    if (!/^\/nomad(\.slice)?\//.test(path)) continue;
    const base = controllers === '' ? CGROUP_ROOT : join(CGROUP_ROOT, controllers.replace(/^name=/, ''));
    if (existsSync(join(base, path))) dirs.push(join(base, path));
  }
  return dirs;
}

/** rmdir, deepest first; a cgroup with live processes refuses and is reported back. */
export function removeCgroups(dirs: string[]): string[] {
  const failed: string[] = [];
  for (const d of [...dirs].sort((a, b) => b.length - a.length)) {
    try {
      rmdirSync(d);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') failed.push(d);
    }
  }
  return failed;
}

/** The Nomad parents and whatever Nomad made inside them (share/reserve partitions); only when no agent runs. */
export function removeNomadParents(): string[] {
  const dirs = nomadParents().flatMap((p) => [...walk(p), p]);
  return removeCgroups(dirs);
}
