// Static: the Vagrantfile's Ruby (vagrant/topology.rb) and the harness's computeVmTopology() compute the same topology
// from the same file and environment, and refuse the same bad overrides with the same message.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../harness/config/paths.ts';
import { run } from '../../harness/exec/local.ts';
import { loadVmTopology, type VmTopology } from '../../harness/lab/vm-topology.ts';
import { UsageError } from '../../harness/util/errors.ts';
import { cleanVmEnv, has, scratchDir } from './support.ts';

const scratch = scratchDir('parity');
const committed = join(repoRoot, 'vagrant', 'topology.yaml');

/** `ruby vagrant/topology.rb`: the topology the Vagrantfile would use, as JSON. */
async function ruby(env: Record<string, string>) {
  return run(['ruby', join(repoRoot, 'vagrant', 'topology.rb')], { check: false, cwd: scratch, env: cleanVmEnv(env) });
}

async function both(env: Record<string, string>, file = committed): Promise<{ fromRuby: VmTopology; fromTs: VmTopology }> {
  const r = await ruby(file === committed ? env : { ...env, NOMAD_LAB_TOPOLOGY: file });
  expect(r.exitCode, r.stderr).toBe(0);
  return { fromRuby: JSON.parse(r.stdout) as VmTopology, fromTs: loadVmTopology(file, cleanVmEnv(env)) };
}

describe.skipIf(!(await has('ruby')))('Vagrantfile topology (Ruby) = harness topology (TypeScript)', () => {
  it('agree on the committed defaults: 1 server at .11, 2 clients at .21 and .22 in dc1, Nomad 1.6.0, VirtualBox', async () => {
    const { fromRuby, fromTs } = await both({});
    expect(fromRuby).toEqual(fromTs);
    expect(fromTs.hosts.map((h) => `${h.name} ${h.ip} ${h.datacenter}`)).toEqual(['server1 192.168.56.11 dc1', 'client1 192.168.56.21 dc1', 'client2 192.168.56.22 dc1']);
    expect(fromTs).toMatchObject({ subnet: '192.168.56.0/24', box: 'debian/bookworm64', provider: 'virtualbox', nomadVersion: '1.6.0', docker: false });
    expect(fromTs.nomadBinary).toBeUndefined();
  });

  it('agree on every override at once: 3 servers, 4 clients in their own datacenters, own build, docker, libvirt', async () => {
    const env = {
      NOMAD_LAB_SERVERS: '3',
      NOMAD_LAB_CLIENTS: '4',
      NOMAD_LAB_CLIENT_DATACENTERS: 'dc1, dc2,dc2',
      NOMAD_LAB_DATACENTER: 'core',
      NOMAD_LAB_SUBNET: '192.168.57.0/24',
      NOMAD_LAB_BOX: 'generic/debian12',
      NOMAD_LAB_MEMORY: '2048',
      NOMAD_LAB_CPUS: '2',
      NOMAD_LAB_PROVIDER: 'libvirt',
      NOMAD_LAB_NOMAD_VERSION: '1.8.0-dev',
      NOMAD_LAB_NOMAD_BINARY: '/home/me/nomad/bin/nomad',
      NOMAD_LAB_DOCKER: 'TRUE',
    };
    const { fromRuby, fromTs } = await both(env);
    expect(fromRuby).toEqual(fromTs);
    expect(fromTs.hosts.map((h) => `${h.name} ${h.ip} ${h.datacenter}`)).toEqual([
      'server1 192.168.57.11 core',
      'server2 192.168.57.12 core',
      'server3 192.168.57.13 core',
      'client1 192.168.57.21 dc1',
      'client2 192.168.57.22 dc2',
      'client3 192.168.57.23 dc2',
      'client4 192.168.57.24 core',
    ]);
    expect(fromTs.ansible.extraVars).toEqual({
      nomad_service_manager: 'systemd',
      nomad_version: '1.8.0-dev',
      nomad_server_addrs: ['192.168.57.11', '192.168.57.12', '192.168.57.13'],
      nomad_docker_enabled: true,
      nomad_binary_src: '/home/me/nomad/bin/nomad',
    });
  });

  it('agree on a partial topology file (defaults fill the rest), with per-client datacenters and the environment on top', async () => {
    const file = join(scratch, 'edge.yaml');
    writeFileSync(file, 'servers: 3\nclients: 3\nclientDatacenters: [dc1, dc2, dc2]\nnomadBinary: null\ndocker: true\n');
    const { fromRuby, fromTs } = await both({ NOMAD_LAB_DOCKER: 'no', NOMAD_LAB_CPUS: '' }, file);
    expect(fromRuby).toEqual(fromTs);
    expect(fromTs.ansible.groups).toEqual({ servers: ['server1', 'server2', 'server3'], clients: ['client1', 'client2', 'client3'], 'all:vars': { nomad_service_manager: 'systemd' } });
    expect(fromTs.ansible.hostVars['client3']).toEqual({ nomad_bind_addr: '192.168.56.23', nomad_datacenter: 'dc2' });
    expect(fromTs).toMatchObject({ docker: false, cpus: 1, memory: 1024 });
  });

  const refusals: Array<Record<string, string>> = [
    { NOMAD_LAB_SERVERS: '0' },
    { NOMAD_LAB_SERVERS: 'two' },
    { NOMAD_LAB_CLIENTS: '201' },
    { NOMAD_LAB_CLIENT_DATACENTERS: 'dc1,dc2,dc3' },
    { NOMAD_LAB_CLIENT_DATACENTERS: 'dc1,' },
    { NOMAD_LAB_DATACENTER: 'dc 1' },
    { NOMAD_LAB_SUBNET: '192.168.56.0/16' },
    { NOMAD_LAB_SUBNET: '192.168.300.0/24' },
    { NOMAD_LAB_MEMORY: '256' },
    { NOMAD_LAB_PROVIDER: 'vmware' },
    { NOMAD_LAB_NOMAD_VERSION: 'latest' },
    { NOMAD_LAB_NOMAD_BINARY: 'bin/nomad' },
    { NOMAD_LAB_DOCKER: 'maybe' },
  ];
  for (const env of refusals) {
    it(`refuse ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')} with the same message`, async () => {
      let tsError: unknown;
      try {
        loadVmTopology(committed, cleanVmEnv(env));
      } catch (e) {
        tsError = e;
      }
      expect(tsError).toBeInstanceOf(UsageError);
      const message = (tsError as UsageError).message;
      expect(message).toContain(`(from ${Object.keys(env)[0]})`);
      const r = await ruby(env);
      expect(r.exitCode).toBe(2);
      expect(r.stderr.split('\n')[0]).toBe(message);
      expect(r.stderr).toContain(`  fix: ${(tsError as UsageError).hint}`);
    });
  }

  it('the Ruby side reports every problem of a bad file with its line, without a backtrace', async () => {
    const file = join(scratch, 'bad.yaml');
    writeFileSync(file, 'servers: 2\nclients: "3"\nspeed: fast\ndocker: yes\n');
    const r = await ruby({ NOMAD_LAB_TOPOLOGY: file });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`${file}:2: /clients must be integer`, `${file}:3: /speed is not a known property`, `${file}:4: /docker must be boolean`]);
  });
});
