// The rule that keeps lab traffic on this machine: the harness contacts only loopback and addresses
// of a lab subnet whose bridge is up right now.
import { HarnessError } from '../util/errors.ts';
import { linkExists } from './network.ts';
import { cidrContains, type LabPlan } from './topology.ts';
import type { TargetGuard } from '../nomad/api.ts';

export function labGuard(plan: LabPlan): TargetGuard {
  return (ip: string) => {
    if (cidrContains('127.0.0.0/8', ip)) return;
    if (!cidrContains(plan.subnet, ip)) {
      throw new HarnessError(`refusing to contact ${ip}: not in lab ${plan.name}'s subnet ${plan.subnet}`);
    }
    if (!linkExists(plan.bridge)) {
      throw new HarnessError(`refusing to contact ${ip}: lab ${plan.name}'s bridge ${plan.bridge} is gone`);
    }
  };
}
