// Who the harness works for. Network-namespace labs need root; SSH labs (inventory, Vagrant) do not,
// and run as whoever invoked the command. Under sudo that is SUDO_USER: `~` in an inventory, their
// ~/.ssh (keys, known_hosts, ssh_config) and their SSH agent are what ssh and Ansible would use had
// they run it themselves. Lab state follows the effective user: root's labs under /var/lib/nomad-lab,
// anyone else's under $XDG_STATE_HOME/nomad-lab.
import { homedir, userInfo } from 'node:os';
import { lookupSync } from '../exec/local.ts';

export interface InvokingUser {
  name: string;
  /** Their home: what `~` means in an inventory and where ~/.ssh is. */
  home: string;
  /** Root running for someone through sudo (SUDO_USER set). */
  viaSudo: boolean;
}

/** One line of passwd(5) (as `getent passwd` prints it): name, uid and home, or undefined. */
export function passwdEntry(line: string): { name: string; uid: number; home: string } | undefined {
  const f = line.trim().split(':');
  if (f.length < 7 || f[0] === '' || !/^\d+$/.test(f[2] ?? '') || !(f[5] ?? '').startsWith('/')) return undefined;
  return { name: f[0]!, uid: Number(f[2]), home: f[5]! };
}

/**
 * The invoking user, from the effective uid and sudo's variables (pure: the caller passes what it
 * read). SUDO_USER counts only when the process really is root: a user who exports it gains nothing.
 */
export function invokingUserFrom(
  env: Readonly<Record<string, string | undefined>>,
  uid: number,
  self: { name: string; home: string },
  passwd: readonly string[],
): InvokingUser {
  const sudoUser = env['SUDO_USER'];
  if (uid === 0 && sudoUser !== undefined && sudoUser !== '' && sudoUser !== 'root') {
    const entry = passwd.map(passwdEntry).find((e) => e?.name === sudoUser);
    if (entry) return { name: entry.name, home: entry.home, viaSudo: true };
  }
  return { name: self.name, home: self.home, viaSudo: false };
}

let cached: InvokingUser | undefined;

/** The invoking user of this process (read once). */
export function invokingUser(): InvokingUser {
  if (cached) return cached;
  const info = userInfo();
  const sudoUser = process.env['SUDO_USER'];
  // getent asks NSS (LDAP and the like), not only /etc/passwd; no answer: the user stays root.
  const passwd = process.getuid?.() === 0 && sudoUser ? (lookupSync(['getent', 'passwd', sudoUser])?.split('\n') ?? []) : [];
  cached = invokingUserFrom(process.env, process.getuid?.() ?? -1, { name: info.username, home: homedir() }, passwd);
  return cached;
}

/** Whether this process may make network namespaces, iptables rules and root-owned agents. */
export const isRoot = (): boolean => process.getuid?.() === 0;
