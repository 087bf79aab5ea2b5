// Lab (root; runs in CI): the preflight refuses a lab whose addresses a route already uses, names the
// route and the fix, exits 2, and creates nothing.
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { labDir } from '../../harness/config/paths.ts';
import { run } from '../../harness/exec/local.ts';
import { auditLeaks } from '../../harness/lab/audit.ts';
import { planLab } from '../../harness/lab/topology.ts';
import { isRoot, labCli } from './support.ts';

const name = 't-pre';
const plan = planLab({ name, servers: 1, clients: 2, datacenter: 'dc1' });

describe.skipIf(!isRoot)('preflight', () => {
  afterAll(async () => {
    await run(['ip', 'route', 'del', 'blackhole', plan.subnet], { check: false });
  });

  it('refuses a subnet that a route already uses, with the route and the fix, and leaves nothing', async () => {
    // A blackhole route: it sends nothing anywhere, so the test itself cannot leak traffic.
    await run(['ip', 'route', 'add', 'blackhole', plan.subnet]);
    const up = await labCli(['up', '--lab', name]);
    expect(up.exitCode).toBe(4); // the machine is not fit: an infrastructure error
    expect(up.stderr).toContain('preflight found 1 problem(s); nothing was created');
    expect(up.stderr).toContain(`blackhole ${plan.subnet}`);
    expect(up.stderr).toMatch(/fix: .*--subnet/);
    expect(up.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(existsSync(labDir(name))).toBe(false);
    expect(await auditLeaks(name)).toEqual([]);
  }, 60_000);

  it('refuses to run without root, before touching anything', async () => {
    // As uid 65534 in a user namespace of its own: the harness sees a user that is not root, while the
    // files stay readable as they are to root. (setpriv --reuid would need the checkout readable by
    // nobody, which a clone under /root, mode 0700, is not: the fresh-machine check found that.)
    const r = await run(['unshare', '--user', '--map-user=65534', '--map-group=65534', 'node', 'bin/nomad-lab.js', 'lab', 'up', '--lab', name], {
      check: false,
      cwd: process.cwd(),
    });
    expect(r.exitCode).toBe(4);
    expect(r.stderr).toContain('netns labs need root');
    expect(existsSync(labDir(name))).toBe(false);
  }, 60_000);
});
