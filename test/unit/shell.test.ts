// Unit: which command opens a shell on a lab host (harness/lab/shell.ts), from a lab's state: argv,
// environment, the hint for scripts, and the errors for unknown hosts and labs that are not up.
import { describe, expect, it } from 'vitest';
import { shellCommandFor } from '../../harness/lab/shell.ts';
import { labRequest, shellOn } from '../../harness/lab/labs.ts';
import type { LabState } from '../../harness/lab/store.ts';
import { planLab } from '../../harness/lab/topology.ts';
import { UsageError } from '../../harness/util/errors.ts';

const plan = planLab({ name: 't-unit-shell', servers: 1, clients: 2, datacenter: 'dc1', subnet: '198.19.201.0/24' });
const state = (phase: LabState['phase'] = 'up') =>
  ({
    version: 1,
    provider: 'netns',
    plan,
    phase,
    persistent: true,
    agents: [],
    nomad: { path: '/opt/nomad-1.6.3/nomad', version: '1.6.3', source: 'flag' },
  }) as unknown as LabState;

describe('lab shell on a netns lab', () => {
  it("is bash inside the host's namespace, with the host's API as NOMAD_ADDR and a prompt that names lab and host", () => {
    const client1 = plan.hosts.find((h) => h.name === 'client1')!;
    const shell = shellCommandFor(state(), 'client1', {});
    expect(shell.argv).toEqual(['nsenter', `--net=/run/netns/${client1.netns}`, '--', 'bash']);
    expect(shell.env['NOMAD_ADDR']).toBe(`http://${client1.ip}:4646`);
    expect(shell.env['PS1']).toBe(`[t-unit-shell/client1 ${client1.ip}] \\w\\$ `);
    // rc files overwrite PS1; PROMPT_COMMAND sets it again before every prompt.
    expect(shell.env['PROMPT_COMMAND']).toBe(`PS1='${shell.env['PS1']}'`);
    expect(shell.scriptHint).toBe(`nsenter --net=/run/netns/${client1.netns} -- <command>`);
    expect(shell.host).toBe(client1);
    // The lab's own nomad comes first on PATH, so `nomad node status -self` speaks the lab's version.
    expect(shellCommandFor(state(), 'client1', { PATH: '/usr/bin:/bin' }).env['PATH']).toBe('/opt/nomad-1.6.3:/usr/bin:/bin');
  });

  it('keeps the lab subnet off any proxy, adding to the NO_PROXY it had', () => {
    expect(shellCommandFor(state(), 'server1', {}).env['NO_PROXY']).toBe('198.19.201.0/24');
    expect(shellCommandFor(state(), 'server1', { no_proxy: 'localhost' }).env['no_proxy']).toBe('localhost,198.19.201.0/24');
  });

  it('an unknown host: a usage error that lists the lab hosts', () => {
    expect(() => shellCommandFor(state(), 'client9', {})).toThrow(UsageError);
    expect(() => shellCommandFor(state(), 'client9', {})).toThrow(
      `lab t-unit-shell has no host named "client9"; its hosts: server1 (server, 198.19.201.11), client1 (client, 198.19.201.21), client2 (client, 198.19.201.22)`,
    );
  });

  it('a lab that is not up, or not there, is a usage error', async () => {
    expect(() => shellCommandFor(state('destroying'), 'client1', {})).toThrow(/lab t-unit-shell is destroying, not up/);
    const before = process.env['NOMAD_LAB_ROOT'];
    process.env['NOMAD_LAB_ROOT'] = '/nonexistent/nomad-lab-unit';
    try {
      await expect(shellOn(labRequest({ lab: 't-unit-nope' }), 'client1')).rejects.toThrow(/no lab named t-unit-nope on this machine/);
    } finally {
      if (before === undefined) delete process.env['NOMAD_LAB_ROOT'];
      else process.env['NOMAD_LAB_ROOT'] = before;
    }
  });
});

describe('lab shell on a lab with ACLs', () => {
  it('sets NOMAD_TOKEN to the management token; a lab without ACLs gets none', () => {
    const acl = { ...state(), plan: { ...state().plan, acl: true } };
    expect(shellCommandFor(acl, 'client1', {}, 'secret-management-token').env['NOMAD_TOKEN']).toBe('secret-management-token');
    expect(shellCommandFor(state(), 'client1', {}).env['NOMAD_TOKEN']).toBeUndefined();
  });
});
