// Unit: TLS on SSH labs (inventory, vagrant), the pure parts. Which lab the flags mean (--tls with an
// inventory or the VMs, a scenario's tls: true, --no-provision refused), the region the certificates
// name (the inventory's nomad_region), the role's extra variables and the harness's inventory, the
// driver's API and the shell's environment on a TLS lab, whether a kept lab fits, the message when
// plain HTTP meets agents with TLS on. Then, with the pinned nomad binary, certificates for an SSH
// lab's hosts (their advertised addresses).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { labRequest } from '../../harness/lab/labs.ts';
import { planFromInventory, type InventoryList, type RemoteHost, type RemotePlan } from '../../harness/lab/inventory.ts';
import { harnessInventory, httpsOnlyError, provisionVars, remoteRegion, sshProvider, SshDriver, type SshLabState } from '../../harness/lab/ssh-lab.ts';
import { sshShellFor } from '../../harness/lab/shell.ts';
import { agentTlsFiles, cliTlsFiles, makeCertificates, tlsDir } from '../../harness/lab/tls.ts';
import { pinnedBinaryPath } from '../../harness/nomad/binary.ts';
import { HarnessError, UsageError } from '../../harness/util/errors.ts';
import { tempLabRoot } from './lab-root.ts';

const { root, inventory } = tempLabRoot('ssh-tls');

/** What `ansible-inventory --list` prints for three hosts (the region as the inventory sets it, if at all). */
function list(regions: { server1?: string; client1?: string; client2?: string } = {}): InventoryList {
  const vars = (ip: string, region?: string) => ({ nomad_bind_addr: ip, ...(region === undefined ? {} : { nomad_region: region }) });
  return {
    _meta: {
      hostvars: {
        server1: vars('10.9.0.11', regions.server1),
        client1: { ...vars('10.9.0.21', regions.client1), nomad_config_dir: '/srv/nomad.d' },
        client2: vars('10.9.0.22', regions.client2),
      },
    },
    servers: { hosts: ['server1'] },
    clients: { hosts: ['client1', 'client2'] },
  };
}
const planOf = (l: InventoryList, tls = true): RemotePlan => {
  const plan = planFromInventory(l, 't-ssh-tls', '/inv/hosts.json', { identityFile: '/keys/lab' });
  return tls ? { ...plan, tls: true } : plan;
};

describe('--tls on SSH labs: which lab the flags mean', () => {
  it('--tls with an inventory or the VMs asks for a TLS lab; so does a scenario that needs TLS', () => {
    expect(labRequest({ inventory, tls: true })).toMatchObject({ provider: 'inventory', tls: true });
    expect(labRequest({ lab: 'vagrant', tls: true })).toMatchObject({ provider: 'vagrant', tls: true });
    expect(labRequest({ inventory }, { name: 'sc-spread', topology: { servers: '1', clients: '2', tls: true } }).tls).toBe(true);
    expect('tls' in labRequest({ inventory }, { name: 'sc-spread', topology: { servers: '1', clients: '2' } })).toBe(false);
  });

  it('--acl is still refused on SSH labs; TLS with --no-provision is refused, naming where TLS came from', () => {
    expect(() => labRequest({ inventory, acl: true, tls: true })).toThrow('--acl cannot apply to hosts from an inventory');
    expect(() => labRequest({ inventory, provision: false }, { topology: { tls: true } })).toThrow(
      "--no-provision takes the hosts as they are, and TLS (the scenario's tls: true) needs the role to copy the lab's certificates to them",
    );
  });

  it('the provider refuses ACLs, and a run needing TLS on a lab asked for without it; a TLS request passes', () => {
    const provider = sshProvider('inventory');
    const tls = labRequest({ inventory, tls: true });
    const plain = labRequest({ inventory });
    expect(provider.refuses({ servers: 1, clients: 2, acl: false, tls: true }, tls)).toBeUndefined();
    expect(provider.refuses({ servers: 1, clients: 2, acl: false, tls: true }, plain)).toMatch(/needs TLS .* add --tls/);
    expect(provider.refuses({ servers: 1, clients: 2, acl: true }, tls)).toMatch(/ACLs are not set up on SSH labs/);
  });

  it('a lab kept from an earlier run fits only with the same TLS', () => {
    const provider = sshProvider('inventory');
    const state = (tls: boolean) => ({ provider: 'inventory', plan: planOf(list(), tls) }) as unknown as SshLabState;
    const need = { servers: 1, clients: 2, acl: false };
    expect(provider.unfit(state(true), labRequest({ inventory, tls: true }), need)).toBeUndefined();
    expect(provider.unfit(state(false), labRequest({ inventory }), need)).toBeUndefined();
    expect(provider.unfit(state(true), labRequest({ inventory }), need)).toBe('it runs with TLS');
    expect(provider.unfit(state(false), labRequest({ inventory, tls: true }), need)).toBe('it runs without TLS');
  });
});

describe('the region the certificates name', () => {
  it("the inventory's nomad_region, else global; hosts of two regions are refused, each named with its region", () => {
    expect(remoteRegion(planOf(list()))).toBe('global');
    const edge = planOf(list({ server1: 'edge', client1: 'edge', client2: 'edge' }));
    expect(edge.hosts.map((h) => h.region)).toEqual(['edge', 'edge', 'edge']);
    expect(remoteRegion(edge)).toBe('edge');
    const mixed = planOf(list({ server1: 'edge' }));
    expect(() => remoteRegion(mixed)).toThrow(UsageError);
    expect(() => remoteRegion(mixed)).toThrow('its hosts are in more than one region (server1: edge, client1: global, client2: global)');
    // A region that is no region name is refused where the inventory is read, on the host's line.
    expect(() => planOf(list({ client2: 'a b' }))).toThrow(/inventory host client2: nomad_region/);
  });
});

describe("the role's variables from the harness", () => {
  const nomad = { path: '/opt/nomad/bin/nomad', version: '1.6.0' };

  it('with TLS: TLS on and the lab tls directory on this machine, as extra vars (paths only); without: nothing of TLS', () => {
    const vars = provisionVars(planOf(list()), nomad);
    expect(vars).toEqual({
      nomad_version: '1.6.0',
      nomad_binary_src: '/opt/nomad/bin/nomad',
      nomad_tls_enabled: true,
      nomad_tls_src_dir: join(root, 'labs', 't-ssh-tls', 'tls'),
    });
    expect(vars['nomad_tls_src_dir']).toBe(tlsDir('t-ssh-tls'));
    expect(provisionVars(planOf(list(), false), nomad)).toEqual({ nomad_version: '1.6.0', nomad_binary_src: '/opt/nomad/bin/nomad' });
    // Nothing that is a file's content: every value is a version, a path or a flag.
    expect(JSON.stringify(vars)).not.toMatch(/BEGIN|PRIVATE/);
  });

  it("the harness inventory gives the servers' addresses and each host's key file, under the inventory's own", () => {
    expect(harnessInventory(planOf(list()))).toEqual({
      all: {
        vars: { nomad_service_manager: 'systemd', ansible_python_interpreter: '/usr/bin/python3', nomad_server_addrs: ['10.9.0.11'] },
        hosts: {
          server1: { ansible_ssh_private_key_file: '/keys/lab' },
          client1: { ansible_ssh_private_key_file: '/keys/lab' },
          client2: { ansible_ssh_private_key_file: '/keys/lab' },
        },
      },
    });
  });
});

describe('the driver, the shell and readiness on a TLS SSH lab', () => {
  it("the API speaks HTTPS with the CLI's certificate on a TLS lab, plain HTTP without", async () => {
    const tls = new SshDriver(planOf(list()));
    const plain = new SshDriver(planOf(list(), false));
    try {
      expect(tls.tls).toEqual(cliTlsFiles('t-ssh-tls'));
      expect(tls.api(tls.hosts[0]!).baseUrl).toBe('https://10.9.0.11:4646');
      expect(plain.tls).toBeUndefined();
      expect(plain.api(plain.hosts[0]!).baseUrl).toBe('http://10.9.0.11:4646');
    } finally {
      await tls.close();
      await plain.close();
    }
  });

  it("lab shell sets https and the TLS files' paths on this machine; a plain lab only NOMAD_ADDR over http", () => {
    const env = sshShellFor({ plan: planOf(list()), phase: 'up' }, 'client1').env;
    expect(env).toEqual({
      NOMAD_ADDR: 'https://10.9.0.21:4646',
      NOMAD_CACERT: cliTlsFiles('t-ssh-tls').ca,
      NOMAD_CLIENT_CERT: cliTlsFiles('t-ssh-tls').cert,
      NOMAD_CLIENT_KEY: cliTlsFiles('t-ssh-tls').key,
      NOMAD_LAB_NAME: 't-ssh-tls',
      NOMAD_LAB_HOST: 'client1',
    });
    expect(sshShellFor({ plan: planOf(list(), false), phase: 'up' }, 'client1').env).toEqual({
      NOMAD_ADDR: 'http://10.9.0.21:4646',
      NOMAD_LAB_NAME: 't-ssh-tls',
      NOMAD_LAB_HOST: 'client1',
    });
  });

  it("Nomad's 400 to plain HTTP on a lab without TLS ends the wait with the fix; on a TLS lab, or another error, nothing", () => {
    const answer = new HarnessError('GET http://10.9.0.11:4646/v1/status/leader answered 400: Client sent an HTTP request to an HTTPS server.');
    const plain = planOf(list(), false);
    const error = httpsOnlyError(plain, answer);
    expect(error?.message).toMatch(/^lab t-ssh-tls: the agents serve HTTPS only \(TLS on\), and this lab is without TLS: GET http:/);
    expect(error?.hint).toMatch(/run with --tls, or let the harness provision/);
    expect(httpsOnlyError({ ...plain, provider: 'vagrant' }, answer)?.hint).toMatch(/vagrant provision/);
    expect(httpsOnlyError(planOf(list()), answer)).toBeUndefined();
    expect(httpsOnlyError(plain, new Error('connect ECONNREFUSED 10.9.0.11:4646'))).toBeUndefined();
  });
});

const nomad = process.env['NOMAD_BINARY'] || pinnedBinaryPath();
const nomadVersion = () => /Nomad v(\d+\.\d+\.\d+)/.exec(execFileSync(nomad, ['version']).toString())![1]!;

describe.skipIf(!existsSync(nomad))("certificates for an SSH lab's hosts", () => {
  it("each host's certificate names its advertised address and the inventory's region; the CLI's too", async () => {
    const plan = planOf(list({ server1: 'edge', client1: 'edge', client2: 'edge' }));
    const logged: string[] = [];
    await makeCertificates(plan, { path: nomad, version: nomadVersion() }, remoteRegion(plan), { log: (m) => logged.push(m) });
    expect(logged.join('\n')).toMatch(/TLS: CA and 4 certificates \(region edge\)/);
    const host = (h: RemoteHost) => new X509Certificate(readFileSync(agentTlsFiles(plan.name, h).cert));
    const [server1, client1] = plan.hosts as [RemoteHost, RemoteHost];
    expect(host(server1).subjectAltName).toContain('DNS:server.edge.nomad');
    expect(host(server1).checkIP('10.9.0.11')).toBe('10.9.0.11');
    expect(host(client1).subjectAltName).toContain('DNS:client.edge.nomad');
    expect(host(client1).checkIP('10.9.0.21')).toBe('10.9.0.21');
    expect(host(client1).checkIP('10.9.0.11')).toBeUndefined();
    expect(new X509Certificate(readFileSync(cliTlsFiles(plan.name).cert)).subject).toContain('cli.edge.nomad');
  }, 60_000);
});
