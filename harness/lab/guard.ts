// The rule that keeps lab traffic on this machine: the harness contacts only loopback and addresses
// of a lab subnet whose bridge is up right now.
import { HarnessError } from '../util/errors.ts';
import { linkExists } from './network.ts';
import { cidrContains, type HostPlan, type LabPlan } from './topology.ts';
import { NomadApi, type TargetGuard } from '../nomad/api.ts';
import { readToken, type TokenKind } from './acl.ts';
import { labTls } from './tls.ts';

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

/**
 * The HTTP API of one lab host, behind the lab's guard; on a lab with ACLs it carries the harness's
 * scoped token (or the management token, or none, when asked); on a lab with TLS it speaks HTTPS,
 * checks the agent's certificate against the lab's CA and presents the CLI's certificate.
 */
export function hostApi(plan: LabPlan, host: HostPlan, token: TokenKind | 'none' = 'harness'): NomadApi {
  return new NomadApi(`${host.ip}:4646`, labGuard(plan), host.name, token === 'none' ? undefined : readToken(plan, token), labTls(plan));
}
