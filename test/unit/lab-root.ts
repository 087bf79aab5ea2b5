// Unit tests that touch the lab store: a lab root of their own in a temporary directory (set as
// NOMAD_LAB_ROOT before the file's tests, restored and removed after them), with an empty inventory
// file for flags that need one to exist.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

export function tempLabRoot(prefix: string): { root: string; inventory: string } {
  const root = mkdtempSync(join(tmpdir(), `nomad-lab-${prefix}-`));
  const inventory = join(root, 'hosts.json');
  let before: string | undefined;
  beforeAll(() => {
    before = process.env['NOMAD_LAB_ROOT'];
    process.env['NOMAD_LAB_ROOT'] = root;
    writeFileSync(inventory, '{}');
  });
  afterAll(() => {
    if (before === undefined) delete process.env['NOMAD_LAB_ROOT'];
    else process.env['NOMAD_LAB_ROOT'] = before;
    rmSync(root, { recursive: true, force: true });
  });
  return { root, inventory };
}
