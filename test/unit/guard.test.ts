// Unit: the harness contacts only loopback and addresses of a lab whose bridge is up.
import { describe, expect, it } from 'vitest';
import { labGuard } from '../../harness/lab/guard.ts';
import { planLab } from '../../harness/lab/topology.ts';

// A lab that is not up on this machine: its bridge does not exist.
const plan = planLab({ name: 'guard-test-not-up', servers: 1, clients: 2, datacenter: 'dc1', subnet: '198.18.250.0/24' });

describe('labGuard', () => {
  it('allows loopback', () => {
    expect(() => labGuard(plan)('127.0.0.1')).not.toThrow();
  });
  it('refuses addresses outside the lab subnet, including the VM lab network', () => {
    expect(() => labGuard(plan)('192.168.56.11')).toThrow(/not in lab guard-test-not-up's subnet/);
    expect(() => labGuard(plan)('198.18.251.11')).toThrow(/not in lab/);
  });
  it('refuses lab addresses when the lab bridge is gone', () => {
    expect(() => labGuard(plan)('198.18.250.11')).toThrow(/bridge nl[0-9a-f]{5}-br is gone/);
  });
});
