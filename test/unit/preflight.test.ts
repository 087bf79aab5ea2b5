// Unit: which existing routes make a lab subnet unusable (pure part of the preflight).
import { describe, expect, it } from 'vitest';
import { conflictingRoutes } from '../../harness/lab/preflight.ts';
import { planLab } from '../../harness/lab/topology.ts';

const plan = planLab({ name: 'default', servers: 1, clients: 2, datacenter: 'dc1', subnet: '198.18.42.0/24' });
const other = planLab({ name: 'other', servers: 1, clients: 2, datacenter: 'dc1', subnet: '198.18.43.0/24' });

describe('conflictingRoutes', () => {
  it('ignores the default route, our unreachable route and other labs', () => {
    expect(
      conflictingRoutes(
        [
          { dst: 'default', dev: 'eth0' },
          { type: 'unreachable', dst: '198.18.0.0/15', protocol: '250' },
          { dst: other.subnet, dev: other.bridge },
          { dst: '192.0.2.0/24', dev: 'eth0' },
        ],
        plan,
      ),
    ).toEqual([]);
  });
  it('flags a foreign route in the subnet or anywhere in the lab range', () => {
    const blackhole = { type: 'blackhole', dst: '198.18.42.0/24' };
    const fakeIp = { dst: '198.18.0.0/15', dev: 'utun0' };
    expect(conflictingRoutes([blackhole, fakeIp], plan)).toEqual([blackhole, fakeIp]);
  });
});
