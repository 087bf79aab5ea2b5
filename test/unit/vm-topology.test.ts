// Unit: the VM lab's topology (pure): defaults, environment over file, bad values as usage errors that name their source,
// and schema problems of the topology file with file:line.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../harness/config/paths.ts';
import { InvalidFileError } from '../../harness/config/user-files.ts';
import { computeVmTopology, loadVmTopology, VM_DEFAULTS, VM_ENV, vmTopologyFile, type VmTopology } from '../../harness/lab/vm-topology.ts';
import { UsageError } from '../../harness/util/errors.ts';

const committed = join(repoRoot, 'vagrant', 'topology.yaml');
const dir = mkdtempSync(join(tmpdir(), 'nomad-lab-vm-topology-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function topologyFile(text: string): string {
  const file = join(dir, `t${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  return file;
}
const thrown = (f: () => unknown): UsageError => {
  try {
    f();
  } catch (e) {
    if (e instanceof UsageError) return e;
    throw e;
  }
  throw new Error('did not throw');
};
const summary = (t: VmTopology) => t.hosts.map((h) => `${h.name}/${h.role}/${h.index} ${h.ip} ${h.datacenter}`);

describe('computeVmTopology', () => {
  it('the committed file is the seed bench test: server1 at 192.168.56.11, two clients at .21 and .22, dc1, Nomad 1.6.0', () => {
    const t = loadVmTopology(committed, {});
    expect(summary(t)).toEqual(['server1/server/1 192.168.56.11 dc1', 'client1/client/1 192.168.56.21 dc1', 'client2/client/2 192.168.56.22 dc1']);
    expect(t).toMatchObject({ subnet: '192.168.56.0/24', datacenter: 'dc1', box: 'debian/bookworm64', memory: 1024, cpus: 1, provider: 'virtualbox', nomadVersion: '1.6.0', docker: false });
    expect(t).not.toHaveProperty('nomadBinary');
    // The file states every default, so reading it and computing from nothing agree.
    expect(computeVmTopology({}, {})).toEqual(t);
  });

  it('gives Ansible the groups, each host its own address and datacenter, and the extra vars of a systemd install', () => {
    const t = computeVmTopology({ servers: 2, clients: 3, clientDatacenters: ['dc1', 'edge'] }, {});
    expect(t.ansible.groups).toEqual({ servers: ['server1', 'server2'], clients: ['client1', 'client2', 'client3'], 'all:vars': { nomad_service_manager: 'systemd' } });
    expect(t.ansible.hostVars).toEqual({
      server1: { nomad_bind_addr: '192.168.56.11', nomad_datacenter: 'dc1' },
      server2: { nomad_bind_addr: '192.168.56.12', nomad_datacenter: 'dc1' },
      client1: { nomad_bind_addr: '192.168.56.21', nomad_datacenter: 'dc1' },
      client2: { nomad_bind_addr: '192.168.56.22', nomad_datacenter: 'edge' },
      client3: { nomad_bind_addr: '192.168.56.23', nomad_datacenter: 'dc1' },
    });
    expect(t.ansible.extraVars).toEqual({ nomad_service_manager: 'systemd', nomad_version: '1.6.0', nomad_server_addrs: ['192.168.56.11', '192.168.56.12'], nomad_docker_enabled: false });
  });

  it('takes each environment variable over the file; empty means unset', () => {
    const data = { servers: 1, clients: 2, memory: 1024, docker: true, box: 'file/box', nomadBinary: '/opt/file/nomad' };
    const t = computeVmTopology(data, {
      NOMAD_LAB_SERVERS: '3',
      NOMAD_LAB_CLIENTS: '4',
      NOMAD_LAB_CLIENT_DATACENTERS: 'dc1, dc2,dc2',
      NOMAD_LAB_MEMORY: '',
      NOMAD_LAB_CPUS: '4',
      NOMAD_LAB_BOX: 'env/box',
      NOMAD_LAB_PROVIDER: 'libvirt',
      NOMAD_LAB_NOMAD_VERSION: '1.8.4',
      NOMAD_LAB_NOMAD_BINARY: '/opt/env/nomad',
      NOMAD_LAB_DOCKER: 'No',
      NOMAD_LAB_SUBNET: '192.168.60.0/24',
    });
    expect(summary(t)).toEqual([
      'server1/server/1 192.168.60.11 dc1',
      'server2/server/2 192.168.60.12 dc1',
      'server3/server/3 192.168.60.13 dc1',
      'client1/client/1 192.168.60.21 dc1',
      'client2/client/2 192.168.60.22 dc2',
      'client3/client/3 192.168.60.23 dc2',
      'client4/client/4 192.168.60.24 dc1',
    ]);
    expect(t).toMatchObject({ memory: 1024, cpus: 4, box: 'env/box', provider: 'libvirt', nomadVersion: '1.8.4', nomadBinary: '/opt/env/nomad', docker: false });
    expect(t.ansible.extraVars.nomad_binary_src).toBe('/opt/env/nomad');
    expect(computeVmTopology(data, {}).ansible.extraVars).toMatchObject({ nomad_binary_src: '/opt/file/nomad', nomad_docker_enabled: true });
    expect(computeVmTopology({ nomadBinary: null }, {}).ansible.extraVars).not.toHaveProperty('nomad_binary_src');
  });

  it('refuses bad overrides with a usage error that names the variable, the value and a fix', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ NOMAD_LAB_SERVERS: 'two' }, 'servers must be a whole number from 1 to 9, got "two" (from NOMAD_LAB_SERVERS)'],
      [{ NOMAD_LAB_SERVERS: '10' }, 'servers must be a whole number from 1 to 9, got "10" (from NOMAD_LAB_SERVERS)'],
      [{ NOMAD_LAB_CLIENTS: '0' }, 'clients must be a whole number from 1 to 200, got "0" (from NOMAD_LAB_CLIENTS)'],
      [{ NOMAD_LAB_CLIENT_DATACENTERS: 'dc1,dc2,dc2' }, 'clientDatacenters must be at most 2 datacenter name(s), one per client, got ["dc1","dc2","dc2"] (from NOMAD_LAB_CLIENT_DATACENTERS)'],
      [{ NOMAD_LAB_CLIENT_DATACENTERS: 'dc 2' }, 'clientDatacenters must be datacenter names (letters, digits, "-" and "_"), one per client, got "dc 2" (from NOMAD_LAB_CLIENT_DATACENTERS)'],
      [{ NOMAD_LAB_SUBNET: '192.168.56.0/23' }, 'subnet must be a /24 written a.b.c.0/24, got "192.168.56.0/23" (from NOMAD_LAB_SUBNET)'],
      [{ NOMAD_LAB_MEMORY: '1g' }, 'memory must be a whole number from 512 to 65536, got "1g" (from NOMAD_LAB_MEMORY)'],
      [{ NOMAD_LAB_PROVIDER: 'vmware_desktop' }, 'provider must be virtualbox or libvirt, got "vmware_desktop" (from NOMAD_LAB_PROVIDER)'],
      [{ NOMAD_LAB_NOMAD_VERSION: 'v1.6.0' }, 'nomadVersion must be a version x.y.z, got "v1.6.0" (from NOMAD_LAB_NOMAD_VERSION)'],
      [{ NOMAD_LAB_NOMAD_BINARY: './nomad' }, 'nomadBinary must be an absolute path, got "./nomad" (from NOMAD_LAB_NOMAD_BINARY)'],
      [{ NOMAD_LAB_DOCKER: 'constructor' }, 'docker must be true or false, got "constructor" (from NOMAD_LAB_DOCKER)'],
    ];
    for (const [env, message] of cases) {
      const e = thrown(() => computeVmTopology({}, env));
      expect(e.message).toBe(message);
      expect(e.hint).toBeTruthy();
    }
    expect(thrown(() => computeVmTopology({ servers: 12 }, {})).message).toBe('servers must be a whole number from 1 to 9, got 12 (from the topology file)');
    expect(thrown(() => computeVmTopology({ clients: 1, clientDatacenters: ['a', 'b'] }, {})).hint).toMatch(/client1 first/);
  });

  it('knows one environment variable per key, and where the topology file is', () => {
    expect(Object.keys(VM_ENV).sort()).toEqual([...Object.keys(VM_DEFAULTS), 'clientDatacenters', 'nomadBinary'].sort());
    expect(new Set(Object.values(VM_ENV)).size).toBe(Object.keys(VM_ENV).length);
    expect(vmTopologyFile({})).toBe(committed);
    expect(vmTopologyFile({ NOMAD_LAB_TOPOLOGY: '' })).toBe(committed);
    expect(vmTopologyFile({ NOMAD_LAB_TOPOLOGY: '/tmp/x.yaml' })).toBe('/tmp/x.yaml');
    const other = topologyFile('clients: 5\n');
    expect(loadVmTopology(undefined, { NOMAD_LAB_TOPOLOGY: other }).hosts).toHaveLength(6);
  });
});

describe('loadVmTopology', () => {
  it('reports every schema problem of the file with its line and pointer', () => {
    const file = topologyFile('servers: 2\nclients: "3"\nspeed: fast\nprovider: vmware\nclientDatacenters: [dc1, "d c"]\ndocker: yes\n');
    let error: unknown;
    try {
      loadVmTopology(file, {});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidFileError);
    const lines = (error as InvalidFileError).message.split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        `${file}:2: /clients must be integer`,
        `${file}:3: /speed is not a known property`,
        `${file}:4: /provider must be one of ["virtualbox","libvirt"]`,
        expect.stringMatching(new RegExp(`^${file}:5: /clientDatacenters/1 must match pattern`)),
        `${file}:6: /docker must be boolean`,
      ]),
    );
    expect(lines).toHaveLength(5);
  });

  it('says which file it cannot read, and refuses an empty file', () => {
    expect(() => loadVmTopology(join(dir, 'missing.yaml'), {})).toThrow(/cannot read .*missing\.yaml: ENOENT/);
    expect(() => loadVmTopology(topologyFile(''), {})).toThrow(/:1: \/ must be object/);
  });

  it('reads a partial file and fills the rest from the defaults, under the environment', () => {
    const t = loadVmTopology(topologyFile('servers: 3\nclients: 3\nclientDatacenters: [dc1, dc2, dc2]\n'), { NOMAD_LAB_CPUS: '2' });
    expect(summary(t).slice(2)).toEqual(['server3/server/3 192.168.56.13 dc1', 'client1/client/1 192.168.56.21 dc1', 'client2/client/2 192.168.56.22 dc2', 'client3/client/3 192.168.56.23 dc2']);
    expect(t).toMatchObject({ cpus: 2, memory: VM_DEFAULTS.memory, box: VM_DEFAULTS.box });
  });
});
