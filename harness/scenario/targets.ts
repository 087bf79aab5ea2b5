// Fault targets: which lab hosts a partition or heal (and, through the same functions, an agent fault)
// acts on. A scenario names them by allocation role (`clientOf: cache[0]#1`, placement being the
// scheduler's choice), by host name (`host: client3`, `hosts: [client1, client2]`), or by count
// (`clients: 25`: the first 25 client hosts, in the lab's host order, that hold a live allocation of
// the job when the step runs). Resolution is pure: it reads a view of the lab and the recorder.

/** The target forms a fault step can carry; exactly one is given. */
export interface TargetFields {
  clientOf?: string;
  host?: string;
  hosts?: string[];
  clients?: number;
}

export type Target = { clientOf: string } | { host: string } | { hosts: string[] } | { clients: number };

/** What resolution reads: the lab's hosts in their order, where roles run, which hosts hold the job. */
export interface TargetView {
  hosts: ReadonlyArray<{ name: string; role: string }>;
  /** The lab host an allocation role runs on, if that role has been seen. */
  nodeOfRole(role: string): string | undefined;
  /** Lab host names holding a live allocation of the job (desired run, not terminal). */
  holding: ReadonlySet<string>;
  /**
   * For a partition: lab host names the run holds cut off now. `clients: N` skips them: their
   * allocations still count as held (unknown), but cutting them again would double their rules.
   */
  cut?: ReadonlySet<string>;
}

/** The one target form a step gives, or undefined when it gives none or several. */
export function targetOf(fields: TargetFields): Target | undefined {
  const given: Target[] = [];
  if (fields.clientOf !== undefined) given.push({ clientOf: fields.clientOf });
  if (fields.host !== undefined) given.push({ host: fields.host });
  if (fields.hosts !== undefined) given.push({ hosts: fields.hosts });
  if (fields.clients !== undefined) given.push({ clients: fields.clients });
  return given.length === 1 ? given[0] : undefined;
}

/** A target as a person reads it: `client of cache[0]#1`, `client3`, `client1, client2`, `25 clients`. */
export function describeTarget(t: Target): string {
  if ('clientOf' in t) return t.clientOf;
  if ('host' in t) return t.host;
  if ('hosts' in t) return t.hosts.join(', ');
  return `${t.clients} clients`;
}

/**
 * The same target form, as a key: a heal given the form a partition was given heals exactly the
 * hosts that partition cut, even when what `clients: 25` would resolve to has changed since (the
 * replacements now hold allocations on other hosts).
 */
export const targetKey = (t: Target): string => JSON.stringify(t);

/** Whether a target can name several hosts at once (a mass fault: one group of fault events). */
export const isMany = (t: Target): boolean => 'hosts' in t || 'clients' in t;

/** The lab's client host names, in the lab's host order. */
const clientNames = (view: TargetView) => view.hosts.filter((h) => h.role === 'client').map((h) => h.name);

/**
 * The host names a target names, in the lab's host order, or a sentence saying why it names none.
 * `clients: N` takes the first N client hosts holding a live allocation of the job: deterministic for a
 * given placement (the lab's order is client1, client2, ...), and never a host with nothing to cut off,
 * nor one a partition of the run holds cut off already (`view.cut`).
 */
export function resolveTarget(t: Target, view: TargetView): string[] | string {
  const clients = clientNames(view);
  if ('clientOf' in t) {
    const node = view.nodeOfRole(t.clientOf);
    return node === undefined ? `no allocation ${t.clientOf} has been seen` : [node];
  }
  if ('host' in t || 'hosts' in t) {
    const named = 'host' in t ? [t.host] : t.hosts;
    const unknown = named.filter((h) => !clients.includes(h));
    if (unknown.length > 0) return `${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not a client of this lab (clients: ${clients.join(', ')})`;
    if (new Set(named).size !== named.length) return `hosts ${named.join(', ')} name a host twice`;
    return clients.filter((h) => named.includes(h));
  }
  const cut = clients.filter((h) => view.cut?.has(h));
  const holding = clients.filter((h) => view.holding.has(h) && !cut.includes(h));
  if (holding.length < t.clients)
    return `${t.clients} clients asked for, but only ${holding.length} client(s) hold a live allocation of the job (${holding.join(', ') || 'none'})${cut.length > 0 ? ` and are not cut off already (cut: ${cut.join(', ')})` : ''}`;
  return holding.slice(0, t.clients);
}

/**
 * Problems a scenario's target has before anything runs (a load-time check). Host names are checked
 * when the step runs: an inventory or Vagrant lab names its hosts itself. Pure.
 */
export function targetProblem(t: Target | undefined, labClients: number): string | undefined {
  if (t === undefined) return 'names no target or several: give exactly one of clientOf, host, hosts, clients';
  if ('clients' in t && t.clients > labClients) return `clients: ${t.clients}, but the scenario's lab has ${labClients} client(s)`;
  return undefined;
}
