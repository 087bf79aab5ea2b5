// Static: the role (site.yml, supervised, on this machine into a scratch dir) renders the tls block a
// TLS lab needs (HTTP and RPC, the three files, verify_server_hostname, verify_https_client), renders
// nothing of it when TLS is off, refuses TLS without its files, and Nomad parses what it rendered.
// With nomad_tls_src_dir (an SSH lab's --tls) it copies each host's files into its config dir and
// points at the copies, printing nothing of the key even with --diff.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../harness/exec/local.ts';
import { pinnedBinaryPath } from '../../harness/nomad/binary.ts';
import { ansibleDir, ansiblePlaybook, has, localRoleVars, scratchDir, writeInventory } from './support.ts';

const scratch = scratchDir('tls-config');
const dirs = (host: string) => ({ nomad_config_dir: join(scratch, host, 'config'), nomad_data_dir: join(scratch, host, 'data') });
const files = (host: string) => ({
  nomad_tls_ca_file: join(scratch, 'tls', 'ca.pem'),
  nomad_tls_cert_file: join(scratch, 'tls', host, 'cert.pem'),
  nomad_tls_key_file: join(scratch, 'tls', host, 'key.pem'),
});

function inventory(name: string, tls: boolean, hostVars: (host: string) => object): string {
  return writeInventory(scratch, name, {
    all: {
      vars: { ...localRoleVars, nomad_tls_enabled: tls },
      children: {
        servers: { hosts: { server1: { nomad_bind_addr: '192.0.2.11', ...hostVars('server1') } } },
        clients: { hosts: { client1: { nomad_bind_addr: '192.0.2.21', nomad_network_interface: 'eth0', ...hostVars('client1') } } },
      },
    },
  });
}

const TLS_BLOCK = (host: string) => `
tls {
  http = true
  rpc  = true

  ca_file   = "${join(scratch, 'tls', 'ca.pem')}"
  cert_file = "${join(scratch, 'tls', host, 'cert.pem')}"
  key_file  = "${join(scratch, 'tls', host, 'key.pem')}"

  verify_server_hostname = true
  verify_https_client    = true
}
`;

describe.skipIf(!(await has('ansible-playbook')))('base.hcl.j2: tls', () => {
  let server = '';
  let client = '';
  beforeAll(async () => {
    const r = await ansiblePlaybook(['-i', inventory('tls.json', true, (h) => ({ ...dirs(`on-${h}`), ...files(h) })), join(ansibleDir, 'site.yml')], scratch);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    server = readFileSync(join(scratch, 'on-server1', 'config', 'base.hcl'), 'utf8');
    client = readFileSync(join(scratch, 'on-client1', 'config', 'base.hcl'), 'utf8');
  }, 120_000);

  it("on: each agent's tls block with its own certificate and key, mutual and name-checked, right after acl", () => {
    expect(server).toContain(`acl {\n  enabled = false\n}\n${TLS_BLOCK('server1')}\nports {`);
    expect(client).toContain(TLS_BLOCK('client1'));
    expect(server.match(/^tls \{/gm)).toHaveLength(1);
  });

  it('off: no tls block at all', async () => {
    const r = await ansiblePlaybook(['-i', inventory('plain.json', false, (h) => dirs(`off-${h}`)), join(ansibleDir, 'site.yml')], scratch);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const base = readFileSync(join(scratch, 'off-server1', 'config', 'base.hcl'), 'utf8');
    expect(base).not.toMatch(/^tls \{/m);
    expect(base).not.toContain('verify_https_client');
    expect(base).toContain('acl {\n  enabled = false\n}\n\nports {');
  }, 120_000);

  it('on without the files: the role refuses, naming the host and the variables', async () => {
    const r = await ansiblePlaybook(['-i', inventory('nofiles.json', true, (h) => dirs(`nofiles-${h}`)), join(ansibleDir, 'site.yml')], scratch);
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout).toContain('server1: nomad_tls_enabled needs nomad_tls_ca_file, nomad_tls_cert_file and nomad_tls_key_file');
    expect(existsSync(join(scratch, 'nofiles-server1', 'config', 'base.hcl'))).toBe(false);
  }, 120_000);

  it.skipIf(process.getuid?.() !== 0)(
    "copied: with nomad_tls_src_dir each host gets the CA's certificate and its own certificate and key in <config>/tls (root's, 0700, key 0600), the key's copy censored; set paths still win",
    async () => {
      // A directory laid out as the harness's tls directory, with recognisable stand-ins for the files.
      const src = join(scratch, 'src');
      const marker = (what: string) => `-----BEGIN ${what}-----\nMARKER${what.replace(/\W/g, '')}\n-----END ${what}-----\n`;
      mkdirSync(src, { recursive: true });
      writeFileSync(join(src, 'ca.pem'), marker('CA CERTIFICATE'));
      for (const host of ['server1', 'client1']) {
        mkdirSync(join(src, host), { recursive: true });
        writeFileSync(join(src, host, 'cert.pem'), marker(`${host} CERTIFICATE`));
        writeFileSync(join(src, host, 'key.pem'), marker(`${host} PRIVATE KEY`), { mode: 0o600 });
      }
      const inv = inventory('copied.json', true, (h) => ({
        ...dirs(`copied-${h}`),
        nomad_tls_src_dir: src,
        // An inventory's own path wins over the copy.
        ...(h === 'client1' ? { nomad_tls_ca_file: '/etc/ssl/lab-ca.pem' } : {}),
      }));
      const r = await ansiblePlaybook(['-i', inv, '--diff', join(ansibleDir, 'site.yml')], scratch);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      for (const host of ['server1', 'client1']) {
        const tls = join(scratch, `copied-${host}`, 'config', 'tls');
        expect(statSync(tls).mode & 0o777).toBe(0o700);
        expect(statSync(join(tls, 'key.pem')).mode & 0o777).toBe(0o600);
        expect(statSync(join(tls, 'key.pem')).uid).toBe(0);
        expect(statSync(join(tls, 'cert.pem')).mode & 0o777).toBe(0o644);
        expect(readFileSync(join(tls, 'key.pem'), 'utf8')).toBe(marker(`${host} PRIVATE KEY`));
        expect(readFileSync(join(tls, 'cert.pem'), 'utf8')).toBe(marker(`${host} CERTIFICATE`));
        expect(readFileSync(join(tls, 'ca.pem'), 'utf8')).toBe(marker('CA CERTIFICATE'));
      }
      const server = readFileSync(join(scratch, 'copied-server1', 'config', 'base.hcl'), 'utf8');
      const serverTls = join(scratch, 'copied-server1', 'config', 'tls');
      expect(server).toContain(`  ca_file   = "${serverTls}/ca.pem"\n  cert_file = "${serverTls}/cert.pem"\n  key_file  = "${serverTls}/key.pem"\n`);
      const client = readFileSync(join(scratch, 'copied-client1', 'config', 'base.hcl'), 'utf8');
      expect(client).toContain('  ca_file   = "/etc/ssl/lab-ca.pem"\n');
      expect(client).toContain(`  key_file  = "${join(scratch, 'copied-client1', 'config', 'tls')}/key.pem"\n`);
      // --diff shows what copy changes; the certificates may show, a key never does.
      expect(r.stdout).toContain("TASK [nomad : Copy the agent's private key]");
      expect(r.stdout).toContain('MARKERserver1CERTIFICATE');
      expect(r.stdout + r.stderr).not.toMatch(/MARKER\w+PRIVATEKEY/);
    },
    120_000,
  );

  const nomad = process.env['NOMAD_BINARY'] || pinnedBinaryPath();
  it.skipIf(!existsSync(nomad))(
    'Nomad accepts the rendered server and client configurations with TLS (nomad config validate)',
    async () => {
      for (const host of ['server1', 'client1']) {
        const r = await run([nomad, 'config', 'validate', join(scratch, `on-${host}`, 'config')], { check: false, timeoutMs: 60_000 });
        expect(r.exitCode, r.stdout + r.stderr).toBe(0);
        expect(r.stdout).toContain('Configuration is valid');
      }
    },
    60_000,
  );
});
