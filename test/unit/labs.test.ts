// Unit (no root, no lab): which lab the flags mean, and the guards that keep one provider's lab from
// being taken for another's, with a lab store in a temporary directory.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nomadFlag } from '../../harness/cli/flags.ts';
import { checkRunFits, labRequest } from '../../harness/lab/labs.ts';
import { UsageError } from '../../harness/util/errors.ts';
import { tempLabRoot } from './lab-root.ts';

const { root, inventory } = tempLabRoot('labs');

describe('labRequest: flags -> which lab', () => {
  it('netns by default; a scenario gives its topology and name, flags win over them', () => {
    const r = labRequest({ servers: '1' }, { name: 'sc-edge', topology: { servers: '3', clients: '3', acl: true } });
    expect(r).toMatchObject({ provider: 'netns', name: 'sc-edge' });
    expect(r.config.spec).toMatchObject({ servers: 1, clients: 3, acl: true });
  });

  it('--inventory implies the inventory provider and names the lab after the file; --lab vagrant implies vagrant', () => {
    expect(labRequest({ inventory })).toMatchObject({ provider: 'inventory', name: 'inv-hosts', provision: true });
    expect(labRequest({ lab: 'vagrant' }).provider).toBe('vagrant');
  });

  it('refuses what would be ignored or cannot be: topology flags for hosts that are there, a bad provider, --no-provision without an inventory', () => {
    expect(() => labRequest({ inventory, servers: '3' })).toThrow('--servers cannot apply to hosts from an inventory');
    expect(() => labRequest({ provider: 'cloud' })).toThrow(/--provider cloud is not a provider; the providers: netns, inventory, vagrant/);
    expect(() => labRequest({ provider: 'inventory' })).toThrow('--provider inventory needs --inventory FILE');
    expect(() => labRequest({ provision: false })).toThrow('--no-provision applies to --inventory');
    expect(() => labRequest({ inventory: join(root, 'missing.ini') })).toThrow(UsageError);
  });

  it('a lab file in the environment (NOMAD_LAB_CONFIG) describes a netns lab; it does not stop an inventory run', () => {
    process.env['NOMAD_LAB_CONFIG'] = join(root, 'no-such-lab.yaml');
    try {
      expect(labRequest({ inventory }).provider).toBe('inventory');
      expect(() => labRequest({})).toThrow(/lab file .*no-such-lab.yaml does not exist/);
    } finally {
      delete process.env['NOMAD_LAB_CONFIG'];
    }
  });
});

describe('one name, one lab', () => {
  it("a run that asks for a netns lab under the name of another provider's lab is refused before anything is created", async () => {
    const dir = join(root, 'labs', 'shared');
    mkdirSync(dir, { recursive: true });
    // An inventory lab kept up by `lab up` (persistent; its owner, this process, is alive).
    const state = {
      version: 1,
      provider: 'inventory',
      phase: 'up',
      persistent: true,
      owner: { pid: process.pid, startTicks: 0 },
      nomad: {},
      createdAt: '',
      plan: { name: 'shared', hosts: [] },
      started: [],
      provisioned: true,
    };
    writeFileSync(join(dir, 'state.json'), JSON.stringify(state));
    const request = labRequest({ lab: 'shared' });
    await expect(checkRunFits(request, { servers: 1, clients: 2, acl: false })).rejects.toThrow(
      'lab shared on this machine is of the inventory provider; this command asks for a netns lab of that name',
    );
  });

  it('ACLs on an SSH lab are refused up front (a usage error, not a broken run)', async () => {
    await expect(checkRunFits(labRequest({ inventory, lab: 'inv-acl' }), { servers: 1, clients: 1, acl: true })).rejects.toThrow(
      'ACLs are not set up on SSH labs',
    );
  });
});

describe('nomadFlag: which binary', () => {
  const log = () => undefined;
  it('a flag wins over the environment; a path in the environment wins over a release in it', async () => {
    expect(await nomadFlag({ nomad: '/x/nomad' }, log, undefined, { NOMAD_LAB_NOMAD_VERSION: '1.6.3' })).toBe('/x/nomad');
    expect(await nomadFlag({}, log, undefined, { NOMAD_LAB_NOMAD_VERSION: '1.6.3', NOMAD_BINARY: '/y/nomad' })).toBeUndefined();
    await expect(nomadFlag({ nomad: '/x/nomad', nomadVersion: '1.6.3' }, log)).rejects.toThrow('--nomad and --nomad-version both name the binary');
  });
});
