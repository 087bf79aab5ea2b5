// Lab (root, real agents and namespaces; runs in CI, about 3 minutes): a link profile's loss in a
// real client namespace: the rules listed, the loss measured by real TCP connects to the server's RPC
// port within the binomial bound, the checker's verdict on that trace, the restore; the cleanup that
// runs after a failed run and on SSH labs; and a scenario run SIGKILLed during its degrade, whose
// rules outlive it until the next command cleans the lab.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { linkFaultsTookEffect } from '../../harness/check/link-faults.ts';
import { run } from '../../harness/exec/local.ts';
import { clearLinkFaults, linkFaultsOn } from '../../harness/faults/link-apply.ts';
import { loadProfile } from '../../harness/faults/profiles.ts';
import { auditLeaks } from '../../harness/lab/audit.ts';
import { NetnsDriver } from '../../harness/lab/driver.ts';
import { readState, type LabState } from '../../harness/lab/store.ts';
import { linkActions, type AppliedLink } from '../../harness/scenario/link-steps.ts';
import { normalise } from '../../harness/trace/normalise.ts';
import { TraceWriter } from '../../harness/trace/writer.ts';
import type { Positioned } from '../../harness/trace/types.ts';
import { isRoot, labCli, ownsLab, startLabCli, waitForOutput } from './support.ts';

const lab = 'h5-lf';
const killed = 'h5-lk';
const reports = mkdtempSync(join(tmpdir(), 'nomad-lab-h5-reports-'));

describe.skipIf(!isRoot)('link faults in real namespaces', () => {
  ownsLab(lab);
  ownsLab(killed);
  afterAll(() => rmSync(reports, { recursive: true, force: true }));

  /** The lab's driver and the link actions on it, writing a trace of their own. */
  const setUp = () => {
    const state = readState(lab) as LabState;
    const driver = new NetnsDriver(state.plan);
    const trace = new TraceWriter(mkdtempSync(join(reports, 'trace-')));
    const links = new Map<string, AppliedLink>();
    const serverIps = driver.hosts.filter((h) => h.role === 'server').map((h) => h.ip);
    const actions = linkActions({
      lab: driver,
      trace,
      log: () => undefined,
      serverIps,
      links,
      partition: () => Promise.reject(new Error('no partition in this test')),
      heal: () => Promise.reject(new Error('no heal in this test')),
      sleepUntil: async () => undefined,
      readDeployments: async () => undefined,
    });
    const client = driver.hosts.find((h) => h.role === 'client')!;
    const exec = (argv: string[], o?: { check?: boolean }) => driver.exec(client, argv, o);
    return { driver, trace, links, actions, client, exec };
  };

  it('30% loss each way: the rules listed, 51% of the connects fail (within the bound), the checker passes it, the restore frees the link', async () => {
    const up = await labCli(['up', '--lab', lab]);
    expect(up.exitCode, up.stderr).toBe(0);
    const { trace, links, actions, client, exec } = setUp();

    await actions.degrade(client, loadProfile('lossy-30'));
    expect(links.has(client.name)).toBe(true);
    const listed = (await exec(['iptables', '-w', '-S'])).stdout;
    expect(listed).toMatch(/-A INPUT -s [\d.]+\/32 -m statistic --mode random --probability 0\.\d+ -m comment --comment nomad-lab-link -j DROP/);
    expect(listed).toMatch(/-A OUTPUT -d [\d.]+\/32 -m statistic --mode random --probability 0\.\d+ -m comment --comment nomad-lab-link -j DROP/);
    const probe = trace.events.find((e) => e.kind === 'link-probe' && e.after === 'degrade');
    expect(probe).toMatchObject({ kind: 'link-probe', sent: 60, expectedRate: expect.closeTo(0.51, 5) });
    const dropped = (probe as { dropped: number }).dropped;
    // A real drop, not a cut and not nothing: the binomial bound at z = 4 is 15..47 of 60.
    expect(dropped).toBeGreaterThanOrEqual(15);
    expect(dropped).toBeLessThanOrEqual(47);

    await actions.restore(client);
    expect(links.has(client.name)).toBe(false);
    expect(await linkFaultsOn(exec)).toEqual([]);
    const after = trace.events.find((e) => e.kind === 'link-probe' && e.after === 'restore') as { dropped: number; sent: number };
    expect(after.sent).toBe(60);
    expect(after.dropped).toBeLessThanOrEqual(6);

    const positioned = trace.events.map((e, i) => ({ ...e, line: i + 1 })) as Positioned[];
    const [verdict] = linkFaultsTookEffect(positioned, normalise(positioned));
    expect(verdict).toMatchObject({ verdict: 'pass', check: `fault: profile lossy-30 on ${client.name} took effect` });
  }, 240_000);

  it('the cleanup (a failed run, an SSH lab after a killed one) removes a profile left on, and only its rules', async () => {
    const { actions, client, exec } = setUp();
    // A rule of someone else's that must stay.
    await exec(['iptables', '-w', '-I', 'INPUT', '-s', '192.0.2.7', '-m', 'comment', '--comment', 'not-ours', '-j', 'ACCEPT']);
    await actions.degrade(client, loadProfile('lossy-30'));
    expect((await linkFaultsOn(exec)).length).toBe(2);
    expect(await clearLinkFaults(exec)).toEqual([]);
    const rules = (await exec(['iptables', '-w', '-S'])).stdout;
    expect(rules).not.toContain('nomad-lab-link');
    expect(rules).toContain('not-ours');
    await exec(['iptables', '-w', '-D', 'INPUT', '-s', '192.0.2.7', '-m', 'comment', '--comment', 'not-ours', '-j', 'ACCEPT']);
  }, 120_000);

  it('a scenario SIGKILLed during its degrade: the loss rules outlive it, the next command cleans the lab', async () => {
    const running = startLabCli(['lossy-link', '--reports', reports, '--lab', killed], 'scenario');
    await waitForOutput(running, /degraded client\d/, 200_000);
    const state = readState(killed)!;
    running.child.kill('SIGKILL');
    await running.exited;
    const target = /degraded (client\d)/.exec(running.stderr())![1]!;
    const ns = state.plan.hosts.find((h) => h.name === target)!.netns;
    const rules = await run(['nsenter', `--net=/run/netns/${ns}`, '--', 'iptables', '-w', '-S']);
    expect(rules.stdout).toContain('--comment nomad-lab-link');

    const next = await labCli(['status', '--lab', killed]);
    expect(next.stderr).toMatch(new RegExp(`cleaned leftovers of lab ${killed} \\(left by process \\d+ while up\\)`));
    expect(await auditLeaks(killed)).toEqual([]);
    const gone = await run(['ip', 'netns', 'list']);
    expect(gone.stdout).not.toContain(ns);
  }, 300_000);
});
