// Unit: lab files (--config) and the lab flags under hostile input. A lab file either resolves to a
// lab whose names follow config/names.ts or is refused as `<file>:<line>: ...`; names from --lab,
// NOMAD_LAB_NAME and --client-datacenters meet the same rules, refused in one line that quotes them.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveLabConfig, type LabFile } from '../../harness/config/lab-config.ts';
import { isName } from '../../harness/config/names.ts';
import { InvalidFileError } from '../../harness/config/user-files.ts';
import { labRequest } from '../../harness/lab/labs.ts';
import { planLab } from '../../harness/lab/topology.ts';
import { UsageError } from '../../harness/util/errors.ts';
import {
  arbitraryText,
  documentText,
  expectFileRefusal,
  expectNothingWritten,
  expectUsageRefusal,
  fuzz,
  hostileName,
  lineCount,
  mutate,
  mutation,
  runs,
  sandbox,
  sometimes,
  textMutation,
} from './fuzz-support.ts';

const box = sandbox('fuzz-lab');

describe('lab files: the checks after the schema name real lines', () => {
  const refusal = (name: string, text: string, flags = {}) => {
    const file = box.write(name, text);
    try {
      resolveLabConfig({ config: file, ...flags }, {});
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidFileError);
      return (e as Error).message.replaceAll(`${file}:`, 'FILE:');
    }
    throw new Error(`${name} was accepted`);
  };

  it('more client datacenters than clients, and a subnet octet over 255, on their lines', () => {
    expect(refusal('dcs.yaml', 'name: edge\nservers: 1\nclients: 2\n\nclientDatacenters:\n  - dc1\n  - dc2\n  - dc3\n')).toBe(
      'FILE:5: /clientDatacenters has 3 datacenters for 2 client(s): give at most one per client, in order (client1 first)',
    );
    expect(refusal('dcs-default.yaml', '# two clients by default\nclientDatacenters: [a, b, c]\n')).toBe(
      'FILE:2: /clientDatacenters has 3 datacenters for 2 client(s) (the default): give at most one per client, in order (client1 first)',
    );
    // --clients decides then: the plan says what is wrong with the flags.
    expect(resolveLabConfig({ config: box.write('dcs-flag.yaml', 'clientDatacenters: [a, b, c]\n'), clients: '3' }, {}).spec.clientDatacenters).toEqual([
      'a',
      'b',
      'c',
    ]);
    expect(refusal('subnet.yaml', 'name: x\n# the lab range, but no address\nsubnet: 198.18.300.0/24\n')).toBe(
      'FILE:3: /subnet "198.18.300.0/24" is not a /24 inside 198.18.0.0/15',
    );
  });

  it('a lab file names its datacenters and region (agentVars too) by the one rule', () => {
    const text = 'name: "Lab;1"\ndatacenter: "dc 1"\nagentVars:\n  nomad_region: "eu/west"\n  nomad_datacenter: $(id)\n';
    expect(refusal('names.yaml', text).split('\n')).toEqual([
      'FILE:1: /name "Lab;1": a lab name is 1-32 of [a-z0-9-], starting with a letter or digit',
      'FILE:2: /datacenter "dc 1": a datacenter name is 1-64 of [A-Za-z0-9_-]',
      expect.stringMatching(/:5: \/agentVars\/nomad_datacenter "\$\(id\)": a datacenter name is/),
      expect.stringMatching(/:4: \/agentVars\/nomad_region "eu\/west": a region name is 1-64 of \[A-Za-z0-9_-\]/),
    ]);
  });
});

describe('lab names from flags and the environment', () => {
  it('--lab, NOMAD_LAB_NAME and --client-datacenters are refused with the rule, the value quoted', () => {
    expect(() => resolveLabConfig({ name: 'a;b' }, {})).toThrow(
      new UsageError('--lab "a;b": a lab name is 1-32 of [a-z0-9-], starting with a letter or digit'),
    );
    expect(() => resolveLabConfig({}, { NOMAD_LAB_NAME: '../etc' })).toThrow('NOMAD_LAB_NAME "../etc": a lab name is');
    expect(() => resolveLabConfig({ clientDatacenters: 'dc1,dc\n2' }, {})).toThrow('--client-datacenters "dc\\n2": a datacenter name is 1-64 of [A-Za-z0-9_-]');
    // The SSH providers' lab names go to the same lab store.
    expect(() => labRequest({ provider: 'vagrant', lab: '../../tmp/x' })).toThrow('--lab "../../tmp/x": a lab name is');
    expect(labRequest({ provider: 'vagrant', lab: 'vm-lab' }).name).toBe('vm-lab');
  });
});

describe('lab files and flags: fuzzed', () => {
  const base: LabFile = {
    name: 'three',
    servers: 3,
    clients: 4,
    subnet: '198.18.33.0/24',
    datacenter: 'dc1',
    clientDatacenters: ['dc1', 'edge', 'edge'],
    acl: true,
    nomad: '/opt/nomad',
    agentVars: { nomad_log_level: 'DEBUG', nomad_region: 'global', nomad_datacenter: 'dc1' },
  };
  const file = box.write('case.yaml', '');

  /** The lab's names follow their rules, and so does its plan, when planning takes the spec. */
  function labOk(spec: ReturnType<typeof resolveLabConfig>['spec'], agentVars: Record<string, unknown> = {}): string {
    expect(isName('lab', spec.name) && isName('datacenter', spec.datacenter)).toBe(true);
    for (const dc of spec.clientDatacenters ?? []) expect(isName('datacenter', dc)).toBe(true);
    for (const [k, kind] of [
      ['nomad_datacenter', 'datacenter'],
      ['nomad_region', 'region'],
    ] as const)
      if (agentVars[k] !== undefined) expect(isName(kind, agentVars[k])).toBe(true);
    try {
      const plan = planLab(spec);
      for (const h of plan.hosts) expect(isName('host', h.name) && h.netns.length <= 15 && h.vethHost.length <= 15).toBe(true);
      return 'loaded';
    } catch (e) {
      return `planned: ${expectUsageRefusal(e)}`;
    }
  }

  function check(data: string | Uint8Array): string {
    box.write('case.yaml', data);
    let config: ReturnType<typeof resolveLabConfig>;
    try {
      config = resolveLabConfig({ config: file }, {});
    } catch (e) {
      return expectFileRefusal(e, file, lineCount(data));
    }
    return labOk(config.spec, config.agentVars);
  }

  it('arbitrary text and bytes', { timeout: 60_000 }, () => {
    fuzz('lab file/arbitrary', arbitraryText(), check, runs(300));
  });

  it('a valid lab file with hostile names, dropped keys, wrong types and YAML tricks', { timeout: 60_000 }, () => {
    const targets = [['name'], ['datacenter'], ['clientDatacenters', 1], ['agentVars', 'nomad_region'], ['agentVars', 'nomad_datacenter'], ['subnet']];
    const arb = fc
      .record({
        named: fc.array(fc.tuple(fc.constantFrom(...targets), hostileName()), { maxLength: 2 }),
        mutations: fc.array(mutation(), { maxLength: 2 }),
        text: sometimes(textMutation(), 3),
      })
      .chain(({ named, mutations, text }) => {
        let doc = mutate(base, mutations);
        for (const [path, value] of named) doc = mutate(doc, [{ kind: 'set', pick: 0, value, key: '' }], [path]);
        return documentText(doc).map((t) => (text ? text(t) : t));
      });
    fuzz('lab file/structured', arb, check, runs(350));
  });

  it('flags and environment: --lab, NOMAD_LAB_NAME, --client-datacenters, counts and subnets', { timeout: 60_000 }, () => {
    // Valid values half the time, so that cases get past the name and reach the plan.
    const flag = fc.option(
      fc.oneof(hostileName(), fc.constantFrom('lab-1', 'x', '0', 'dc1,dc2', ' dc1 , dc2 ', 'dc1,,dc2'), fc.stringMatching(/^[a-z][a-z0-9-]{0,31}$/)),
      {
        nil: undefined,
        freq: 2,
      },
    );
    const arb = fc.record({
      name: flag,
      env: flag,
      clientDatacenters: flag,
      servers: sometimes(fc.oneof({ weight: 3, arbitrary: fc.constantFrom('1', '3', '9') }, fc.constantFrom('0', '10', '1e3', '-1', ' 2'), hostileName()), 2),
      clients: sometimes(fc.oneof({ weight: 3, arbitrary: fc.constantFrom('2', '4', '200') }, fc.constantFrom('0', '201', '3.5'), hostileName()), 2),
      subnet: fc.option(fc.oneof(fc.constantFrom('198.18.5.0/24', '198.19.255.0/24', '10.0.0.0/24', '198.18.5.0/16', '198.18.5.7/24'), hostileName()), {
        nil: undefined,
      }),
    });
    fuzz(
      'lab flags',
      arb,
      ({ name, env, ...rest }) => {
        const flags = Object.fromEntries(Object.entries({ name, ...rest }).filter(([, v]) => v !== undefined));
        let config: ReturnType<typeof resolveLabConfig>;
        try {
          config = resolveLabConfig(flags, env === undefined ? {} : { NOMAD_LAB_NAME: env });
        } catch (e) {
          return expectUsageRefusal(e);
        }
        return labOk(config.spec);
      },
      runs(1000),
    );
  });

  it('wrote nothing: no lab under the lab root, no file but the cases (the loader is pure; a refusal leaves no partial lab)', () => {
    expectNothingWritten(box);
  });
});
