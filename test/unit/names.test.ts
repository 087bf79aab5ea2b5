// Unit: one pattern per kind of name (config/names.ts). The schemas refer to it rather than copy it,
// the VM lab's Ruby copy agrees, every name the repo ships keeps to it, and a hostile name is refused
// wherever it enters: a lab or scenario file, a flag, an inventory read through ansible-inventory.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import labSchema from '../../harness/config/schema/lab.schema.json' with { type: 'json' };
import scenarioSchema from '../../harness/config/schema/scenario.schema.json' with { type: 'json' };
import vmSchema from '../../harness/config/schema/vm-topology.schema.json' with { type: 'json' };
import { checkName, isName, NAMES, nameProblem, namesSchema, showValue, type NameKind } from '../../harness/config/names.ts';
import { repoRoot } from '../../harness/config/paths.ts';
import { parseUserText } from '../../harness/config/user-files.ts';
import { planFromInventory, readInventory } from '../../harness/lab/inventory.ts';
import { inventoryLabName } from '../../harness/lab/labs.ts';
import { planLab } from '../../harness/lab/topology.ts';
import { listScenarios } from '../../harness/scenario/catalog.ts';
import { UsageError } from '../../harness/util/errors.ts';
import { SEED } from './fuzz-support.ts';

const dir = mkdtempSync(join(tmpdir(), 'nomad-lab-names-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the name rules', () => {
  it('each kind has one anchored pattern whose length limit is its max, and says its rule', () => {
    for (const [kind, rule] of Object.entries(NAMES) as Array<[NameKind, (typeof NAMES)[NameKind]]>) {
      expect(rule.pattern.source.startsWith('^') && rule.pattern.source.endsWith('$')).toBe(true);
      expect(nameProblem(kind, 'x'.repeat(rule.max + 1))).toBe(`${rule.what} is ${rule.rule}`);
      for (const bad of ['', 'a;b', '$(id)', '../x', 'a/b', 'a\nb', 'a\u0000b', ' a', '*']) expect(isName(kind, bad)).toBe(false);
      // Every name that could be an argument of its own cannot read as an option. Datacenters and regions
      // keep the rule they had (and the VM lab's Ruby copy has): they only reach HCL and Nomad's API.
      if (kind !== 'datacenter' && kind !== 'region') expect(isName(kind, '-rf')).toBe(false);
    }
    expect(isName('lab', 'a'.repeat(32))).toBe(true);
    expect(isName('lab', 'a'.repeat(33))).toBe(false);
    expect(isName('lab', '1lab')).toBe(true);
    expect(isName('host', 'ip-10-0-0-5.eu-west-1.compute.internal')).toBe(true);
    expect(isName('host', '.hidden')).toBe(false);
    expect(isName('jobFile', 'job-version-v2.nomad.hcl')).toBe(true);
    expect(isName('jobFile', 'a..nomad.hcl')).toBe(false);
    expect(isName('job', 'spread-1a2b')).toBe(true);
  });

  it('a flag message quotes the value, escapes what would break the line, and states the rule', () => {
    expect(() => checkName('lab', 'a;b', '--lab', (m) => new UsageError(m))).toThrow(
      '--lab "a;b": a lab name is 1-32 of [a-z0-9-], starting with a letter or digit',
    );
    expect(showValue('a\u2028b\u0000')).toBe('"a\\u2028b\\u0000"');
    expect(showValue('x'.repeat(100))).toBe(`"${'x'.repeat(64)}..."`);
  });

  it('the schemas refer to the names rather than copy them; the VM lab Ruby copy of the datacenter rule agrees', () => {
    const refs = (schema: object): string[] => [...JSON.stringify(schema).matchAll(/"\$ref":"names\.schema\.json#\/definitions\/(\w+)"/g)].map((m) => m[1]!);
    expect(new Set(refs(labSchema))).toEqual(new Set(['lab', 'datacenter', 'region']));
    expect(new Set(refs(scenarioSchema))).toEqual(new Set(['scenario', 'datacenter', 'job', 'jobFile', 'task']));
    expect(new Set(refs(vmSchema))).toEqual(new Set(['datacenter']));
    for (const s of [labSchema, scenarioSchema, vmSchema]) for (const kind of refs(s)) expect(Object.keys(NAMES)).toContain(kind);
    // No schema keeps a pattern of its own for a name.
    for (const s of [labSchema, scenarioSchema, vmSchema]) {
      for (const r of Object.values(NAMES)) expect(JSON.stringify(s)).not.toContain(JSON.stringify(r.pattern.source));
    }
    expect((namesSchema() as { definitions: Record<string, { pattern: string }> }).definitions['datacenter']!.pattern).toBe(NAMES.datacenter.pattern.source);
    const ruby = /DATACENTER = \/\\A(.*)\\z\//.exec(readFileSync(join(repoRoot, 'vagrant', 'topology.rb'), 'utf8'));
    expect(ruby?.[1]).toBe(NAMES.datacenter.pattern.source.slice(1, -1));
    // The VM lab's own file meets its schema, names included.
    const file = join(repoRoot, 'vagrant', 'topology.yaml');
    expect(() => parseUserText(file, readFileSync(file, 'utf8'), vmSchema)).not.toThrow();
  });
});

describe('names the repo ships keep to the rules', () => {
  it('scenarios, their jobs and labs; the job files and the IDs they define', () => {
    for (const s of listScenarios()) {
      expect(isName('scenario', s.name) && isName('job', s.job.id) && isName('jobFile', s.job.file)).toBe(true);
      // A scenario's own lab, sc-<scenario>, and a shared lab's renamed job.
      expect(isName('lab', `sc-${s.name}`) && isName('job', `${s.job.id}-0a1b`)).toBe(true);
    }
    expect(isName('lab', `sc-${'s'.repeat(NAMES.scenario.max)}`)).toBe(true);
    for (const f of readdirSync(join(repoRoot, 'jobs')).filter((f) => f.endsWith('.hcl'))) {
      expect(isName('jobFile', f)).toBe(true);
      for (const m of readFileSync(join(repoRoot, 'jobs', f), 'utf8').matchAll(/^job "([^"]+)"/gm)) expect(isName('job', m[1])).toBe(true);
    }
  });

  it('host names of the netns and VM labs, the fixtures and the documented inventory; inventory lab names', () => {
    const plan = planLab({ name: 'default', servers: 9, clients: 200, datacenter: 'dc1' });
    for (const h of plan.hosts) expect(isName('host', h.name)).toBe(true);
    const fixture = readFileSync(join(repoRoot, 'test', 'fixtures', 'vagrant', 'vagrant_ansible_inventory'), 'utf8');
    for (const m of fixture.matchAll(/^(\w[\w.-]*) ansible_host=.* nomad_datacenter=(\S+)/gm))
      expect(isName('host', m[1]) && isName('datacenter', m[2])).toBe(true);
    const providers = readFileSync(join(repoRoot, 'docs', 'providers.md'), 'utf8');
    const documented = [...providers.matchAll(/^([\w.-]+) ansible_host=/gm)].map((m) => m[1]);
    expect(documented.length).toBeGreaterThan(0);
    for (const h of documented) expect(isName('host', h)).toBe(true);
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (file) => isName('lab', inventoryLabName(file))),
      { seed: SEED, numRuns: 300 },
    );
  });
});

describe('hostile names through the real ansible-inventory', () => {
  it('INI and YAML inventories: the host name is refused on the line that names it', async () => {
    const ini = join(dir, 'hosts.ini');
    writeFileSync(
      ini,
      ['[servers]', 'nomad-a nomad_bind_addr=10.1.0.11', '', '[clients]', 'edge-1 nomad_bind_addr=10.2.0.21', 'edge;2 nomad_bind_addr=10.2.0.22'].join('\n'),
    );
    const yml = join(dir, 'hosts.yml');
    writeFileSync(
      yml,
      [
        'all:',
        '  children:',
        '    servers:',
        '      hosts:',
        '        nomad-a: { nomad_bind_addr: 10.1.0.11 }',
        '    clients:',
        '      hosts:',
        '        edge-1: { nomad_bind_addr: 10.2.0.21, nomad_datacenter: "dc 2" }',
      ].join('\n'),
    );
    const defaults = { knownHosts: join(dir, 'known_hosts'), identityFile: join(dir, 'id') };
    const list = await readInventory(ini);
    expect(() => planFromInventory(list, 'inv', ini, defaults)).toThrow(`${ini}:6: inventory host "edge;2": a host name is 1-64`);
    const list2 = await readInventory(yml);
    expect(() => planFromInventory(list2, 'inv', yml, defaults)).toThrow(`${yml}:8: inventory host edge-1: nomad_datacenter "dc 2": a datacenter name`);
  });
});
