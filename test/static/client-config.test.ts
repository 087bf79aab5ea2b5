// Static: the role (site.yml, supervised, on this machine into a scratch dir) renders a VM client's network_interface as a
// go-sockaddr template that picks the interface holding its address, and the netns lab's `eth0` exactly as before.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../harness/exec/local.ts';
import { pinnedBinaryPath } from '../../harness/nomad/binary.ts';
import { ansibleDir, ansiblePlaybook, has, localRoleVars, scratchDir, writeInventory } from './support.ts';

const scratch = scratchDir('client-config');
const dirs = (host: string) => ({ nomad_config_dir: join(scratch, host, 'config'), nomad_data_dir: join(scratch, host, 'data') });

function inventory(name: string, clients: Record<string, object>): string {
  return writeInventory(scratch, name, {
    all: {
      vars: { ...localRoleVars },
      children: {
        servers: { hosts: { server1: { nomad_bind_addr: '192.0.2.11', ...dirs('server1') } } },
        clients: { hosts: clients },
      },
    },
  });
}

/** What the role rendered for the netns lab's clients before the VM lab (nomad_network_interface given): unchanged. */
const NETNS_CLIENT_HCL = `# Ansible managed
client {
  enabled           = true
  servers           = ["192.0.2.11:4647"]
  network_interface = "eth0"
}

plugin "raw_exec" {
  config {
    enabled = true
  }
}
`;

/** HCL string literal -> its value (the role only escapes double quotes). */
const hclString = (line: string) => /^\s*network_interface = "(.*)"$/.exec(line)![1]!.replace(/\\"/g, '"');

describe.skipIf(!(await has('ansible-playbook')))('client.hcl.j2: network_interface', () => {
  let vmClient = '';
  let netnsClient = '';
  beforeAll(async () => {
    const inv = inventory('inventory.json', {
      client1: { nomad_bind_addr: '192.0.2.21', ...dirs('client1') },
      client2: { nomad_bind_addr: '192.0.2.22', nomad_network_interface: 'eth0', ...dirs('client2') },
    });
    const r = await ansiblePlaybook(['-i', inv, join(ansibleDir, 'site.yml')], scratch);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    vmClient = readFileSync(join(scratch, 'client1', 'config', 'client.hcl'), 'utf8');
    netnsClient = readFileSync(join(scratch, 'client2', 'config', 'client.hcl'), 'utf8');
  }, 120_000);

  it('given a name (the netns lab passes eth0), renders exactly what it rendered before', () => {
    expect(netnsClient).toBe(NETNS_CLIENT_HCL);
  });

  it('without a name (the VMs), renders a go-sockaddr template that selects the interface by the bind address', () => {
    const line = vmClient.split('\n').find((l) => l.includes('network_interface'))!;
    expect(line).toBe('  network_interface = "{{ GetAllInterfaces | include \\"address\\" \\"^192[.]0[.]2[.]21(/|$)\\" | attr \\"name\\" }}"');
    // go-sockaddr matches the regexp against each address as "ip/prefix" (or "ip" for a /32): only this one may match.
    const pattern = new RegExp(/include "address" "([^"]+)"/.exec(hclString(line))![1]!);
    expect(['192.0.2.21/24', '192.0.2.21'].every((a) => pattern.test(a))).toBe(true);
    expect(['192.0.2.210/24', '192.0.2.2/24', '192x0.2.21/24', '10.192.0.2.21', '10.0.2.15/24'].some((a) => pattern.test(a))).toBe(false);
    expect(vmClient.match(/network_interface/g)).toHaveLength(1);
  });

  const nomad = process.env['NOMAD_BINARY'] || pinnedBinaryPath();
  it.skipIf(!existsSync(nomad))(
    'the rendered VM client configuration parses in Nomad (nomad config validate)',
    async () => {
      const r = await run([nomad, 'config', 'validate', join(scratch, 'client1', 'config')], { check: false, timeoutMs: 60_000 });
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain('Configuration is valid');
    },
    60_000,
  );

  it('the role refuses a client with neither an interface name nor one address to find it by', async () => {
    const inv = inventory('wildcard.json', { client1: { nomad_bind_addr: '0.0.0.0', ...dirs('wild') } });
    const r = await ansiblePlaybook(['-i', inv, join(ansibleDir, 'site.yml')], scratch);
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout).toContain('client1: set nomad_bind_addr');
    expect(r.stdout).toContain('a client needs nomad_network_interface unless nomad_bind_addr is one IPv4 address');
    expect(r.stdout).toMatch(/server1\s+: ok=\d+/);
  }, 120_000);
});
