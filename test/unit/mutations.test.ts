// Unit: the oracle's own test. Every Nomad misbehaviour in harness/check/mutations.ts, applied to the
// committed passing real run of every catalog scenario, must be killed: a fail (unknown for a gap in
// the recording). A mutant that passes is a hole in the oracle, and fails this test.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MUTATIONS, matrixProblems } from '../../harness/check/mutations.ts';
import { mutateRunDir, passingFixtures } from '../../harness/cli/mutate.ts';
import { scenarioNames } from '../../harness/scenario/load.ts';

const runs = passingFixtures();
const rows = runs.map(mutateRunDir);

describe('trace mutation', () => {
  it('every catalog scenario has a committed passing real run to mutate', () => {
    const covered = new Set(runs.map((dir) => (JSON.parse(readFileSync(join(dir, 'fixture.json'), 'utf8')) as { scenario?: string }).scenario));
    expect(scenarioNames().filter((s) => !covered.has(s))).toEqual([]);
  });

  for (const row of rows) {
    it(`${row.run}: the unmutated run passes, and every applicable mutant is killed`, () => {
      expect(row.base).toBe('pass');
      expect(matrixProblems([row])).toEqual([]);
    });
  }

  it('every mutation applies to at least one run (none is dead weight)', () => {
    for (const m of MUTATIONS) {
      const applied = rows.filter((r) => r.cells.find((c) => c.mutation === m.name)!.verdict !== 'n/a').map((r) => r.run);
      expect(applied, m.name).not.toEqual([]);
    }
  });

  it('a killed mutant names what Nomad did: the extra allocation, the restart, the missing initializing', () => {
    const spread = rows.find((r) => r.scenario === 'spread')!;
    const reason = (m: string) => spread.cells.find((c) => c.mutation === m)!.reasons.join('\n');
    expect(reason('extra-allocation')).toMatch(/unexpected allocation cache\[0\]#3: .*created at index \d+, [\d.]+s after the heal/);
    expect(reason('duplicate-replacement')).toMatch(/unexpected allocation cache\[0\]#3: .*PreviousAllocation cache\[0\]#1/);
    expect(reason('original-restarted')).toMatch(/restarted after the partition .*"Restarting" event/);
    expect(reason('no-initializing')).toMatch(/no initializing/);
    // A real expiry while initializing (a TTL + grace after it) is not Nomad's timer race: it fails.
    expect(reason('ready-through-down')).toMatch(
      /turns ready only after cache\[0\]#1 is running again: cache\[0\]#1 running again at index [\d.]+ .*; client\d ready at index [\d.]+/,
    );
    expect(reason('ready-through-down')).not.toMatch(/timer race/);
    expect(reason('stream-gap')).toMatch(/event stream missed indexes \d+\.\.\d+/);
  });

  it("the replacement's timing is held per release: flipped, the #18701 delay check kills it on 1.6.0 and on 1.6.3", () => {
    const cell = (run: string) => rows.find((r) => r.run === run)!.cells.find((c) => c.mutation === 'replacement-timing-flipped')!;
    // 1.6.0 replaced at once; the mutant comes 6 s late.
    expect(cell('spread-pass').reasons.join('\n')).toMatch(
      /delay: cache\[0\]#1 unknown -> cache\[0\]#2 created takes at most 2s: .*took 6\.000s, more than 2s/,
    );
    // 1.6.3 waited for the reschedule delay; the mutant comes at once.
    expect(cell('spread-1.6.3-pass').reasons.join('\n')).toMatch(
      /delay: cache\[0\]#1 unknown -> cache\[0\]#2 created takes at least reschedule_delay: .*took 0\.000s, less than 4\.5s/,
    );
  });

  it('a replacement during an active deployment on 1.6.3 is killed as the allocation #18701 forbids', () => {
    const cell = rows.find((r) => r.run === 'deploy-cut-pass')!.cells.find((c) => c.mutation === 'replacement-placed')!;
    expect(cell.verdict).toBe('fail');
    expect(cell.reasons.join('\n')).toMatch(/absent: no cache\[0\]#2: expected no cache\[0\]#2, observed cache\[0\]#2/);
  });

  it('npm run mutate runs offline on a run directory given to it', () => {
    const dir = runs[0]!;
    expect(existsSync(join(dir, 'trace.ndjson'))).toBe(true);
    expect(mutateRunDir(dir).run).toBe(basename(dir));
  });
});
