// Which command opens an interactive shell on host X of lab Y, and with what environment; one case per kind of lab.
import { UsageError } from '../util/errors.ts';
import type { LabHost } from './driver.ts';
import { dirname } from 'node:path';
import { readToken } from './acl.ts';
import { labTls, nomadCliEnv } from './tls.ts';
import type { LabState, SshLabState } from './store.ts';
import type { HostPlan } from './topology.ts';

export interface ShellCommand {
  /** The command to run on this machine's terminal. */
  argv: string[];
  /** Variables to add to this process's environment for it. */
  env: Record<string, string>;
  host: LabHost;
  /** How a script gets the same place without a terminal: argv with `<command>` where its command goes. */
  scriptHint: string;
}

/**
 * A netns lab's host, from its state and the environment the shell starts from; on a lab with ACLs
 * the shell gets the management token as NOMAD_TOKEN (read from the lab directory unless given), on
 * a lab with TLS the CLI's TLS files (NOMAD_CACERT, NOMAD_CLIENT_CERT, NOMAD_CLIENT_KEY).
 */
export function shellCommandFor(
  state: LabState,
  hostName: string,
  baseEnv: NodeJS.ProcessEnv = process.env,
  token: string | undefined = readToken(state.plan, 'management'),
): ShellCommand {
  const { plan } = state;
  if (state.phase !== 'up') throw new UsageError(`lab ${plan.name} is ${state.phase}, not up`, `check it with nomad-lab lab status --lab ${plan.name}`);
  return netnsShell(state, findHost(plan, hostName), baseEnv, token);
}

/**
 * An SSH lab's host: OpenSSH's client with the same key (or the user's agent), user and port as the
 * harness, checking the host key against the same known_hosts files (`knownHosts`: those the harness
 * read, from exec/ssh.ts knownHostsFiles; never accept-new here). NOMAD_ADDR (on a lab with TLS also
 * the TLS files' paths) is set on this side for the user's own nomad CLI; the remote login shell is
 * the host's own.
 */
export function sshShellFor(state: Pick<SshLabState, 'plan' | 'phase'>, hostName: string, knownHosts?: { user: string[]; global: string[] }): ShellCommand {
  const { plan } = state;
  if (state.phase !== 'up') throw new UsageError(`lab ${plan.name} is ${state.phase}, not up`, `check it with nomad-lab lab status --lab ${plan.name}`);
  const host = findHost(plan, hostName);
  const { ssh } = host;
  // ssh splits these options' values at blanks: a path with one is double-quoted.
  const files = (list: string[]) => list.map((f) => (/\s/.test(f) ? `"${f}"` : f)).join(' ');
  const user = knownHosts?.user ?? (ssh.knownHosts === undefined ? [] : [ssh.knownHosts]);
  const base = [
    'ssh',
    '-F',
    '/dev/null',
    // No key file: the agent's keys, which IdentitiesOnly would hide.
    ...(ssh.identityFile === undefined ? [] : ['-o', 'IdentitiesOnly=yes', '-i', ssh.identityFile]),
    '-p',
    String(ssh.port),
    ...(user.length > 0 ? ['-o', `UserKnownHostsFile=${files(user)}`] : []),
    ...(knownHosts && knownHosts.global.length > 0 ? ['-o', `GlobalKnownHostsFile=${files(knownHosts.global)}`] : []),
    '-o',
    'StrictHostKeyChecking=yes',
    `${ssh.user}@${ssh.address}`,
  ];
  return {
    argv: [...base.slice(0, -1), '-t', base.at(-1)!],
    // On a lab with TLS: https, and the CA and the CLI's certificate and key as paths on this machine.
    env: { ...nomadCliEnv(host.ip, labTls(plan)), NOMAD_LAB_NAME: plan.name, NOMAD_LAB_HOST: host.name },
    host,
    scriptHint: `${base.join(' ')} -- <command>`,
  };
}

/** The named host of a lab, or a usage error that lists the lab's hosts. */
function findHost<H extends LabHost>(plan: { name: string; hosts: H[] }, hostName: string): H {
  const host = plan.hosts.find((h) => h.name === hostName);
  if (host) return host;
  const hosts = plan.hosts.map((h) => `${h.name} (${h.role}, ${h.ip})`).join(', ');
  const example = plan.hosts.find((h) => h.role === 'client')?.name ?? plan.hosts[0]?.name ?? '<host>';
  throw new UsageError(
    `lab ${plan.name} has no host named ${JSON.stringify(hostName)}; its hosts: ${hosts}`,
    `nomad-lab lab shell ${example} --lab ${plan.name}`,
  );
}

/**
 * A root bash inside the host's network namespace (the mount namespace stays the host's, as for the
 * agents). The prompt is set by PROMPT_COMMAND, which rc files leave alone while they overwrite PS1.
 */
function netnsShell(state: LabState, host: HostPlan, baseEnv: NodeJS.ProcessEnv, token: string | undefined): ShellCommand {
  const netns = `/run/netns/${host.netns}`;
  const prompt = `[${state.plan.name}/${host.name} ${host.ip}] \\w\\$ `;
  const noProxy = [baseEnv['NO_PROXY'] ?? baseEnv['no_proxy'], state.plan.subnet].filter((x) => x !== undefined && x !== '').join(',');
  return {
    argv: ['nsenter', `--net=${netns}`, '--', 'bash'],
    env: {
      // On a lab with TLS: https, and the CA and the CLI's certificate and key as paths.
      ...nomadCliEnv(host.ip, labTls(state.plan)),
      NOMAD_LAB_NAME: state.plan.name,
      NOMAD_LAB_HOST: host.name,
      // The lab's own nomad first on PATH: `nomad node status -self` speaks the lab's API version.
      PATH: [dirname(state.nomad.path), baseEnv['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin'].join(':'),
      ...(token === undefined ? {} : { NOMAD_TOKEN: token }),
      PS1: prompt,
      PROMPT_COMMAND: `PS1='${prompt}'`,
      // The namespace has no route out: a proxy of the host's environment is unreachable from it.
      NO_PROXY: noProxy,
      no_proxy: noProxy,
    },
    host,
    scriptHint: `nsenter --net=${netns} -- <command>`,
  };
}
