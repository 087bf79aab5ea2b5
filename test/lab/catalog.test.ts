// Lab (root, real agents; runs in CI, about 5 minutes): every scenario of the catalog passes on the
// pinned Nomad, run with --all in reverse order (a local run in name order is in the closing notes).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../harness/config/paths.ts';
import { run } from '../../harness/exec/local.ts';
import { auditLeaks } from '../../harness/lab/audit.ts';
import { scenarioNames } from '../../harness/scenario/load.ts';
import { isRoot, labCli, ownsLab } from './support.ts';

const lab = 't-cat';
const reports = mkdtempSync(join(tmpdir(), 'nomad-lab-catalog-'));

describe.skipIf(!isRoot)('the scenario catalog on real agents', () => {
  ownsLab(lab);
  afterAll(async () => {
    rmSync(reports, { recursive: true, force: true });
  }, 60_000);

  it('--all --order reverse: every scenario passes; the summary lists verdict and wall time of each', async () => {
    const r = await run(['node', '--import', 'tsx', join(repoRoot, 'harness', 'cli', 'scenario.ts'), '--all', '--order', 'reverse', '--lab', lab, '--reports', reports], {
      check: false,
      timeoutMs: 900_000,
      cwd: repoRoot,
    });
    const names = scenarioNames();
    expect(r.exitCode, r.stdout.slice(-3000)).toBe(0);
    for (const name of names) expect(r.stdout).toMatch(new RegExp(`^${name}\\s+PASS\\s+\\d+\\.\\ds$`, 'm'));
    expect(r.stdout).toContain(`${names.length} run(s) of ${names.length} scenario(s): ${names.length} pass, 0 fail, 0 unknown; 0 flipped`);
    // The runs happened in reverse name order.
    const order = [...r.stderr.matchAll(/=== ([a-z-]+)/g)].map((m) => m[1]);
    expect(order).toEqual([...names].reverse());
    const catalog = join(reports, 'catalog');
    const [dir] = readdirSync(catalog);
    const junit = readFileSync(join(catalog, dir!, 'junit.xml'), 'utf8');
    expect(junit.match(/<testcase /g)?.length).toBe(names.length);
    expect(junit).not.toContain('<failure');
    for (const name of names) expect(existsSync(join(reports, name))).toBe(true);
    expect(await auditLeaks(lab)).toEqual([]);
  }, 900_000);
});
