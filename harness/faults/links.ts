// Link faults between a client and its servers, short of a full partition: random packet loss
// (iptables `statistic` DROP rules, a real kernel drop that works in a namespace and on any host
// with iptables), delay and jitter (`tc qdisc ... netem`, only where the kernel has sch_netem), and
// the loss-rate proof (how many TCP connects a given loss should fail, and the binomial bound an
// observed count must fall in). A flap is no rule of its own: it is the partition of partition.ts,
// applied and removed on a schedule by the scenario context. Pure: argv and arithmetic only.
import { tokenizeRule, parseRules } from '../lab/iptables.ts';
import type { PartitionMode } from './partition.ts';

/**
 * The comment every loss rule carries. It finds the rules a killed run left (run cleanup, an SSH
 * lab's teardown, ansible/scenarios/heal.yml) without touching anyone else's rules on a host.
 */
export const LINK_RULE_TAG = 'nomad-lab-link';

/**
 * The handle of the root qdisc the harness installs for delay. tc has no comments; a handle of its
 * own ("NL") tells the harness's qdisc from one a host's owner set up, which cleanup never removes.
 */
export const LINK_QDISC_HANDLE = '4e4c:';

/** A profile's effect, parsed: loss as a probability, times in ms. */
export interface LinkEffect {
  direction: PartitionMode;
  /** Probability that a packet is dropped, per direction (0 < loss < 1). */
  loss?: number;
  delayMs?: number;
  jitterMs?: number;
  flap?: { upMs: number; downMs: number; times: number };
}

/** "30%" -> 0.3. */
export function parsePercent(s: string): number {
  const m = /^(\d+(?:\.\d+)?)%$/.exec(s.trim());
  if (!m) throw new Error(`not a percentage: ${JSON.stringify(s)} (expected e.g. 30%)`);
  return Number(m[1]) / 100;
}

/** iptables wants a decimal probability; a fixed width keeps the rule's text stable. */
const probability = (p: number): string => p.toFixed(4);

/** The rule specs (chain first) of a loss for one server: from it (INPUT), to it (OUTPUT), or both. */
function lossSpecs(ip: string, p: number, direction: PartitionMode): string[][] {
  const tail = ['-m', 'statistic', '--mode', 'random', '--probability', probability(p), '-m', 'comment', '--comment', LINK_RULE_TAG, '-j', 'DROP'];
  return [...(direction === 'output' ? [] : [['INPUT', '-s', ip, ...tail]]), ...(direction === 'input' ? [] : [['OUTPUT', '-d', ip, ...tail]])];
}

/** The commands that make `p` of the packets between the host and every server vanish, per direction. */
export const lossArgv = (serverIps: string[], p: number, direction: PartitionMode): string[][] =>
  serverIps.flatMap((ip) => lossSpecs(ip, p, direction).map(([chain, ...spec]) => ['iptables', '-w', '-I', chain!, ...spec]));

/** The commands that delete exactly those rules again. */
export const lossRemoveArgv = (serverIps: string[], p: number, direction: PartitionMode): string[][] =>
  serverIps.flatMap((ip) => lossSpecs(ip, p, direction).map(([chain, ...spec]) => ['iptables', '-w', '-D', chain!, ...spec]));

/** The harness's loss rules in an `iptables -S` listing (by their comment), as printed. */
export function linkRulesIn(listing: string): string[] {
  return parseRules(listing)
    .filter((r) => r.spec.includes('--comment') && r.spec[r.spec.indexOf('--comment') + 1] === LINK_RULE_TAG)
    .map((r) => r.line);
}

/** argv that deletes one listed rule (`-A CHAIN spec` -> `iptables -w -D CHAIN spec`). */
export function deleteListedArgv(line: string): string[] {
  const [, chain, ...spec] = tokenizeRule(line);
  return ['iptables', '-w', '-D', chain!, ...spec];
}

/**
 * Whether a listing holds the loss rule an argv inserted. iptables prints `-s 10.0.0.1/32` and the
 * probability with eleven decimals, so the comparison is on chain, address and the tag.
 */
export function lossRuleListed(listing: string, argv: string[]): boolean {
  const chain = argv[argv.indexOf('-I') + 1];
  const flag = argv.includes('-s') ? '-s' : '-d';
  const ip = argv[argv.indexOf(flag) + 1];
  const p = Number(argv[argv.indexOf('--probability') + 1]);
  return parseRules(listing).some((r) => {
    if (r.chain !== chain) return false;
    const at = r.spec.indexOf(flag);
    const addr = at >= 0 ? r.spec[at + 1] : undefined;
    const prob = r.spec.indexOf('--probability');
    return (
      (addr === ip || addr === `${ip}/32`) &&
      r.spec[r.spec.indexOf('--comment') + 1] === LINK_RULE_TAG &&
      prob >= 0 &&
      Math.abs(Number(r.spec[prob + 1]) - p) < 1e-6 &&
      r.spec.includes('DROP')
    );
  });
}

/**
 * netem on the host's packets to the servers only: a prio root qdisc whose default bands carry
 * everything else untouched, a fourth band with netem, and one u32 filter per server sending its
 * packets there. Egress only: delaying what the host receives would need an ifb device, which lab
 * hosts do not have; the round trip to a server is delayed all the same.
 */
export function netemArgv(dev: string, serverIps: string[], delayMs: number, jitterMs = 0): string[][] {
  const netem = ['netem', 'delay', `${delayMs}ms`, ...(jitterMs > 0 ? [`${jitterMs}ms`] : [])];
  return [
    ['tc', 'qdisc', 'add', 'dev', dev, 'root', 'handle', LINK_QDISC_HANDLE, 'prio', 'bands', '4'],
    ['tc', 'qdisc', 'add', 'dev', dev, 'parent', `${LINK_QDISC_HANDLE.slice(0, -1)}:4`, 'handle', '4e4d:', ...netem],
    ...serverIps.map((ip) => [
      'tc',
      'filter',
      'add',
      'dev',
      dev,
      'parent',
      LINK_QDISC_HANDLE,
      'protocol',
      'ip',
      'prio',
      '1',
      'u32',
      'match',
      'ip',
      'dst',
      `${ip}/32`,
      'flowid',
      `${LINK_QDISC_HANDLE.slice(0, -1)}:4`,
    ]),
  ];
}

/** Removes the harness's root qdisc (and with it the netem band and the filters). */
export const netemRemoveArgv = (dev: string): string[] => ['tc', 'qdisc', 'del', 'dev', dev, 'root', 'handle', LINK_QDISC_HANDLE];

/** The probe for netem: a netem qdisc of no delay on a device, removed right after. */
export const netemProbeArgv = (dev: string): string[][] => [
  ['tc', 'qdisc', 'add', 'dev', dev, 'root', 'handle', LINK_QDISC_HANDLE, 'netem', 'delay', '0ms'],
  netemRemoveArgv(dev),
];

/** Whether tc's error says the kernel lacks the qdisc ("Error: Specified qdisc kind is unknown."). */
export const qdiscUnknown = (stderr: string): boolean => /qdisc kind is unknown|Unknown qdisc/i.test(stderr);

/** The devices whose root qdisc is the harness's, from `tc qdisc show` (all devices). */
export function linkQdiscDevs(listing: string): string[] {
  const devs: string[] = [];
  for (const line of listing.split('\n')) {
    const m = /^qdisc \S+ (\S+) dev (\S+) root\b/.exec(line.trim());
    if (m && m[1] === LINK_QDISC_HANDLE) devs.push(m[2]!);
  }
  return devs;
}

/** The device that holds `ip`, from `ip -o -4 addr show` ("2: eth0    inet 10.0.0.5/24 ..."). */
export function devOf(addrListing: string, ip: string): string | undefined {
  for (const line of addrListing.split('\n')) {
    const m = /^\d+:\s+(\S+)\s+inet\s+([\d.]+)\//.exec(line.trim());
    if (m && m[2] === ip) return m[1]!.replace(/@.*$/, '');
  }
  return undefined;
}

/**
 * How often a TCP connect from the host to a server fails under the loss, with a connect timeout
 * shorter than the first SYN retransmission (1 s): the SYN must get out (OUTPUT rule) and the SYN-ACK
 * back (INPUT rule), each surviving with 1 - p.
 */
export function connectFailureRate(p: number, direction: PartitionMode): number {
  return direction === 'both' ? 1 - (1 - p) * (1 - p) : p;
}

/** How many standard deviations an observed count may stray from the expected before it is implausible. */
export const LOSS_Z = 4;

/**
 * The counts of failed connects out of `n` that are plausible when each fails with probability `rate`:
 * the expected count plus or minus LOSS_Z standard deviations of the binomial (normal approximation;
 * at z = 4 a correct loss lands outside about once in 16000 probes), at least one count wide.
 */
export function plausibleFailures(n: number, rate: number): { low: number; high: number } {
  const mean = n * rate;
  const sd = Math.sqrt(n * rate * (1 - rate));
  return { low: Math.max(0, Math.floor(mean - LOSS_Z * sd)), high: Math.min(n, Math.ceil(mean + LOSS_Z * sd)) };
}

/** The connect timeout of a loss probe: below the 1 s initial SYN retransmission timeout, so one SYN each. */
export const PROBE_TIMEOUT_S = 0.5;
/** Connects per loss probe: at 51 % failures, z = 4 allows 15..47 of 60, far from 0 (no loss) or 60 (a cut). */
export const PROBE_CONNECTS = 60;

/**
 * A Python script (python3 is on every lab host: Ansible needs it) that makes n TCP connects to
 * ip:port, ten at a time, each with its own timeout, and prints JSON counts. A refusal is an answer
 * that came back; EPERM is an OUTPUT DROP (the kernel refuses the SYN at once). Address, port and
 * counts are arguments, never part of the text.
 */
export const LOSS_PROBE = [
  'import json, socket, sys, time, errno',
  'from concurrent.futures import ThreadPoolExecutor',
  'ip, port, n, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])',
  'def one(_):',
  '    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)',
  '    s.settimeout(timeout)',
  '    t = time.monotonic()',
  '    try:',
  '        s.connect((ip, port)); return ("ok", time.monotonic() - t)',
  '    except ConnectionRefusedError: return ("ok", time.monotonic() - t)',
  '    except socket.timeout: return ("dropped", None)',
  '    except OSError as e:',
  '        return ("dropped", None) if e.errno == errno.EPERM else ("error:" + str(e), None)',
  '    finally: s.close()',
  'with ThreadPoolExecutor(10) as ex: r = list(ex.map(one, range(n)))',
  'ms = sorted(x[1] * 1000 for x in r if x[1] is not None)',
  'errors = sorted(set(x[0] for x in r if x[0].startswith("error:")))',
  'print(json.dumps({"sent": n, "dropped": sum(1 for x in r if x[0] == "dropped"), "errors": errors,',
  '                  "medianMs": ms[len(ms) // 2] if ms else None}))',
].join('\n');

export const lossProbeArgv = (ip: string, port: number, n = PROBE_CONNECTS, timeoutS = PROBE_TIMEOUT_S): string[] => [
  'python3',
  '-c',
  LOSS_PROBE,
  ip,
  String(port),
  String(n),
  String(timeoutS),
];

/** What the probe printed, or why it proves nothing. */
export function parseLossProbe(stdout: string): { sent: number; dropped: number; medianMs: number | null; errors: string[] } | { broken: string } {
  try {
    const v = JSON.parse(stdout.trim().split('\n').pop() ?? '') as { sent: number; dropped: number; medianMs: number | null; errors: string[] };
    if (typeof v.sent !== 'number' || typeof v.dropped !== 'number') return { broken: `unexpected output ${JSON.stringify(stdout.slice(0, 200))}` };
    if (v.errors.length > 0) return { broken: `connects failed otherwise: ${v.errors.join('; ')}` };
    return v;
  } catch {
    return { broken: `unexpected output ${JSON.stringify(stdout.slice(0, 200))}` };
  }
}

/** The commands a profile's effect needs on a host (loss rules; netem on `dev`), in order. */
export function degradeArgv(effect: LinkEffect, serverIps: string[], dev: string | undefined): string[][] {
  return [
    ...(effect.loss !== undefined ? lossArgv(serverIps, effect.loss, effect.direction) : []),
    ...(effect.delayMs !== undefined && dev !== undefined ? netemArgv(dev, serverIps, effect.delayMs, effect.jitterMs ?? 0) : []),
  ];
}

/** A profile's effect in words, for logs and fault details. */
export function describeEffect(effect: LinkEffect): string {
  const parts = [
    ...(effect.loss !== undefined ? [`loss ${+(effect.loss * 100).toFixed(2)}%`] : []),
    ...(effect.delayMs !== undefined ? [`delay ${effect.delayMs}ms${effect.jitterMs ? ` jitter ${effect.jitterMs}ms` : ''}`] : []),
    ...(effect.flap ? [`flap down ${effect.flap.downMs / 1000}s / up ${effect.flap.upMs / 1000}s x${effect.flap.times}`] : []),
  ];
  return `${parts.join(', ')} (${effect.direction}, the servers)`;
}
