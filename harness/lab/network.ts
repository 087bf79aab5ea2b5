// The netns lab's network, in the root namespace: unreachable route for the lab range, bridge,
// FORWARD accept rule, one namespace and veth pair per host. Creation and removal, nothing else.
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { run } from '../exec/local.ts';
import { HarnessError } from '../util/errors.ts';
import { deleteArgv, parseRules, ruleComment } from './iptables.ts';
import { LAB_RANGE, labIdOfName, type HostPlan, type LabPlan } from './topology.ts';

/** iproute2 protocol number marking the lab range's unreachable route as ours. */
export const ROUTE_PROTO = '250';
const ip = (...args: string[]) => run(['ip', ...args]);

export interface RouteEntry {
  type?: string;
  dst: string;
  dev?: string;
  protocol?: string;
}

export async function routes(): Promise<RouteEntry[]> {
  const r = await run(['ip', '-4', '-j', 'route', 'show', 'table', 'all']);
  return (JSON.parse(r.stdout || '[]') as RouteEntry[]).filter((e) => e.dst !== undefined);
}

export const isOurUnreachable = (r: RouteEntry): boolean => r.type === 'unreachable' && r.dst === LAB_RANGE && r.protocol === ROUTE_PROTO;

/** Held while any lab exists, added before the bridge and removed after it, so lab traffic never leaves. */
export async function ensureUnreachableRoute(): Promise<void> {
  if ((await routes()).some(isOurUnreachable)) return;
  const added = await run(['ip', 'route', 'add', 'unreachable', LAB_RANGE, 'proto', ROUTE_PROTO], { check: false });
  // Two labs coming up at once both find no route and both add it: the loser's "File exists" is fine
  // when the route there now is ours. Any other route for the range is not ours to take over.
  if (added.exitCode !== 0 && !(await routes()).some(isOurUnreachable)) {
    throw new HarnessError(`could not add the lab range's unreachable route: ${added.stderr.trim()}`, { command: added.argv });
  }
}

export async function removeUnreachableRoute(): Promise<void> {
  if ((await routes()).some(isOurUnreachable)) {
    await ip('route', 'del', 'unreachable', LAB_RANGE, 'proto', ROUTE_PROTO);
  }
}

export const linkExists = (name: string): boolean => existsSync(`/sys/class/net/${name}`);

/** Names of every link in the root namespace. */
export function links(): string[] {
  return readdirSync('/sys/class/net');
}

export async function netnsList(): Promise<string[]> {
  const r = await run(['ip', '-j', 'netns', 'list']);
  return (JSON.parse(r.stdout || '[]') as Array<{ name: string }>).map((n) => n.name);
}

/** The lab is IPv4 only: no link-local addresses, router solicitations or MLD chatter on its links. */
function disableIpv6(link: string): void {
  try {
    writeFileSync(`/proc/sys/net/ipv6/conf/${link}/disable_ipv6`, '1');
  } catch {
    // IPv6 disabled in the kernel already: nothing to turn off.
  }
}

export async function createBridge(plan: LabPlan): Promise<void> {
  if (!linkExists(plan.bridge)) await ip('link', 'add', plan.bridge, 'type', 'bridge');
  disableIpv6(plan.bridge);
  await ip('addr', 'replace', `${plan.bridgeIp}/${plan.prefixLength}`, 'dev', plan.bridge);
  await ip('link', 'set', plan.bridge, 'up');
}

/**
 * Bridge traffic between namespaces crosses FORWARD here (br_netfilter); a DROP policy would cut
 * servers from clients silently. Inserted first in the chain, tagged for teardown.
 */
export async function addForwardRule(plan: LabPlan): Promise<void> {
  if ((await taggedRules(plan.ruleTag)).length > 0) return;
  await run(['iptables', '-w', '-I', 'FORWARD', '1', '-i', plan.bridge, '-o', plan.bridge, '-m', 'comment', '--comment', plan.ruleTag, '-j', 'ACCEPT']);
}

/** Root-namespace filter rules whose comment is `tag` (or, with a prefix match, starts with it). */
export async function taggedRules(tag: string, prefix = false) {
  const r = await run(['iptables', '-w', '-S']);
  return parseRules(r.stdout).filter((rule) => {
    const c = ruleComment(rule);
    return c !== undefined && (prefix ? c.startsWith(tag) : c === tag);
  });
}

export async function removeTaggedRules(tag: string, prefix = false): Promise<number> {
  const rules = await taggedRules(tag, prefix);
  for (const rule of rules) await run(deleteArgv(rule));
  return rules.length;
}

export async function createHostNetwork(plan: LabPlan, host: HostPlan): Promise<void> {
  if (!(await netnsList()).includes(host.netns)) await ip('netns', 'add', host.netns);
  if (!linkExists(host.vethHost)) {
    await ip('link', 'add', host.vethHost, 'type', 'veth', 'peer', 'name', host.ifname, 'netns', host.netns);
  }
  disableIpv6(host.vethHost);
  await ip('link', 'set', host.vethHost, 'master', plan.bridge, 'up');
  await ip('-n', host.netns, 'addr', 'replace', `${host.ip}/${plan.prefixLength}`, 'dev', host.ifname);
  await ip('-n', host.netns, 'link', 'set', host.ifname, 'up');
  await ip('-n', host.netns, 'link', 'set', 'lo', 'up');
}

export async function deleteNetns(name: string): Promise<void> {
  if ((await netnsList()).includes(name)) await ip('netns', 'del', name);
}

export async function deleteLink(name: string): Promise<void> {
  if (!linkExists(name)) return;
  // A deleted namespace takes its veth peers with it, asynchronously: the link seen a moment ago may
  // be gone by the time `ip link del` runs. Gone is what we wanted.
  const r = await run(['ip', 'link', 'del', name], { check: false });
  if (r.exitCode !== 0 && linkExists(name)) throw new HarnessError(`ip link del ${name} failed: ${r.stderr.trim()}`, { command: r.argv });
}

/** Namespaces and links of any nomad-lab lab, by lab id. */
export async function labResources(): Promise<Map<string, { netns: string[]; links: string[] }>> {
  const found = new Map<string, { netns: string[]; links: string[] }>();
  const slot = (id: string) => found.get(id) ?? (found.set(id, { netns: [], links: [] }), found.get(id)!);
  for (const n of await netnsList()) {
    const id = labIdOfName(n);
    if (id) slot(id).netns.push(n);
  }
  for (const l of links()) {
    const id = labIdOfName(l);
    if (id) slot(id).links.push(l);
  }
  return found;
}
