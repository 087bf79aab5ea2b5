// The partition fault, as the seed bench test does it by hand: inside the client's namespace, drop
// everything from every server (`iptables -I INPUT -s <server-ip> -j DROP`), and heal with -D.
// Modes: input (the seed's rule, the default), output (`-I OUTPUT -d <server-ip>`: nothing leaves
// for the servers, so no heartbeat reaches them after the cut), both. The argv is computed here
// (pure); it runs through the lab's driver (namespace or SSH).
import { run, type RunResult } from '../exec/local.ts';
import { HarnessError } from '../util/errors.ts';
import { partitionRulesIn } from '../lab/iptables.ts';

export { partitionRulesIn };
import type { HostPlan } from '../lab/topology.ts';

export type PartitionMode = 'input' | 'output' | 'both';

/** The rule specs of a mode for one server: INPUT from it, OUTPUT to it, or both. */
const ruleSpecs = (ip: string, mode: PartitionMode): string[][] => [
  ...(mode === 'output' ? [] : [['INPUT', '-s', ip, '-j', 'DROP']]),
  ...(mode === 'input' ? [] : [['OUTPUT', '-d', ip, '-j', 'DROP']]),
];

/**
 * One rule per server (and direction): with several servers, dropping one only makes the client
 * fail over. The seed's command, plus -w: the xtables lock is shared by every namespace on the host.
 */
export const partitionArgv = (serverIps: string[], mode: PartitionMode = 'input'): string[][] =>
  serverIps.flatMap((ip) => ruleSpecs(ip, mode).map(([chain, ...spec]) => ['iptables', '-w', '-I', chain!, ...spec]));
export const healArgv = (serverIps: string[], mode: PartitionMode = 'input'): string[][] =>
  serverIps.flatMap((ip) => ruleSpecs(ip, mode).map(([chain, ...spec]) => ['iptables', '-w', '-D', chain!, ...spec]));

/** The servers' RPC port, where clients heartbeat (ansible/roles/nomad/defaults/main.yml, nomad_ports.rpc). */
export const SERVER_RPC_PORT = 4647;
const REACH_TIMEOUT_S = 2;

/**
 * A TCP connect from the host to ip:port with bash's /dev/tcp, bounded by `timeout`. The address and
 * port are arguments of the script, never part of its text.
 */
export const reachArgv = (ip: string, port: number): string[] => [
  'timeout',
  String(REACH_TIMEOUT_S),
  'bash',
  '-c',
  'exec 3<>"/dev/tcp/$1/$2"',
  'reach',
  ip,
  String(port),
];

/**
 * Whether anything at ip:port answers the host: a connection or a refusal both mean packets came back;
 * `timeout`'s 124 means nothing did (a DROP on the host's INPUT swallows the SYN-ACK).
 */
export async function reach(
  exec: HostExec,
  ip: string,
  port = SERVER_RPC_PORT,
): Promise<{ target: string; reached: boolean; broken?: boolean; detail: string }> {
  const started = Date.now();
  const r = await exec(reachArgv(ip, port), { check: false });
  const took = `${((Date.now() - started) / 1000).toFixed(1)}s`;
  const target = `${ip}:${port}`;
  if (r.exitCode === 0) return { target, reached: true, detail: `connected in ${took}` };
  if (r.exitCode === 124) return { target, reached: false, detail: `no answer within ${REACH_TIMEOUT_S}s` };
  const why = (r.stderr || r.stdout).trim().split('\n').pop() ?? '';
  if (/refused/i.test(why)) return { target, reached: true, detail: `refused after ${took}: ${why}` };
  // A DROP on OUTPUT makes connect() fail at once with EPERM; anything else means the probe itself
  // did not run (no bash, no timeout, an SSH failure) and proves nothing either way.
  if (/not permitted/i.test(why)) return { target, reached: false, detail: `${why} (after ${took})` };
  return { target, reached: false, broken: true, detail: `the probe failed: exit ${r.exitCode} after ${took}: ${why}` };
}

/** Runs argv inside the host's network namespace. */
export function inHost(host: HostPlan, argv: string[], options: { check?: boolean; timeoutMs?: number; input?: string } = {}) {
  return run(['nsenter', `--net=/run/netns/${host.netns}`, '--', ...argv], { host: host.name, timeoutMs: 20_000, ...options });
}

/** Runs one command on a lab host: in its namespace, or over SSH (lab/driver.ts). */
export type HostExec = (argv: string[], options?: { check?: boolean }) => Promise<RunResult>;

export async function applyAll(exec: HostExec, commands: string[][]): Promise<void> {
  for (const argv of commands) await exec(argv);
}

export async function iptablesRules(exec: HostExec): Promise<string> {
  return (await exec(['iptables', '-w', '-S'])).stdout;
}

/** After a heal: the host must still answer and hold none of the partition's rules. */
export async function assertHealed(exec: HostExec, hostName: string, serverIps: string[]): Promise<string> {
  const listing = await iptablesRules(exec);
  const left = partitionRulesIn(listing, serverIps);
  if (left.length > 0) throw new HarnessError(`partition rules still present after heal: ${left.join('; ')}`, { host: hostName });
  return listing;
}

/** Deletes the partition's rules, of every mode, until iptables says there are none (a host partitioned twice holds two). */
export async function healFully(exec: HostExec, serverIps: string[]): Promise<string[]> {
  for (const a of healArgv(serverIps, 'both')) {
    for (let i = 0; i < 10; i++) if ((await exec(a, { check: false })).exitCode !== 0) break;
  }
  return iptablesRules(exec).then(
    (rules) => partitionRulesIn(rules, serverIps),
    () => ['(could not list the rules)'],
  );
}
