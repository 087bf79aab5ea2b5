// Unit: Ansible inventories under hostile input. The harness reads an inventory through
// `ansible-inventory --list` (every format Ansible reads) and plans the lab from that JSON (pure); the
// inventory's own text only gives the lines of the messages. Fuzzed: the JSON (host names, variables,
// groups, wrong types) with an INI or YAML text of it, and arbitrary text for the line finder. Either
// a plan whose names follow config/names.ts, or a UsageError `<file>:<line>: inventory ...`.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isName } from '../../harness/config/names.ts';
import { INVENTORY_TEXT, inventoryLocator, planFromInventory, type InventoryList } from '../../harness/lab/inventory.ts';
import { UsageError } from '../../harness/util/errors.ts';
import {
  arbitraryText,
  expectFileRefusal,
  expectNothingWritten,
  fuzz,
  hostileName,
  lineCount,
  runs,
  sandbox,
  sometimes,
  textMutation,
  toYaml,
  wrongValue,
} from './fuzz-support.ts';

const box = sandbox('fuzz-inventory');
const defaults = { knownHosts: '/var/lib/nomad-lab/known_hosts', identityFile: '/root/.ssh/id_ed25519' };
const source = '/srv/inventories/edge.ini';

interface HostModel {
  name: string;
  vars: Record<string, unknown>;
}

/** A variable's value as INI text; fast-check's objects may have no prototype, which String() cannot convert. */
const iniValue = (v: unknown): string => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));

/** The INI a user would write for these groups. */
function ini(groups: Record<string, HostModel[]>): string {
  return Object.entries(groups)
    .map(([g, hosts]) => `[${g}]\n${hosts.map((h) => [h.name, ...Object.entries(h.vars).map(([k, v]) => `${k}=${iniValue(v)}`)].join(' ')).join('\n')}`)
    .join('\n\n');
}

/** The YAML a user would write for these groups. */
const yaml = (groups: Record<string, HostModel[]>): string =>
  toYaml({
    all: { children: Object.fromEntries(Object.entries(groups).map(([g, hosts]) => [g, { hosts: Object.fromEntries(hosts.map((h) => [h.name, h.vars])) }])) },
  }).trimStart();

/** What `ansible-inventory --list` prints for these groups. */
function list(groups: Record<string, HostModel[]>): InventoryList {
  const hostvars: Record<string, Record<string, unknown>> = {};
  for (const hosts of Object.values(groups)) for (const h of hosts) hostvars[h.name] = { ...hostvars[h.name], ...h.vars };
  return {
    _meta: { hostvars },
    all: { children: ['ungrouped', ...Object.keys(groups)] },
    ...Object.fromEntries(Object.entries(groups).map(([g, hosts]) => [g, { hosts: hosts.map((h) => h.name) }])),
  };
}

describe('inventories: lines and names', () => {
  const groups = {
    servers: [{ name: 'nomad-a', vars: { nomad_bind_addr: '10.1.0.11' } }],
    clients: [
      { name: 'edge-1', vars: { nomad_bind_addr: '10.2.0.21' } },
      { name: 'edge-2', vars: { nomad_bind_addr: '10.2.0.22', nomad_datacenter: 'dc 2' } },
    ],
  };
  const refusal = (l: InventoryList) => {
    try {
      planFromInventory(l, 'inv', source, defaults);
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      return (e as Error).message;
    }
    throw new Error('accepted');
  };

  it('a refusal names the line of the host it is about, in INI and in YAML', () => {
    const fromIni = { ...list(groups), [INVENTORY_TEXT]: ini(groups) };
    expect(refusal(fromIni)).toBe(`${source}:6: inventory host edge-2: nomad_datacenter "dc 2": a datacenter name is 1-64 of [A-Za-z0-9_-]`);
    const fromYaml = { ...list(groups), [INVENTORY_TEXT]: yaml(groups) };
    expect(yaml(groups).split('\n')[10]).toBe('        "edge-2":');
    expect(refusal(fromYaml)).toMatch(new RegExp(`^${source}:11: inventory host edge-2: nomad_datacenter`));
    // Without the text (a list from elsewhere), line 1.
    expect(refusal(list(groups))).toMatch(new RegExp(`^${source}:1: inventory host edge-2`));
  });

  it('host names that would reach a path, a shell or an option are refused before anything shows them', () => {
    const bad = { ...groups, servers: [{ name: '../../etc/cron.d/x', vars: { nomad_bind_addr: '10.1.0.11' } }] };
    expect(refusal({ ...list(bad), [INVENTORY_TEXT]: ini(bad) })).toBe(
      `${source}:2: inventory host "../../etc/cron.d/x": a host name is 1-64 of [A-Za-z0-9._-], starting with a letter or digit`,
    );
    const newline = { ...groups, clients: [{ name: 'a\nb', vars: { nomad_bind_addr: '10.2.0.21' } }] };
    expect(refusal(list(newline))).toBe(`${source}:1: inventory host "a\\nb": a host name is 1-64 of [A-Za-z0-9._-], starting with a letter or digit`);
    const region = { ...groups, clients: [{ name: 'edge-1', vars: { nomad_bind_addr: '10.2.0.21', nomad_region: 'eu;west' } }] };
    expect(refusal(list(region))).toMatch(/inventory host edge-1: nomad_region "eu;west": a region name is 1-64 of/);
  });
});

describe('inventories: fuzzed', () => {
  const address = fc.oneof(
    { weight: 6, arbitrary: fc.tuple(fc.nat(255), fc.nat(255)).map(([c, d]) => `10.0.${c}.${d}`) },
    { weight: 1, arbitrary: fc.oneof(hostileName(), fc.constantFrom('{{ ansible_host }}', '999.1.1.1', '::1', 42)) },
  );
  const value = (valid: fc.Arbitrary<unknown>) =>
    fc.option(fc.oneof({ weight: 5, arbitrary: valid }, { weight: 1, arbitrary: wrongValue() }), { nil: undefined, freq: 3 });
  const host = fc.record({
    name: fc.oneof({ weight: 8, arbitrary: fc.stringMatching(/^[a-z][a-z0-9.-]{0,20}$/) }, { weight: 1, arbitrary: hostileName() }),
    vars: fc.record(
      {
        nomad_bind_addr: address,
        nomad_datacenter: value(fc.constantFrom('dc1', 'edge', 'dc_2')),
        nomad_region: value(fc.constantFrom('global', 'eu-west')),
        ansible_port: value(fc.constantFrom(22, '2222', 65535)),
        nomad_service_manager: value(fc.constantFrom('systemd', 'daemon')),
        nomad_data_dir: value(fc.constantFrom('/opt/nomad/data', '/srv/n/data')),
        ansible_host: value(fc.constantFrom('edge.example', '10.9.9.9')),
      },
      { requiredKeys: ['nomad_bind_addr'] },
    ),
  });
  const groups = fc.record({
    // Now and then a group with no hosts.
    servers: fc.oneof({ weight: 9, arbitrary: fc.array(host, { minLength: 1, maxLength: 3 }) }, { weight: 1, arbitrary: fc.constant<HostModel[]>([]) }),
    clients: fc.oneof({ weight: 9, arbitrary: fc.array(host, { minLength: 1, maxLength: 4 }) }, { weight: 1, arbitrary: fc.constant<HostModel[]>([]) }),
  });
  /** Lists ansible-inventory would never print: wrong types where names and groups go. */
  const broken = (l: InventoryList, pick: number, junk: unknown): InventoryList => {
    const copy = structuredClone(l) as Record<string, unknown>;
    const where = ['servers', 'clients', '_meta', 'all'][pick % 4]!;
    copy[where] = pick % 3 === 0 ? junk : { hosts: junk, children: junk, hostvars: junk };
    return copy as InventoryList;
  };

  function check([g, form, breakIt, junk]: [Record<string, HostModel[]>, number, number | undefined, unknown]): string {
    const text = form % 2 === 0 ? ini(g) : yaml(g);
    let l = list(g);
    if (breakIt !== undefined) l = broken(l, breakIt, junk);
    l[INVENTORY_TEXT] = text;
    let plan: ReturnType<typeof planFromInventory>;
    try {
      plan = planFromInventory(l, 'inv', source, defaults);
    } catch (e) {
      return expectFileRefusal(e, source, lineCount(text));
    }
    for (const h of plan.hosts) {
      expect(isName('host', h.name) && isName('datacenter', h.datacenter)).toBe(true);
      expect(h.ssh.port).toBeGreaterThan(0);
    }
    return 'loaded';
  }

  it('the JSON of ansible-inventory, with hostile names and variables, and its text in INI or YAML', { timeout: 60_000 }, () => {
    fuzz('inventory/structured', fc.tuple(groups, fc.nat(), sometimes(fc.nat(), 5), wrongValue()), check, runs(1000));
  });

  it('the line finder reads any text without throwing, and answers lines inside it', { timeout: 60_000 }, () => {
    fuzz(
      'inventory/lines',
      fc.oneof(
        fc.tuple(arbitraryText(), fc.oneof(hostileName(), fc.constantFrom('name', 'a', 'hosts', 'servers'))),
        // An inventory's own text, cut, spliced, with aliases and duplicates: the host is in there somewhere.
        fc
          .tuple(groups, fc.nat(), textMutation())
          .map(([g, form, change]): [string, string] => [
            change(form % 2 === 0 ? ini(g) : yaml(g)),
            [...g.servers, ...g.clients][form % Math.max(1, g.servers.length + g.clients.length)]?.name ?? 'x',
          ]),
      ),
      ([data, hostName]) => {
        const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
        const line = inventoryLocator(text)(hostName);
        if (line === undefined) return 'not found';
        expect(line).toBeGreaterThanOrEqual(1);
        expect(line).toBeLessThanOrEqual(lineCount(text));
        return 'found';
      },
      runs(500),
    );
  });

  it('wrote nothing: no lab under the lab root, no file but the cases (the loader is pure; a refusal leaves no partial lab)', () => {
    expectNothingWritten(box);
  });
});
