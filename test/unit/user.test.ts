// Who the harness works for: under sudo the invoking user (SUDO_USER), whose home `~` means.
import { afterEach, describe, expect, it } from 'vitest';
import { labRoot } from '../../harness/config/paths.ts';
import { invokingUserFrom, passwdEntry } from '../../harness/config/user.ts';

const passwd = ['root:x:0:0:root:/root:/bin/bash', 'alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash', 'broken line'];
const root = { name: 'root', home: '/root' };

describe('the invoking user', () => {
  it('is SUDO_USER when root runs for them through sudo, with their home from passwd', () => {
    expect(invokingUserFrom({ SUDO_USER: 'alice' }, 0, root, passwd)).toEqual({ name: 'alice', home: '/home/alice', viaSudo: true });
  });
  it('is the process user without sudo, and SUDO_USER is ignored when the process is not root (exporting it gains nothing)', () => {
    expect(invokingUserFrom({}, 0, root, passwd)).toEqual({ name: 'root', home: '/root', viaSudo: false });
    expect(invokingUserFrom({ SUDO_USER: 'alice' }, 1001, { name: 'bob', home: '/home/bob' }, passwd)).toEqual({
      name: 'bob',
      home: '/home/bob',
      viaSudo: false,
    });
  });
  it('stays root when SUDO_USER is root, empty or unknown to passwd', () => {
    for (const sudoUser of ['root', '', 'mallory']) expect(invokingUserFrom({ SUDO_USER: sudoUser }, 0, root, passwd).viaSudo).toBe(false);
  });
  it('reads passwd lines, refusing malformed ones', () => {
    expect(passwdEntry('alice:x:1000:1000::/home/alice:/bin/sh')).toEqual({ name: 'alice', uid: 1000, home: '/home/alice' });
    expect(passwdEntry('alice:x:abc:1000::/home/alice:/bin/sh')).toBeUndefined();
    expect(passwdEntry('alice:x:1000:1000::relative:/bin/sh')).toBeUndefined();
    expect(passwdEntry('')).toBeUndefined();
  });
});

describe('the lab root', () => {
  const saved = { root: process.env['NOMAD_LAB_ROOT'], xdg: process.env['XDG_STATE_HOME'] };
  afterEach(() => {
    for (const [k, v] of [
      ['NOMAD_LAB_ROOT', saved.root],
      ['XDG_STATE_HOME', saved.xdg],
    ] as const)
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  });
  it('is NOMAD_LAB_ROOT when set, whoever runs', () => {
    process.env['NOMAD_LAB_ROOT'] = '/srv/labs';
    expect(labRoot()).toBe('/srv/labs');
  });
  it.runIf(process.getuid?.() === 0)("is /var/lib/nomad-lab for root, whatever XDG_STATE_HOME says (root's labs are root's)", () => {
    delete process.env['NOMAD_LAB_ROOT'];
    process.env['XDG_STATE_HOME'] = '/tmp/xdg';
    expect(labRoot()).toBe('/var/lib/nomad-lab');
  });
});
