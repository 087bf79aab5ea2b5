// Lab (root, real agents): `scenario <names...> --parallel 2` through the real CLI runs the scenarios on
// two netns labs at once, each its own name and subnet, prints results in catalog order and leaves
// nothing behind; SIGINT (Ctrl-C) or SIGTERM while both labs are up tears both down and exits 128+n.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { auditLeaks } from '../../harness/lab/audit.ts';
import { readState } from '../../harness/lab/store.ts';
import { readTrace } from '../../harness/trace/writer.ts';
import { isRoot, labCli, nomadLabCli, ownsLab, startLabCli } from './support.ts';

const reports = mkdtempSync(join(tmpdir(), 'nomad-lab-parallel-'));
const base = 'p1-par';
const labs = [`${base}-1`, `${base}-2`];
// One lab pair per signal, so a leftover of one test cannot pass for the other's.
const SIGNALS = [
  { signal: 'SIGINT', code: 130, base: 'p1-psig' },
  { signal: 'SIGTERM', code: 143, base: 'p1-pterm' },
] as const;
const pairOf = (b: string) => [`${b}-1`, `${b}-2`];

/** The lab a run used, as its trace's run header recorded it. */
function runHeaderLab(runDir: string): { name: string; subnet: string } {
  const run = readTrace(join(runDir, 'trace.ndjson')).find((e) => e.kind === 'run');
  if (run?.kind !== 'run') throw new Error(`no run header in ${runDir}/trace.ndjson`);
  return { name: run.run.lab.name, subnet: run.run.lab.subnet };
}

async function expectClean(names: string[]): Promise<void> {
  for (const name of names) {
    const audit = await labCli(['audit', '--lab', name]);
    expect(audit.exitCode, audit.stdout + audit.stderr).toBe(0);
    expect(audit.stdout).toContain(`leak audit clean for lab ${name}`);
    expect(await auditLeaks(name)).toEqual([]);
    expect(readState(name)).toBeUndefined();
  }
}

describe.skipIf(!isRoot)('scenario --parallel 2 on real agents', () => {
  for (const name of [...labs, ...SIGNALS.flatMap((x) => pairOf(x.base))]) ownsLab(name);

  afterAll(() => {
    rmSync(reports, { recursive: true, force: true });
  });

  it('runs three scenarios on two labs at once: each passes, two labs with two subnets, results in catalog order, nothing left', async () => {
    const r = await nomadLabCli('scenario', ['spread', 'full-cut', 'control', '--parallel', '2', '--lab', base, '--reports', reports, '--json'], {
      timeoutMs: 600_000,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const runs = JSON.parse(r.stdout) as Array<{ scenario: string; verdict: string; runDir: string }>;
    // Catalog order (by name), whatever order the runs ended in.
    expect(runs.map((x) => x.scenario)).toEqual(['control', 'full-cut', 'spread']);
    expect(runs.map((x) => x.verdict)).toEqual(['pass', 'pass', 'pass']);
    const used = runs.map((x) => runHeaderLab(x.runDir));
    expect(new Set(used.map((u) => u.name))).toEqual(new Set(labs));
    const subnetOf = new Map(used.map((u) => [u.name, u.subnet]));
    expect(subnetOf.size).toBe(2);
    expect(new Set(subnetOf.values()).size).toBe(2);
    // The progress lines of the runs are told apart by their scenario.
    for (const name of ['control', 'full-cut', 'spread']) expect(r.stderr).toMatch(new RegExp(`^\\[\\s*[\\d.]+s\\] \\[${name}\\] `, 'm'));
    expect(r.stderr).toMatch(/2 labs side by side: p1-par-1 \(198\.\d+\.\d+\.0\/24\), p1-par-2 \(198\.\d+\.\d+\.0\/24\)/);
    // The catalog report as for a serial batch: summary.json with the runs in the same order.
    const catalogDirs = readdirSync(join(reports, 'catalog'));
    expect(catalogDirs).toHaveLength(1);
    const catalog = join(reports, 'catalog', catalogDirs[0]!);
    for (const f of ['junit.xml', 'summary.md', 'summary.json']) expect(existsSync(join(catalog, f))).toBe(true);
    const summary = JSON.parse(readFileSync(join(catalog, 'summary.json'), 'utf8')) as { runs: Array<{ scenario: string }>; labs: number };
    expect(summary.runs.map((x) => x.scenario)).toEqual(['control', 'full-cut', 'spread']);
    expect(summary.labs).toBe(2);
    await expectClean(labs);
  }, 660_000);

  for (const { signal, code: expected, base: sigBase } of SIGNALS) {
    it(`${signal} while both labs are up: both torn down, exit ${expected}, nothing left`, async () => {
      const sigLabs = pairOf(sigBase);
      const running = startLabCli(['spread', 'control', '--parallel', '2', '--lab', sigBase, '--reports', reports], 'scenario');
      // Both runs have their lab up (the state file says so once every agent is ready).
      const bothUp = () => sigLabs.every((name) => readState(name)?.phase === 'up');
      const deadline = Date.now() + 240_000;
      while (!bothUp()) {
        if (Date.now() > deadline) throw new Error(`both labs were not up within 240 s:\n${running.stderr()}`);
        if (running.child.exitCode !== null) throw new Error(`CLI exited (${running.child.exitCode}) before both labs were up:\n${running.stderr()}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      running.child.kill(signal);
      const { code } = await running.exited;
      expect(code, running.stderr()).toBe(expected);
      expect(running.stderr()).toContain(`interrupted by ${signal}`);
      await expectClean(sigLabs);
    }, 400_000);
  }
});
