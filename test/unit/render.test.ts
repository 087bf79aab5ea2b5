// Unit: one job source rendered per Nomad version; directive errors name the line.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderJob, versionMatches } from '../../harness/jobs/render.ts';
import { UsageError } from '../../harness/util/errors.ts';

const spread = readFileSync(join(import.meta.dirname, '..', '..', 'jobs', 'spread.nomad.hcl'), 'utf8');

describe('renderJob', () => {
  it('uses max_client_disconnect before 1.8 and the disconnect block from 1.8', () => {
    const old = renderJob(spread, '1.6.0');
    expect(old).toContain('max_client_disconnect = "1h"');
    expect(old).not.toContain('disconnect {');
    const modern = renderJob(spread, '1.10.5');
    expect(modern).toMatch(/disconnect \{\s+lost_after = "1h"\s+\}/);
    expect(modern).not.toContain('max_client_disconnect');
    for (const r of [old, modern]) expect(r).not.toContain('nomad-lab:');
  });

  it('compares versions with every operator', () => {
    expect(versionMatches('1.8.0', '>=', '1.8')).toBe(true);
    expect(versionMatches('1.7.7', '<', '1.8')).toBe(true);
    expect(versionMatches('1.8.0', '<=', '1.8.0')).toBe(true);
    expect(versionMatches('1.8.1', '>', '1.8.0')).toBe(true);
    expect(versionMatches('1.8.0', '>', '1.8.0')).toBe(false);
    expect(versionMatches('1.8.0', '==', '1.8.0')).toBe(true);
  });

  it('rejects unclosed, unopened, nested and unknown directives with the line', () => {
    expect(() => renderJob('a\n# nomad-lab: if version >= 1.8\nb', '1.6.0', 'j.hcl')).toThrow(/j\.hcl:2: .* never closed/);
    expect(() => renderJob('# nomad-lab: end', '1.6.0', 'j.hcl')).toThrow(/j\.hcl:1: .*without an open/);
    expect(() => renderJob('# nomad-lab: if version >= 1.8\n# nomad-lab: if version < 2.0\n', '1.6.0', 'j.hcl')).toThrow(/j\.hcl:2: nested/);
    expect(() => renderJob('# nomad-lab: unless x', '1.6.0', 'j.hcl')).toThrow(UsageError);
  });
});
