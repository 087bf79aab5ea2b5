// Unit: which nomad binary is chosen, and reading `nomad version`.
import { describe, expect, it } from 'vitest';
import { chooseBinary, parseNomadVersion, versionAtLeast } from '../../harness/nomad/binary.ts';

describe('chooseBinary', () => {
  const base = { explicit: undefined, onPath: undefined, pinned: '/cache/nomad/v1.6.0/nomad', pinnedExists: true };
  it('prefers an explicit binary, then PATH, then the pinned build', () => {
    expect(chooseBinary({ ...base, explicit: { path: '/x/nomad', source: 'flag' }, onPath: '/usr/bin/nomad' })).toEqual({ path: '/x/nomad', source: 'flag' });
    expect(chooseBinary({ ...base, onPath: '/usr/bin/nomad' })).toEqual({ path: '/usr/bin/nomad', source: 'path' });
    expect(chooseBinary(base)).toEqual({ path: '/cache/nomad/v1.6.0/nomad', source: 'pinned' });
    expect(chooseBinary({ ...base, pinnedExists: false })).toBeUndefined();
  });
});

describe('nomad version', () => {
  it('parses the version line of release, dev and pre-release builds', () => {
    expect(parseNomadVersion('Nomad v1.6.0\nRevision v1.6.0-nomad-lab\n')).toBe('1.6.0');
    expect(parseNomadVersion('Nomad v1.10.5-dev\nBuildDate 2025-09-09T14:36:45Z')).toBe('1.10.5-dev');
    expect(parseNomadVersion('Consul v1.2.3')).toBeUndefined();
  });
  it('compares versions numerically', () => {
    expect(versionAtLeast('1.10.0', '1.8.0')).toBe(true);
    expect(versionAtLeast('1.6.0', '1.8.0')).toBe(false);
    expect(versionAtLeast('1.8.0-dev', '1.8.0')).toBe(true);
  });
});
