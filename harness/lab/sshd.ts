// The SSH-reachable netns lab (`lab up --sshd`): one OpenSSH server per host namespace, with its own
// config, host key and log under the lab directory, lab-private keys, and an Ansible inventory that
// the inventory provider and the fault playbooks use. Never touches /root/.ssh or /etc/ssh.
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../exec/local.ts';
import { quoteWord } from '../exec/ssh.ts';
import { HarnessError } from '../util/errors.ts';
import { writeFileAtomic } from '../util/files.ts';
import { pollUntil } from '../util/poll.ts';
import { hostDirs, inventoryGroups, labHostVars } from './ansible.ts';
import { servers, type HostPlan, type LabPlan } from './topology.ts';

export interface SshdPaths {
  dir: string;
  clientKey: string;
  knownHosts: string;
  inventory: string;
  /** Forced command that logs each SSH command to the host's sshd log, then runs it. */
  auditWrapper: string;
  authorizedKeys: string;
}

export const sshdPaths = (labDirectory: string): SshdPaths => {
  const dir = join(labDirectory, 'ssh');
  return {
    dir,
    clientKey: join(dir, 'id_ed25519'),
    knownHosts: join(dir, 'known_hosts'),
    inventory: join(dir, 'inventory.json'),
    auditWrapper: join(dir, 'log-command'),
    authorizedKeys: join(dir, 'authorized_keys'),
  };
};

export interface HostSshd {
  config: string;
  hostKey: string;
  pidFile: string;
  log: string;
}

export const hostSshd = (labDirectory: string, host: HostPlan): HostSshd => {
  const dir = join(sshdPaths(labDirectory).dir, host.name);
  return { config: join(dir, 'sshd_config'), hostKey: join(dir, 'ssh_host_ed25519_key'), pidFile: join(dir, 'sshd.pid'), log: join(dir, 'sshd.log') };
};

/** sshd_config of one host (pure): listens on the namespace address only, keys only, root by key. */
export function sshdConfig(host: HostPlan, own: HostSshd, paths: SshdPaths): string {
  return [
    `# nomad-lab: sshd of lab host ${host.name}, inside its network namespace`,
    `ListenAddress ${host.ip}:22`,
    `HostKey ${own.hostKey}`,
    `PidFile ${own.pidFile}`,
    `AuthorizedKeysFile ${paths.authorizedKeys}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'X11Forwarding no',
    'AllowTcpForwarding no',
    'PrintMotd no',
    // sshd itself never logs a command's text; the forced command does (SSH_ORIGINAL_COMMAND).
    // sshd hands this to the user's shell: quoted, a lab root with spaces still works.
    `ForceCommand ${quoteWord(paths.auditWrapper)} ${quoteWord(own.log)}`,
    'Subsystem sftp /usr/lib/openssh/sftp-server',
    'LogLevel VERBOSE',
    '',
  ].join('\n');
}

/**
 * The forced command: appends `<time> <host> command: <what the client asked>` to the sshd log, then
 * runs it as sshd would have (the user's shell with -c), or a login shell when nothing was asked.
 */
export const AUDIT_WRAPPER = `#!/bin/sh
# nomad-lab: logs every command that arrives over SSH, then runs it unchanged.
log="$1"
if [ -n "$SSH_ORIGINAL_COMMAND" ]; then
  # One line per command: a newline inside an argument must not forge a second log line.
  printf '%s sshd-session%s command: %s\\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" "[$$]" "$(printf '%s' "$SSH_ORIGINAL_COMMAND" | tr '\\n' ' ')" >> "$log"
  exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"
fi
printf '%s sshd-session%s interactive shell\\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" "[$$]" >> "$log"
exec /bin/bash -l
`;

/** The inventory of an sshd lab (pure): the role's daemon manager, everything under the lab directory. */
export function sshdInventory(plan: LabPlan, labDirectory: string): object {
  const paths = sshdPaths(labDirectory);
  const hostVars = (h: HostPlan) => {
    const d = hostDirs(labDirectory, h);
    return { ansible_host: h.ip, ...labHostVars(labDirectory, h), nomad_bin_dir: join(d.root, 'bin'), nomad_pid_file: d.pidFile, nomad_log_file: d.logFile };
  };
  return {
    all: {
      vars: {
        ansible_user: 'root',
        ansible_ssh_private_key_file: paths.clientKey,
        // The lab's own known_hosts, filled from the host keys it generated: checked, never guessed.
        ansible_ssh_common_args: `-F /dev/null -o IdentitiesOnly=yes -o UserKnownHostsFile=${paths.knownHosts} -o StrictHostKeyChecking=yes`,
        ansible_python_interpreter: '/usr/bin/python3',
        nomad_service_manager: 'daemon',
        nomad_server_addrs: servers(plan).map((s) => s.ip),
        nomad_lab_known_hosts: paths.knownHosts,
      },
      children: inventoryGroups(plan, hostVars),
    },
  };
}

const keygen = (file: string, comment: string) => run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);

/** Keys, configs, the audit wrapper, known_hosts and the inventory; then one sshd per host. */
export async function startSshdHosts(plan: LabPlan, labDirectory: string, log: (m: string) => void): Promise<Array<{ host: string; pid: number }>> {
  const paths = sshdPaths(labDirectory);
  if (!existsSync('/usr/sbin/sshd'))
    throw new HarnessError('OpenSSH server is not installed (/usr/sbin/sshd)', {
      host: 'local',
      hint: 'sudo npm run setup (it installs openssh-server; the package starts no sshd here)',
    });
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  // sshd's privilege separation directory; the openssh-server package creates it only when its service starts.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  if (!existsSync(paths.clientKey)) await keygen(paths.clientKey, `nomad-lab ${plan.name}`);
  writeFileAtomic(paths.authorizedKeys, readFileSync(`${paths.clientKey}.pub`, 'utf8'), 0o600);
  writeFileAtomic(paths.auditWrapper, AUDIT_WRAPPER, 0o755);
  chmodSync(paths.auditWrapper, 0o755);
  const known: string[] = [];
  const started: Array<{ host: string; pid: number }> = [];
  for (const host of plan.hosts) {
    const own = hostSshd(labDirectory, host);
    mkdirSync(join(paths.dir, host.name), { recursive: true, mode: 0o700 });
    if (!existsSync(own.hostKey)) await keygen(own.hostKey, `nomad-lab ${plan.name} ${host.name}`);
    const [type, key] = readFileSync(`${own.hostKey}.pub`, 'utf8').trim().split(/\s+/);
    known.push(`${host.ip} ${type} ${key}`);
    writeFileAtomic(own.config, sshdConfig(host, own, paths), 0o600);
    const argv = ['nsenter', `--net=/run/netns/${host.netns}`, '--', '/usr/sbin/sshd', '-f', own.config, '-E', own.log];
    // sshd checks its config and binds before it returns; its daemon child writes the pid file a moment later.
    await run(argv, { host: host.name, timeoutMs: 15_000 });
    // The file appears before its number is in it: wait for the number, not the file.
    const pidIn = (): number => {
      const n = existsSync(own.pidFile) ? Number(readFileSync(own.pidFile, 'utf8').trim()) : NaN;
      return Number.isInteger(n) && n > 0 ? n : 0;
    };
    if (!(await pollUntil(() => pidIn() > 0, { timeoutMs: 10_000, intervalsMs: [20] })))
      throw new HarnessError(`sshd started but wrote no pid to ${own.pidFile} within 10s; its log: ${own.log}`, { host: host.name, command: argv });
    const pid = pidIn();
    started.push({ host: host.name, pid });
  }
  writeFileAtomic(paths.knownHosts, `${known.join('\n')}\n`, 0o600);
  writeFileAtomic(paths.inventory, `${JSON.stringify(sshdInventory(plan, labDirectory), null, 2)}\n`, 0o600);
  log(`sshd on ${plan.hosts.map((h) => `${h.name} (${h.ip}:22)`).join(', ')}; inventory ${paths.inventory}`);
  return started;
}
