// Facts about local processes read from /proc: liveness, identity (start time, argv), network namespace.
import { readFileSync, readlinkSync, readdirSync, statSync } from 'node:fs';

/** The kernel's start time of a process in clock ticks, or undefined if it is gone. */
export function startTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    return Number.isFinite(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

export function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** A process identity that survives pid reuse: same pid and same start time. */
export interface ProcessIdentity {
  pid: number;
  startTicks: number;
}

export function identify(pid: number): ProcessIdentity | undefined {
  const ticks = startTicks(pid);
  return ticks === undefined ? undefined : { pid, startTicks: ticks };
}

export function isAlive(identity: ProcessIdentity): boolean {
  return startTicks(identity.pid) === identity.startTicks && !isZombie(identity.pid);
}

export function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .split('\0')
      .filter((s) => s.length > 0);
  } catch {
    return [];
  }
}

export function cwd(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

/** The inode of a process's network namespace ("net:[4026532...]" -> number). */
export function netnsInode(pid: number): number | undefined {
  try {
    return Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/net`))?.[1]);
  } catch {
    return undefined;
  }
}

/** The inode of a named namespace's bind mount (/run/netns/<name>). */
export function namedNetnsInode(name: string): number | undefined {
  try {
    return statSync(`/run/netns/${name}`).ino;
  } catch {
    return undefined;
  }
}

export function allPids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => pid !== process.pid);
}
