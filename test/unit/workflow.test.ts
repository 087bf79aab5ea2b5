// Unit: the GitHub Actions workflows validate with @action-validator/cli (schema of workflow files),
// a broken copy does not, and what the nightly workflow names exists in the repository.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repoRoot } from '../../harness/config/paths.ts';
import { run } from '../../harness/exec/local.ts';

const workflows = join(repoRoot, '.github', 'workflows');
const validator = join(repoRoot, 'node_modules', '.bin', 'action-validator');
const validate = (file: string) => run([validator, file], { check: false, cwd: repoRoot });
const scratch = mkdtempSync(join(tmpdir(), 'nomad-lab-workflow-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('GitHub workflows', () => {
  const files = readdirSync(workflows).filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'));

  it('there is a nightly workflow', () => {
    expect(files).toContain('nightly.yml');
  });

  for (const f of files) {
    it(`${f} validates`, async () => {
      const r = await validate(join(workflows, f));
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    });
  }

  it('the validator rejects a workflow whose job lost its runs-on', async () => {
    const broken = readFileSync(join(workflows, 'nightly.yml'), 'utf8').replace(/^ {4}runs-on: .*$/m, '');
    const file = join(scratch, 'broken.yml');
    writeFileSync(file, broken);
    const r = await validate(file);
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('runs-on');
  });

  it('nightly: scheduled and manual; it runs npm run matrix (every wrapped release) with ACLs off and on, and uploads reports', () => {
    const text = readFileSync(join(workflows, 'nightly.yml'), 'utf8');
    const wf = parse(text) as {
      on: Record<string, unknown>;
      jobs: { nightly: { strategy: { matrix: { acl: string[] } }; steps: Array<{ run?: string; uses?: string; with?: Record<string, string> }> } };
    };
    expect(Object.keys(wf.on).sort()).toEqual(['schedule', 'workflow_dispatch']);
    expect(wf.jobs.nightly.strategy.matrix.acl).toEqual(['off', 'on']);
    const steps = wf.jobs.nightly.steps;
    const goMod = steps.find((s) => s.uses?.startsWith('actions/setup-go'))?.with?.['go-version-file'];
    expect(readdirSync(join(repoRoot, String(goMod), '..'))).toContain('go.mod');
    const scripts = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    // `nomad-lab matrix` is the night on every release built here (its --nomad-version defaults to all).
    expect(scripts['matrix']).toMatch(/nomad-lab\.js matrix$/);
    expect(steps.some((s) => s.run?.includes('npm run matrix'))).toBe(true);
    expect(steps.some((s) => s.run?.includes('GITHUB_STEP_SUMMARY'))).toBe(true);
    expect(steps.find((s) => s.uses?.startsWith('actions/upload-artifact'))?.with?.['path']).toBe('reports/');
  });
});
