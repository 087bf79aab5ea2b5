// Unit: the netns lab's plan (lab/topology.ts) under hostile specs: names, counts and subnets from
// files, flags and code. Either a plan whose names follow config/names.ts and the kernel's limits, or
// a one-line UsageError.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isName } from '../../harness/config/names.ts';
import { cidrContains, IFNAME_MAX, LAB_RANGE, planLab, type LabSpec } from '../../harness/lab/topology.ts';
import { expectUsageRefusal, fuzz, hostileName, runs } from './fuzz-support.ts';

describe('planLab: fuzzed', () => {
  it('plans names, interfaces and addresses within their rules, or refuses in one line', { timeout: 60_000 }, () => {
    // Valid values most of the time, so that cases reach the plan; the rest anything a caller could pass.
    const weird = fc.constantFrom(0, 10, 201, 1.5, Number.NaN, Infinity, -1, -0);
    const count = (max: number) => fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max }) }, { weight: 1, arbitrary: weird });
    const name = fc.oneof({ weight: 1, arbitrary: hostileName() }, { weight: 3, arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,31}$/) });
    const dc = fc.oneof({ weight: 1, arbitrary: hostileName() }, { weight: 6, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/) });
    const octet = fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 255 }) }, { weight: 1, arbitrary: fc.integer({ min: 256, max: 999 }) });
    const subnet = fc.option(
      fc.oneof(
        { weight: 1, arbitrary: hostileName() },
        {
          weight: 4,
          arbitrary: fc
            .tuple(fc.constantFrom(18, 19, 17, 168), octet, fc.constantFrom(0, 0, 0, 7), fc.constantFrom(24, 24, 24, 16, 33))
            .map(([b, c, d, len]) => `198.${b}.${c}.${d}/${len}`),
        },
      ),
      { nil: undefined },
    );
    const arb = fc.record({
      name,
      servers: count(9),
      clients: count(40),
      datacenter: dc,
      clientDatacenters: fc.option(fc.array(dc, { maxLength: 3 }), { nil: undefined }),
      subnet,
      acl: fc.boolean(),
    });
    fuzz(
      'topology',
      arb,
      (raw) => {
        const spec = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)) as unknown as LabSpec;
        let plan: ReturnType<typeof planLab>;
        try {
          plan = planLab(spec);
        } catch (e) {
          return expectUsageRefusal(e);
        }
        expect(isName('lab', plan.name)).toBe(true);
        expect(plan.hosts).toHaveLength(spec.servers + spec.clients);
        for (const n of [plan.bridge, ...plan.hosts.flatMap((h) => [h.netns, h.vethHost])]) expect(n.length).toBeLessThanOrEqual(IFNAME_MAX);
        for (const h of plan.hosts) {
          expect(isName('host', h.name) && isName('datacenter', h.datacenter)).toBe(true);
          expect(cidrContains(plan.subnet, h.ip) && cidrContains(LAB_RANGE, h.ip)).toBe(true);
        }
        return 'loaded';
      },
      runs(2000),
    );
  });
});
