// Unit: the code is formatted the one way Prettier does it (.prettierrc.json), so reviews see changes,
// not layout. Fix with `npx prettier --write .` (the ignore file keeps data and Markdown out).
import { describe, expect, it } from 'vitest';
import { run } from '../../harness/exec/local.ts';
import { repoRoot } from '../../harness/config/paths.ts';

describe('formatting', () => {
  it('every TypeScript and JavaScript file is as Prettier formats it', async () => {
    const r = await run(['npx', 'prettier', '--list-different', 'harness/**/*.ts', 'test/**/*.ts', 'scripts/**/*.ts', 'bin/**/*.js', 'vitest.config.ts'], {
      check: false,
      cwd: repoRoot,
      timeoutMs: 60_000,
    });
    expect(r.stdout.trim(), 'run: npx prettier --write .').toBe('');
    expect(r.exitCode).toBe(0);
  }, 90_000);
});
