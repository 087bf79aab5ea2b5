// Link faults on a host, through the lab's driver (a namespace, or SSH): the loss probe, the probe for
// the kernel's netem, and the cleanup that removes every loss rule and delay qdisc the harness left
// (a run's cleanup, an SSH lab's teardown after a killed run). The argv comes from links.ts.
import { HarnessError } from '../util/errors.ts';
import {
  deleteListedArgv,
  devOf,
  linkQdiscDevs,
  LINK_QDISC_HANDLE,
  linkRulesIn,
  lossProbeArgv,
  netemProbeArgv,
  netemRemoveArgv,
  parseLossProbe,
  qdiscUnknown,
  PROBE_CONNECTS,
  PROBE_TIMEOUT_S,
} from './links.ts';
import { SERVER_RPC_PORT, type HostExec } from './partition.ts';

/** The device that holds the host's lab address (`eth0` in a namespace; whatever it is on an SSH host). */
export async function deviceOf(exec: HostExec, hostName: string, ip: string): Promise<string> {
  const r = await exec(['ip', '-o', '-4', 'addr', 'show']);
  const dev = devOf(r.stdout, ip);
  if (dev === undefined) throw new HarnessError(`no network device holds ${ip} on ${hostName} (ip -o -4 addr show)`, { host: hostName });
  return dev;
}

/**
 * Whether the host's kernel has netem: a netem qdisc of no delay added to `dev` and removed at once.
 * Returns undefined when it has, else why not (tc's own words and the kernel release).
 */
export async function netemMissing(exec: HostExec, dev: string): Promise<string | undefined> {
  const [add, del] = netemProbeArgv(dev);
  const r = await exec(add!, { check: false });
  if (r.exitCode === 0) {
    await exec(del!);
    return undefined;
  }
  const said = (r.stderr || r.stdout).trim().split('\n').pop() ?? '';
  const kernel = (await exec(['uname', '-r'], { check: false })).stdout.trim() || 'an unknown release';
  if (qdiscUnknown(said)) return `its kernel (Linux ${kernel}) has no sch_netem qdisc: \`${add!.join(' ')}\` said "${said}"`;
  return `\`${add!.join(' ')}\` failed (exit ${r.exitCode}) on Linux ${kernel}: ${said}`;
}

export interface LossProbe {
  target: string;
  sent: number;
  dropped: number;
  medianMs?: number | null;
  broken?: string;
}

/** n TCP connects from the host to ip's RPC port; how many failed. */
export async function probeLoss(exec: HostExec, ip: string, timeoutS = PROBE_TIMEOUT_S, n = PROBE_CONNECTS): Promise<LossProbe> {
  const target = `${ip}:${SERVER_RPC_PORT}`;
  const r = await exec(lossProbeArgv(ip, SERVER_RPC_PORT, n, timeoutS), { check: false });
  if (r.exitCode !== 0) {
    const why = (r.stderr || r.stdout).trim().split('\n').pop() ?? '';
    return { target, sent: 0, dropped: 0, broken: `the probe failed: exit ${r.exitCode}: ${why}` };
  }
  const v = parseLossProbe(r.stdout);
  return 'broken' in v ? { target, sent: 0, dropped: 0, broken: v.broken } : { target, sent: v.sent, dropped: v.dropped, medianMs: v.medianMs };
}

/** The harness's loss rules and delay qdiscs still on a host (none: an empty list). */
export async function linkFaultsOn(exec: HostExec): Promise<string[]> {
  const rules = linkRulesIn((await exec(['iptables', '-w', '-S'])).stdout);
  // No tc on the host: then no qdisc of the harness can be there either.
  const tc = await exec(['tc', 'qdisc', 'show'], { check: false }).catch(() => undefined);
  const devs = tc && tc.exitCode === 0 ? linkQdiscDevs(tc.stdout) : [];
  return [...rules, ...devs.map((d) => `qdisc ${LINK_QDISC_HANDLE} on ${d}`)];
}

/**
 * Removes every loss rule (by its comment) and delay qdisc (by its handle) of the harness from a host,
 * whoever left them, and returns what is still there afterwards.
 */
export async function clearLinkFaults(exec: HostExec): Promise<string[]> {
  for (const line of linkRulesIn((await exec(['iptables', '-w', '-S'])).stdout)) await exec(deleteListedArgv(line), { check: false });
  const tc = await exec(['tc', 'qdisc', 'show'], { check: false }).catch(() => undefined);
  if (tc && tc.exitCode === 0) for (const dev of linkQdiscDevs(tc.stdout)) await exec(netemRemoveArgv(dev), { check: false });
  return linkFaultsOn(exec);
}
