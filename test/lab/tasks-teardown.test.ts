// Lab (root, real agents; runs in CI): raw_exec tasks and their `nomad executor` outlive a crashed
// agent by design; `lab down` must still end them and leave no process, mount or cgroup behind.
import { describe, expect, it } from 'vitest';
import { identify, isAlive } from '../../harness/exec/procs.ts';
import { processesUnder, auditLeaks } from '../../harness/lab/audit.ts';
import { existsSync } from 'node:fs';
import { cgroupsOf } from '../../harness/lab/cgroups.ts';
import { signal } from '../../harness/lab/agents.ts';
import { serverApi } from '../../harness/lab/netns-lab.ts';
import { readState } from '../../harness/lab/store.ts';
import { poll } from '../../harness/util/poll.ts';
import { isRoot, labCli, ownsLab } from './support.ts';

const name = 't-tasks';

const sleeper = {
  ID: 'sleeper',
  Name: 'sleeper',
  Type: 'service',
  Datacenters: ['dc1'],
  TaskGroups: [
    {
      Name: 'sleep',
      Count: 2,
      Tasks: [{ Name: 'sleep', Driver: 'raw_exec', Config: { command: '/bin/sleep', args: ['3600'] }, Resources: { CPU: 50, MemoryMB: 32 } }],
    },
  ],
};

describe.skipIf(!isRoot)('teardown ends tasks that outlive their agents', () => {
  ownsLab(name);

  it('after every agent is SIGKILLed, lab down still kills tasks and executors and removes their cgroups', async () => {
    const up = await labCli(['up', '--lab', name]);
    expect(up.exitCode, up.stderr).toBe(0);
    const state = readState(name)!;
    const api = serverApi(state.plan);
    await api.registerJob(sleeper);
    await poll(
      () => api.allocations(),
      (allocs) => allocs.filter((a) => a.ClientStatus === 'running').length === 2,
      { what: 'two running sleeper allocations', timeoutMs: 60_000 },
    );
    const tasks = processesUnder(state.dir)
      .filter((p) => p.argv[0] === '/bin/sleep' || p.argv.includes('executor'))
      .map((p) => ({ ...p, id: identify(p.pid)! }));
    // A killed process whose parent is gone may stay a zombie here (PID 1 does not reap): dead all the same.
    const living = () => tasks.filter((t) => isAlive(t.id));
    expect(tasks.filter((p) => p.argv[0] === '/bin/sleep').length).toBe(2);
    expect(tasks.filter((p) => p.argv.includes('executor')).length).toBe(2);
    // raw_exec's executor puts each task in a Nomad cgroup of its own (v1 freezer here).
    const taskCgroups = tasks.filter((p) => p.argv[0] === '/bin/sleep').flatMap((p) => cgroupsOf(p.pid));
    expect(taskCgroups.length).toBeGreaterThanOrEqual(2);

    // A crash of every agent: the API is gone, the tasks and executors live on.
    for (const a of state.agents) signal(a.pid, 'SIGKILL');
    await poll(
      async () => state.agents.filter((a) => isAlive(a)).length,
      (n) => n === 0,
      { what: 'agents gone', timeoutMs: 10_000 },
    );
    expect(living().length).toBe(4);

    const down = await labCli(['down', '--lab', name]);
    expect(down.exitCode, `${down.stdout}\n${down.stderr}`).toBe(0);
    expect(living()).toEqual([]);
    expect(taskCgroups.filter((c) => existsSync(c))).toEqual([]);
    expect(await auditLeaks(name)).toEqual([]);
  }, 170_000);
});
