// Checks made before a lab is created: each problem names what is wrong and the fix. Nothing is
// created before they pass, so a failed preflight leaves nothing behind.
import { statfsSync, mkdirSync, readFileSync } from 'node:fs';
import { labRoot } from '../config/paths.ts';
import { run } from '../exec/local.ts';
import { findOnPath } from '../nomad/binary.ts';
import { HarnessError } from '../util/errors.ts';
import { chainPolicy } from './iptables.ts';
import { isOurUnreachable, routes, type RouteEntry } from './network.ts';
import { cidrOverlaps, LAB_RANGE, labIdOfName, type LabPlan } from './topology.ts';

export interface PreflightProblem {
  what: string;
  fix: string;
}

export interface PreflightNote {
  note: string;
}

const TOOLS: Array<{ file: string; pkg: string }> = [
  { file: 'ip', pkg: 'iproute2' },
  { file: 'nsenter', pkg: 'util-linux' },
  { file: 'findmnt', pkg: 'util-linux' },
  { file: 'iptables', pkg: 'iptables' },
  { file: 'ansible-playbook', pkg: 'ansible-core' },
];

/** Routes that would capture or shadow lab traffic: anything in the lab range not made by a lab. */
export function conflictingRoutes(all: RouteEntry[], plan: LabPlan): RouteEntry[] {
  return all.filter((r) => {
    if (r.dst === 'default' || isOurUnreachable(r)) return false;
    if (r.dev !== undefined && labIdOfName(r.dev) !== undefined && labIdOfName(r.dev) !== plan.id) return false;
    if (r.dev === plan.bridge) return false;
    if (r.type === 'local' || r.type === 'broadcast') return false;
    return cidrOverlaps(r.dst, plan.subnet) || cidrOverlaps(r.dst, LAB_RANGE);
  });
}

export async function preflight(plan: LabPlan): Promise<{ problems: PreflightProblem[]; notes: PreflightNote[] }> {
  const problems: PreflightProblem[] = [];
  const notes: PreflightNote[] = [];
  if (process.getuid?.() !== 0) {
    problems.push({ what: 'not running as root (namespaces, iptables and agents need it)', fix: 'run the command with sudo, as root' });
  }
  const missing = TOOLS.filter((t) => !findOnPath(t.file, `${process.env['PATH'] ?? ''}:/usr/sbin:/sbin`));
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((t) => t.pkg))].join(' ');
    problems.push({ what: `missing tools: ${missing.map((t) => t.file).join(', ')}`, fix: `npm run setup (or: apt-get install ${pkgs})` });
  }
  if (problems.length > 0) return { problems, notes };

  const forward = await run(['iptables', '-w', '-S', 'FORWARD'], { check: false });
  if (forward.exitCode !== 0) {
    problems.push({
      what: `iptables does not work here: ${forward.stderr.trim().split('\n')[0]}`,
      fix: 'load the nf_tables (or ip_tables) kernel module, or run on a host whose kernel has it',
    });
  } else if (chainPolicy(forward.stdout, 'FORWARD') === 'DROP') {
    notes.push({ note: 'FORWARD policy is DROP (as on Docker hosts): the lab adds its own tagged ACCEPT rule for its bridge' });
  }
  try {
    const bridged = readFileSync('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8').trim();
    if (bridged === '1') notes.push({ note: 'bridged traffic crosses iptables FORWARD (bridge-nf-call-iptables=1)' });
  } catch {
    // br_netfilter not loaded: bridged traffic skips iptables, which is fine for the lab.
  }

  try {
    mkdirSync(labRoot(), { recursive: true, mode: 0o700 });
    const fs = statfsSync(labRoot());
    const freeMiB = Math.floor((fs.bavail * fs.bsize) / 2 ** 20);
    if (freeMiB < 1024) {
      problems.push({
        what: `only ${freeMiB} MiB free under ${labRoot()} (agents and allocations need about 1 GiB)`,
        fix: 'free disk space, or set NOMAD_LAB_ROOT to a roomier file system',
      });
    }
  } catch (cause) {
    problems.push({ what: `cannot use lab root ${labRoot()}: ${(cause as Error).message}`, fix: 'set NOMAD_LAB_ROOT to a writable directory' });
  }

  const conflicts = conflictingRoutes(await routes(), plan);
  if (conflicts.length > 0) {
    problems.push({
      what: `routes already use the lab's addresses (${plan.subnet} in ${LAB_RANGE}): ${conflicts.map((r) => `${r.type ?? ''} ${r.dst}${r.dev ? ` dev ${r.dev}` : ''}`.trim()).join(', ')}`,
      fix: 'remove those routes (a VPN or proxy tool may own 198.18.0.0/15 for fake IPs), or pick another --subnet in 198.18.0.0/15',
    });
  }
  return { problems, notes };
}

export function preflightError(problems: PreflightProblem[]): HarnessError {
  const text = problems.map((p) => `  - ${p.what}\n    fix: ${p.fix}`).join('\n');
  return new HarnessError(`preflight found ${problems.length} problem(s); nothing was created:\n${text}`);
}
