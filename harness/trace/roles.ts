// Roles: the names scenarios give allocations, `<group>[<index>]#<n>`, where n counts the allocations
// Nomad created under that name (`spread.cache[0]`) in creation order (CreateIndex, a Raft index):
// #1 the original, #2 the next one created for that slot, and so on. Every allocation of a job gets a
// role of its own, whatever Nomad did: a placement without a PreviousAllocation link (after a reconnect,
// a lost-pending replacement) or a second replacement of one original gets the next number, never a
// number another allocation has. The link Nomad recorded is kept beside the role (`previous`), and the
// checker asserts it where the scenario says what replaced what. Pure; shared by the recorder's live
// view and the normalised trace, so a step and an expectation mean the same allocation.

/** "spread.cache[0]" -> { group: "cache", index: 0 } */
export function parseAllocName(name: string): { group: string; index: number } | undefined {
  const m = /\.([^.[\]]+)\[(\d+)\]$/.exec(name);
  return m ? { group: m[1]!, index: Number(m[2]) } : undefined;
}

/** What role assignment reads of an allocation. */
export interface AllocIdentity {
  id: string;
  /** Nomad's allocation name, `<job>.<group>[<index>]`. */
  name: string;
  /** The group, when the name does not parse (then the index is 0). */
  taskGroup?: string;
  /** CreateIndex, or the first Raft index this allocation was seen at. */
  createIndex: number;
}

export interface RoleParts {
  group: string;
  index: number;
  /** 1 for the first allocation created for the slot, 2 for the next, ... */
  n: number;
}

export const roleName = (p: RoleParts): string => `${p.group}[${p.index}]#${p.n}`;

/** `cache[0]#2` -> its parts; undefined when it is not a role. */
export function parseRole(role: string): RoleParts | undefined {
  const m = /^([^[\]#\s]+)\[(\d+)\]#([1-9]\d*)$/.exec(role);
  return m ? { group: m[1]!, index: Number(m[2]), n: Number(m[3]) } : undefined;
}

/** Every allocation's role, keyed by allocation ID. Ties in CreateIndex (one plan placing two) go by ID. */
export function assignRoles(allocs: Iterable<AllocIdentity>): Map<string, RoleParts> {
  const slots = new Map<string, Array<AllocIdentity & { group: string; index: number }>>();
  for (const a of allocs) {
    const parsed = parseAllocName(a.name) ?? { group: a.taskGroup || '?', index: 0 };
    const key = `${parsed.group}[${parsed.index}]`;
    const list = slots.get(key) ?? [];
    list.push({ ...a, ...parsed });
    slots.set(key, list);
  }
  const roles = new Map<string, RoleParts>();
  for (const list of slots.values()) {
    list.sort((a, b) => a.createIndex - b.createIndex || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    list.forEach((a, i) => roles.set(a.id, { group: a.group, index: a.index, n: i + 1 }));
  }
  return roles;
}
