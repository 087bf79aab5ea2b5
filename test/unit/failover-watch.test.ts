// Unit: what a partial partition's failover watch leaves in the trace (harness/faults/servers.ts,
// failoverRecord), and the scenario field that asks for the failover (`failoverWithin`, only with `from`).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidFileError } from '../../harness/config/user-files.ts';
import { failoverRecord, FAILOVER_WATCH_MS } from '../../harness/faults/servers.ts';
import { loadScenarioFile } from '../../harness/scenario/load.ts';
import { MINIMAL_SCENARIO } from './minimal-scenario.ts';

describe('the failover watch of a partial partition', () => {
  it('records a failover seen as a wait that held, asked for or not', () => {
    expect(failoverRecord({ seen: true, stoppedBy: undefined, askedWithinMs: undefined })).toEqual({ kind: 'await', ok: true });
    expect(failoverRecord({ seen: true, stoppedBy: 'heal', askedWithinMs: 30_000 })).toEqual({ kind: 'await', ok: true });
  });

  it('notes, never fails, a watch the heal or the run’s end stopped before the failover', () => {
    for (const askedWithinMs of [undefined, 30_000]) {
      expect(failoverRecord({ seen: false, stoppedBy: 'heal', askedWithinMs })).toEqual({ kind: 'note', why: expect.stringContaining('before the heal') });
      expect(failoverRecord({ seen: false, stoppedBy: 'cleanup', askedWithinMs })).toEqual({ kind: 'note', why: 'not seen before the run ended' });
    }
  });

  it('fails a failover not seen within the bound only when the scenario asked for it; past the harness’s own bound it is a note', () => {
    expect(failoverRecord({ seen: false, stoppedBy: undefined, askedWithinMs: 30_000 })).toEqual({ kind: 'await', ok: false });
    expect(failoverRecord({ seen: false, stoppedBy: undefined, askedWithinMs: undefined })).toEqual({
      kind: 'note',
      why: expect.stringContaining(`harness's ${FAILOVER_WATCH_MS / 1000}s watch`),
    });
  });
});

describe('failoverWithin in a scenario file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nomad-lab-failover-'));
  const load = (step: string) => {
    const f = join(dir, `s${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(f, MINIMAL_SCENARIO.replace('servers: 1', 'servers: 3').replace('  - do: run_job\n', `  - do: run_job\n${step}`));
    return () => loadScenarioFile(f);
  };
  it('is taken with from, and refused without it or with a bad duration', () => {
    const s = load('  - do: partition\n    clientOf: "cache[0]#1"\n    from: { servers: 2 }\n    failoverWithin: 50s\n')();
    expect(s.steps.find((x) => x.do === 'partition')).toMatchObject({ failoverWithin: '50s' });
    expect(load('  - do: partition\n    clientOf: "cache[0]#1"\n    failoverWithin: 50s\n')).toThrow(InvalidFileError);
    expect(load('  - do: partition\n    clientOf: "cache[0]#1"\n    from: { servers: 2 }\n    failoverWithin: soon\n')).toThrow(InvalidFileError);
  });
});
