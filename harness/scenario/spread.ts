// The seed's bench test "Healthy task that has not expired" (seeds/bench-test-disconnected-clients.md):
// two allocations on two clients; partition the client of one; it goes unknown and is replaced on
// the other client; heal; the original runs again with a Reconnected event, the replacement stops.
import type { Expectations } from '../check/expectations.ts';
import type { Recorder } from '../trace/recorder.ts';
import type { Scenario } from './types.ts';

const SEED = 'seeds/bench-test-disconnected-clients.md';
const summaryLabels = { job: 'spread', task_group: 'cache' };

export const spreadExpectations: Expectations = {
  distinctNodes: { roles: ['cache[0]#1', 'cache[1]#1'], source: `${SEED}: "Make sure you have 2 allocs and they are on *different* clients"` },
  partitionTarget: 'cache[0]#1',
  transitions: [
    {
      subject: { alloc: 'cache[0]#1' },
      field: 'client',
      sequence: ['running', 'unknown', 'running'],
      source: `${SEED}: "one of the allocs transition to \`unknown\`" ... "wait for \`unknown\` alloc to transition to \`running\`"; NOMAD-FACTS 1.3 (max_client_disconnect, reconnect before expiry)`,
    },
    {
      subject: { alloc: 'cache[0]#2' },
      field: 'client',
      sequence: ['running', 'complete'],
      source: `${SEED}: "a new alloc spun up on the other client" ... "the replacement alloc to transition to \`complete\`"`,
    },
    {
      subject: { alloc: 'cache[0]#2' },
      field: 'desired',
      sequence: ['run', 'stop'],
      source: `${SEED}: final allocation table, replacement "stop complete"; NOMAD-FACTS 1.4 (best_score ties keep the original)`,
    },
    {
      subject: { nodeOf: 'cache[0]#1' },
      field: 'node',
      sequence: ['ready', 'disconnected', { status: 'initializing', optional: true }, 'ready'],
      source: 'NOMAD-FACTS 0.1 and 0.3: disconnected (not down) while an alloc qualifies; reconnect goes disconnected -> initializing -> ready (strict reconnect, >= 1.5.0)',
    },
  ],
  never: [
    { subject: { alloc: 'cache[0]#1' }, field: 'client', value: 'lost', source: 'NOMAD-FACTS 1.3: lost only when max_client_disconnect (1h) expires' },
    { subject: { alloc: 'cache[1]#1' }, field: 'client', value: 'unknown', source: `${SEED}: the other allocation stays "run running" throughout` },
    { subject: { alloc: 'cache[1]#1' }, field: 'client', value: 'lost', source: `${SEED}: the other allocation stays "run running" throughout` },
  ],
  placements: [
    { subject: { alloc: 'cache[0]#2' }, otherNodeThan: 'cache[0]#1', replaces: 'cache[0]#1', source: `${SEED}: "a new alloc spun up on the other client"; NOMAD-FACTS 1.3 (PreviousAllocation links the replacement)` },
  ],
  metrics: [
    { name: 'nomad.nomad.job_summary.unknown', labels: summaryLabels, sequence: [0, 1, 0], source: `${SEED}: "Check the metrics output": Value 1 while partitioned, 0 after the reconnect` },
  ],
  taskEvents: [
    { subject: { alloc: 'cache[0]#1' }, type: 'Reconnected', message: 'Client reconnected', after: 'heal', source: `${SEED}: "Reconnected  Client reconnected" in nomad alloc status` },
  ],
  notBefore: [
    { subject: { alloc: 'cache[0]#1' }, field: 'client', value: 'unknown', notBefore: 'partition', source: 'LAB-TRAPS "Nomad under test": lower bounds are assertions' },
    { subject: { nodeOf: 'cache[0]#1' }, field: 'node', value: 'disconnected', notBefore: 'partition', source: 'LAB-TRAPS "Nomad under test": lower bounds are assertions' },
  ],
};

export const spread: Scenario = {
  name: 'spread',
  summary: 'healthy task not expired: partition one client, the alloc goes unknown and is replaced; heal, it reconnects and the replacement stops',
  jobFile: 'spread.nomad.hcl',
  jobId: 'spread',
  lab: { servers: 1, clients: 2 },
  roles: { original: 'cache[0]#1', replacement: 'cache[0]#2', others: ['cache[1]#1'] },
  expectations: spreadExpectations,
  async run(ctx) {
    const summary = (value: number) => (r: Recorder) => r.metric('nomad.nomad.job_summary.unknown', summaryLabels) === value;

    await ctx.step('register job', () => ctx.registerJob('spread.nomad.hcl'));
    const placed = await ctx.await('both allocations running', (r) => ['cache[0]#1', 'cache[1]#1'].every((role) => r.byRole(role)?.client === 'running'), 60_000);
    if (!placed) return;
    const original = ctx.recorder.byRole('cache[0]#1')!;
    const other = ctx.recorder.byRole('cache[1]#1')!;
    if (original.node === other.node) {
      ctx.log(`both allocations landed on ${original.node}: the precondition fails, so the verdict is unknown`);
      return;
    }
    const target = ctx.host(original.node);
    // Once Nomad has given up on the original (lost: no disconnect setting honoured) or the node
    // went down, waiting for unknown or a reconnect is pointless: say so and move on.
    const originalGone = (r: Recorder) => {
      const a = r.byRole('cache[0]#1');
      return a && (a.client === 'lost' || a.client === 'complete' || a.client === 'failed') ? `cache[0]#1 is ${a.client}` : undefined;
    };
    const nodeDown = (r: Recorder) => (r.nodes.get(target.name) === 'down' ? `${target.name} is down, not disconnected` : undefined);

    await ctx.partition(target);
    await ctx.await(`${target.name} disconnected`, (r) => r.nodes.get(target.name) === 'disconnected', 30_000, nodeDown);
    await ctx.await('cache[0]#1 unknown', (r) => r.byRole('cache[0]#1')?.client === 'unknown', 30_000, originalGone);
    await ctx.await('replacement cache[0]#2 running', (r) => r.byRole('cache[0]#2')?.client === 'running', 30_000);
    await ctx.await('job_summary.unknown = 1', summary(1), 15_000, originalGone);

    await ctx.heal(target);
    await ctx.await('cache[0]#1 running with a Reconnected event', (r) => {
      const a = r.byRole('cache[0]#1');
      return a?.client === 'running' && a.taskEvents.includes('Reconnected');
    }, 60_000, originalGone);
    await ctx.await('replacement cache[0]#2 stopped and complete', (r) => {
      const a = r.byRole('cache[0]#2');
      return a?.desired === 'stop' && a.client === 'complete';
    }, 60_000, originalGone);
    await ctx.await(`${target.name} ready`, (r) => r.nodes.get(target.name) === 'ready', 60_000);
    await ctx.await('job_summary.unknown = 0', summary(0), 15_000);
  },
};
