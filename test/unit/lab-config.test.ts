// Unit: lab file validation (ajv + yaml, line numbers) and flag > env > file > default precedence.
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveLabConfig } from '../../harness/config/lab-config.ts';
import { repoRoot } from '../../harness/config/paths.ts';
import { planLab } from '../../harness/lab/topology.ts';
import { InvalidFileError } from '../../harness/config/user-files.ts';
import { UsageError } from '../../harness/util/errors.ts';

function labFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'nomad-lab-test-')), 'lab.yaml');
  writeFileSync(file, text);
  return file;
}

describe('resolveLabConfig', () => {
  it('--sshd makes an SSH-reachable plan, and refuses ACLs (the inventory provider sets none up)', () => {
    const c = resolveLabConfig({ name: 'ssh', sshd: true }, {});
    expect(planLab(c.spec).sshd).toBe(true);
    expect(planLab(resolveLabConfig({ name: 'plain' }, {}).spec).sshd).toBeUndefined();
    expect(() => resolveLabConfig({ name: 'ssh', sshd: true, acl: true }, {})).toThrow(UsageError);
    expect(() => resolveLabConfig({ name: 'ssh', sshd: true, acl: true }, {})).toThrow(/--sshd with ACLs/);
  });

  it('uses defaults when nothing is given', () => {
    const c = resolveLabConfig({}, {});
    expect(c.spec).toEqual({ name: 'default', servers: 1, clients: 2, datacenter: 'dc1' });
    expect(c.nomad).toBeUndefined();
  });

  it('takes flags over environment over file over defaults', () => {
    const file = labFile('name: from-file\nservers: 3\nclients: 4\nnomad: /opt/file/nomad\n');
    const fileOnly = resolveLabConfig({ config: file }, {});
    expect(fileOnly.spec).toMatchObject({ name: 'from-file', servers: 3, clients: 4 });
    expect(fileOnly.nomad).toEqual({ path: '/opt/file/nomad', source: 'file' });
    const env = resolveLabConfig({ config: file }, { NOMAD_LAB_NAME: 'from-env', NOMAD_BINARY: '/opt/env/nomad' });
    expect(env.spec.name).toBe('from-env');
    expect(env.nomad).toEqual({ path: '/opt/env/nomad', source: 'env' });
    const flags = resolveLabConfig(
      { config: file, name: 'from-flag', clients: '5', nomad: '/opt/flag/nomad' },
      { NOMAD_LAB_NAME: 'from-env', NOMAD_BINARY: '/opt/env/nomad' },
    );
    expect(flags.spec).toMatchObject({ name: 'from-flag', servers: 3, clients: 5 });
    expect(flags.nomad).toEqual({ path: '/opt/flag/nomad', source: 'flag' });
  });

  it('takes client datacenters from the flag (comma-separated) over the lab file', () => {
    const file = labFile('clients: 3\nclientDatacenters: [dc1, edge, edge]\n');
    expect(resolveLabConfig({ config: file }, {}).spec.clientDatacenters).toEqual(['dc1', 'edge', 'edge']);
    expect(resolveLabConfig({ config: file, clientDatacenters: 'dc1, dc2,dc2' }, {}).spec.clientDatacenters).toEqual(['dc1', 'dc2', 'dc2']);
    expect(() => resolveLabConfig({ config: labFile('clientDatacenters: ["a b"]\n') }, {})).toThrow(/clientDatacenters\/0/);
  });

  it('every example lab file in labs/ validates and plans (the edge one in two datacenters)', () => {
    const dir = join(repoRoot, 'labs');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(files).toEqual(expect.arrayContaining(['edge.yaml', 'three-servers.yaml']));
    for (const f of files) planLab(resolveLabConfig({ config: join(dir, f) }, {}).spec);
    const edge = planLab(resolveLabConfig({ config: join(dir, 'edge.yaml') }, {}).spec);
    expect(edge.hosts.map((h) => `${h.name}:${h.datacenter}`)).toEqual([
      'server1:dc1',
      'server2:dc1',
      'server3:dc1',
      'client1:dc1',
      'client2:dc2',
      'client3:dc2',
    ]);
  });

  it('reports every problem of a lab file with its line and JSON pointer', () => {
    const file = labFile(['name: ok', 'servers: zero', 'clientz: 2', 'subnet: 10.0.0.0/24', 'agentVars:', '  log_level: DEBUG'].join('\n'));
    let error: unknown;
    try {
      resolveLabConfig({ config: file }, {});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidFileError);
    const problems = (error as InvalidFileError).problems.map((p) => `${p.line} ${p.pointer} ${p.message}`);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^2 \/servers must be integer/),
        expect.stringMatching(/^3 \/clientz is not a known property/),
        expect.stringMatching(/^4 \/subnet must match pattern/),
        expect.stringMatching(/^6 \/agentVars property name "log_level"/),
      ]),
    );
    expect((error as Error).message).toContain(`${file}:2: /servers`);
  });

  it('says which line a YAML syntax error is on', () => {
    const file = labFile('name: a\nservers: [1,\n');
    expect(() => resolveLabConfig({ config: file }, {})).toThrow(new RegExp(`${file}:\\d+:`));
  });

  it('rejects a count flag that is not a number and a missing file', () => {
    expect(() => resolveLabConfig({ clients: 'two' }, {})).toThrow(UsageError);
    expect(() => resolveLabConfig({ config: '/nonexistent/lab.yaml' }, {})).toThrow(/does not exist/);
  });
});
