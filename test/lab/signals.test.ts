// Lab (root, real agents; runs in CI): a `lab up` interrupted by SIGINT or SIGTERM tears down at
// once; one killed by SIGKILL is cleaned by the next command.
import { describe, expect, it } from 'vitest';
import { auditLeaks } from '../../harness/lab/audit.ts';
import { readState } from '../../harness/lab/store.ts';
import { isRoot, labCli, ownsLab, startLabCli, waitForOutput } from './support.ts';

const name = 't-sig';

describe.skipIf(!isRoot)('teardown when lab up is interrupted', () => {
  ownsLab(name);

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} while the agents start: torn down before the command exits, exit code 128+n (${signal === 'SIGINT' ? 130 : 143})`, async () => {
      const running = startLabCli(['up', '--lab', name]);
      await waitForOutput(running, /started 3 agents/);
      expect(readState(name)?.agents.length).toBe(3);
      running.child.kill(signal);
      const { code } = await running.exited;
      expect(code).toBe(signal === 'SIGINT' ? 130 : 143);
      expect(running.stderr()).toContain(`interrupted by ${signal}`);
      expect(running.stderr()).toContain(`lab ${name} torn down`);
      expect(await auditLeaks(name)).toEqual([]);
    }, 150_000);
  }

  it('SIGKILL while the agents start: the leftovers are there, and the next command cleans them', async () => {
    const running = startLabCli(['up', '--lab', name]);
    await waitForOutput(running, /started 3 agents/);
    running.child.kill('SIGKILL');
    await running.exited;
    const left = await auditLeaks(name);
    // Agents, namespaces, links and the lab directory outlive a killed harness.
    expect(left.map((l) => l.kind)).toEqual(expect.arrayContaining(['netns', 'link', 'process', 'directory']));

    const next = await labCli(['status', '--lab', name]);
    expect(next.stderr).toMatch(new RegExp(`cleaned leftovers of lab ${name} \\(left by process \\d+ while creating\\)`));
    expect(await auditLeaks(name)).toEqual([]);
  }, 150_000);
});
