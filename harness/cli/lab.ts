// `npm run lab -- up|down|status|audit|shell`: bring a netns lab up, tear it down, show it, audit for leaks, open a shell on a host.
import { Command, CommanderError, Option } from 'commander';
import { resolveLabConfig, DEFAULTS, type LabFlags } from '../config/lab-config.ts';
import { auditLeaks, formatLeaks } from '../lab/audit.ts';
import { cleanLeftovers, labStatus, labUp, type LabStatus } from '../lab/netns-lab.ts';
import { listLabs, ownedByThisProcess, readState } from '../lab/state.ts';
import { teardownLab } from '../lab/teardown.ts';
import { cleanSshLeftovers, inventoryLabName, listSshLabs, ownedByMe, planRemote, readSshState, remoteLabDown, remoteLabStatus, remoteLabUp, type RemoteLabStatus, type RemoteSource } from '../lab/ssh-lab.ts';
import { labRoot, repoRoot } from '../config/paths.ts';
import { planLab } from '../lab/topology.ts';
import { resolveNomad } from '../nomad/binary.ts';
import { ExitCode, HarnessError, UsageError, showCommand } from '../util/errors.ts';
import { isAlive } from '../exec/procs.ts';
import { interactive } from '../exec/pty.ts';
import { shellCommand, sshShellFor } from '../lab/shell.ts';
import { info, out, waiting } from '../util/log.ts';
import { runCommand } from './entry.ts';
import { nomadFlag, nomadVersionHelp } from './flags.ts';

const program = new Command('lab')
  .description('Manage nomad-lab labs: real Nomad agents in Linux network namespaces (needs root).')
  .exitOverride()
  .showHelpAfterError('(run with --help for usage)')
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

const labOptions = (cmd: Command) =>
  cmd
    .option('-n, --name <name>', `lab name (env NOMAD_LAB_NAME)`, undefined)
    .option('-c, --config <file>', 'lab file (YAML, e.g. labs/three-servers.yaml) (env NOMAD_LAB_CONFIG)')
    .addOption(new Option('--servers <n>', `number of servers (default ${DEFAULTS.servers})`))
    .addOption(new Option('--clients <n>', `number of clients (default ${DEFAULTS.clients})`))
    .option('--subnet <cidr>', 'a /24 inside 198.18.0.0/15 (default: derived from the name)')
    .option('--client-datacenters <list>', 'datacenter per client, in order, e.g. dc1,dc2,dc2 (default: all in dc1)')
    .option('--acl', 'turn Nomad ACLs on; tokens are kept in the lab directory (mode 0600), never printed')
    .option('--nomad <path>', 'nomad binary to run (env NOMAD_BINARY; default: nomad on PATH, else the pinned build)');

labOptions(program.command('up'))
  .description('create the lab and start its agents; returns when a leader exists and every client is ready')
  .option('--json', 'print the status as JSON')
  .option('--sshd', 'no agents: an OpenSSH server per host and an Ansible inventory, for `--inventory` runs and the fault playbooks')
  .option('--inventory <file>', 'existing hosts from an Ansible inventory (groups servers, clients), over SSH: provision with the role, start, wait until ready')
  .option('--no-provision', 'with --inventory: take the hosts as they are (agents already running)')
  .option('--vagrant', 'the VMs of `vagrant up` (vagrant/topology.yaml), over SSH: check they are ready')
  .option('--nomad-version <x.y.z>', nomadVersionHelp())
  .action(async (flags: LabFlags & { json?: boolean; inventory?: string; provision: boolean; vagrant?: boolean; nomadVersion?: string }) => {
    await runCommand(async ({ signal }) => {
      requireRoot();
      if (flags.nomadVersion !== undefined) flags.nomad = await nomadFlag(flags, info, signal);
      if (flags.inventory !== undefined || flags.vagrant) return remoteUp(flags, signal);
      if (!flags.provision) throw new UsageError('--no-provision applies to --inventory');
      const config = resolveLabConfig(flags);
      const plan = planLab(config.spec);
      await cleanLeftovers(info);
      try {
        const up = await labUp({ config, persistent: true, signal, log: info, waiting });
        signal.throwIfAborted();
        if (!up.reused) {
          const t = up.timings;
          info(
            `lab ${plan.name} up in ${t.totalSeconds.toFixed(1)}s (network ${t.networkSeconds.toFixed(1)}s, ansible ${t.ansibleSeconds.toFixed(1)}s, agents to ready ${t.readySeconds.toFixed(1)}s)`,
          );
        }
      } catch (error) {
        // Tear down only what this run created; a lab owned by someone else is left alone.
        const state = readState(plan.name);
        if (state && ownedByThisProcess(state)) {
          info(`tearing down lab ${plan.name}`);
          await teardownLab(plan.name, plan, info);
          info(`lab ${plan.name} torn down`);
        } else {
          info(`lab ${plan.name}: nothing of this run to tear down (${state ? `owned by process ${state.owner.pid}` : 'no state file'})`);
        }
        throw error;
      }
      return printStatus(plan.name, flags.json === true);
    });
  });

labOptions(program.command('down'))
  .description('tear the lab down (idempotent): jobs, agents, tasks, mounts, cgroups, namespaces, rules, route')
  .option('--all', 'tear down every lab on this machine')
  .option('--force', 'also tear down a lab that a running command (a scenario) still uses')
  .action(async (flags: LabFlags & { all?: boolean; force?: boolean }) => {
    await runCommand(async () => {
      requireRoot();
      await cleanLeftovers(info);
      await cleanSshLeftovers(info);
      const names = flags.all ? [...listLabs(), ...listSshLabs()] : [resolveLabConfig(flags).spec.name];
      for (const name of names) {
        const remote = readSshState(name);
        if (remote) {
          if (!remote.persistent && isAlive(remote.owner) && !flags.force) {
            throw new UsageError(`lab ${name} belongs to a running command (process ${remote.owner.pid}, ${remote.phase})`, 'stop that command (it brings its lab down), or pass --force');
          }
          if (!(await remoteLabDown(name, info))) return ExitCode.infra;
          info(`lab ${name} is down: hosts healed, its jobs purged, agents it started stopped (${remote.started.join(', ') || 'none'}); the hosts stay`);
          continue;
        }
        const state = readState(name);
        if (!state) {
          info(`lab ${name} is not up; nothing to do`);
        } else if (!state.persistent && isAlive(state.owner) && !flags.force) {
          throw new UsageError(`lab ${name} belongs to a running command (process ${state.owner.pid}, ${state.phase})`, 'stop that command (it tears its lab down), or pass --force');
        } else {
          await teardownLab(name, state.plan, info);
        }
        const leaks = await auditLeaks(name);
        if (leaks.length > 0) {
          out(`lab ${name}: teardown left:\n${formatLeaks(leaks)}`);
          return ExitCode.infra;
        }
        info(`lab ${name} is down; leak audit clean`);
      }
      return ExitCode.pass;
    });
  });

labOptions(program.command('status'))
  .description('show hosts, addresses, namespaces, node IDs, statuses and the Nomad version')
  .option('--json', 'print as JSON')
  .option('-a, --all', 'list every lab on this machine')
  .action(async (flags: LabFlags & { json?: boolean; all?: boolean }) => {
    await runCommand(async () => {
      requireRoot();
      await cleanLeftovers(info);
      if (flags.all) {
        const names = [...listLabs(), ...listSshLabs()];
        if (names.length === 0) out(`no labs under ${labRoot()}`);
        for (const n of names) await printStatus(n, flags.json === true);
        return ExitCode.pass;
      }
      const nomad = await resolveNomad(resolveLabConfig(flags).nomad).catch(() => undefined);
      if (nomad) info(`nomad: ${nomad.path} (${nomad.source}): ${nomad.versionText}`);
      return printStatus(resolveLabConfig(flags).spec.name, flags.json === true);
    });
  });

program
  .command('audit')
  .description('look for anything labs left on this machine (namespaces, links, rules, routes, mounts, processes, cgroups)')
  .option('-n, --name <name>', 'only this lab')
  .action(async (flags: { name?: string }) => {
    await runCommand(async () => {
      requireRoot();
      const up = listLabs().filter((n) => readState(n)?.phase === 'up');
      const leaks = await auditLeaks(flags.name, { ignoreLabs: flags.name ? [] : up });
      if (leaks.length === 0) {
        out(`leak audit clean${flags.name ? ` for lab ${flags.name}` : ''}${up.length && !flags.name ? ` (labs up, not counted: ${up.join(', ')})` : ''}`);
        return ExitCode.pass;
      }
      out(`leak audit found ${leaks.length} leftover(s):\n${formatLeaks(leaks)}`);
      return ExitCode.fail;
    });
  });

program
  .command('shell')
  .description("open an interactive shell on a lab host: bash in the host's network namespace (netns), or ssh (inventory, vagrant); NOMAD_ADDR set to its API")
  .argument('<host>', 'lab host, e.g. client1 or server1 (see lab status)')
  .option('-n, --name <name>', 'lab name (env NOMAD_LAB_NAME)')
  .action(async (hostName: string, flags: { name?: string }) => {
    await runCommand(async ({ signal }) => {
      requireRoot();
      const labName = resolveLabConfig(flags.name === undefined ? {} : { name: flags.name }).spec.name;
      const vms = await unmanagedVagrant(labName);
      const shell = vms ? sshShellFor({ plan: vms, phase: 'up' }, hostName) : shellCommand(labName, hostName);
      if (!process.stdin.isTTY || !process.stdout.isTTY) {
        throw new UsageError(
          'lab shell needs a terminal; its stdin and stdout are not both a TTY (a pipe, a script or CI)',
          `for a script, run its command on the host: NOMAD_ADDR=${shell.env['NOMAD_ADDR']} ${shell.scriptHint}`,
        );
      }
      info(`${showCommand(shell.argv)} (lab ${labName}, NOMAD_ADDR=${shell.env['NOMAD_ADDR']}); exit or Ctrl-D leaves it`);
      // The shell's own exit status, as ssh and nsenter pass it on.
      return (await interactive(shell.argv, { env: { ...process.env, ...shell.env } as Record<string, string>, signal })) as ExitCode;
    });
  });

/** Every lab command reads root-only state and changes namespaces: say so before anything else. */
function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new HarnessError('lab commands need root (network namespaces, iptables, agents)', { hint: 'run it as root, e.g. sudo npm run lab -- up' });
  }
}

async function remoteUp(flags: LabFlags & { json?: boolean; inventory?: string; provision: boolean; vagrant?: boolean }, signal: AbortSignal): Promise<ExitCode> {
  if (flags.inventory !== undefined && flags.vagrant) throw new UsageError('--inventory and --vagrant both name the hosts; give one');
  if (flags.sshd) throw new UsageError('--sshd makes a netns lab; it does not go with --inventory or --vagrant');
  // The hosts decide the topology; a flag that would change it must not be silently ignored.
  const ignored = (['servers', 'clients', 'subnet', 'clientDatacenters', 'config', 'acl'] as const).filter((k) => flags[k] !== undefined);
  if (ignored.length > 0) throw new UsageError(`--${ignored.map((k) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)).join(', --')} cannot apply to hosts from ${flags.vagrant ? 'Vagrant' : 'an inventory'}`, flags.vagrant ? 'set NOMAD_LAB_* for vagrant up (README, "The VM lab")' : 'the inventory says which hosts are servers and clients; ACLs are not set up on SSH labs yet');
  const source: RemoteSource = flags.inventory !== undefined ? { kind: 'inventory', file: flags.inventory, provision: flags.provision } : { kind: 'vagrant', dir: repoRoot, provision: false };
  const name = flags.name ?? (source.kind === 'inventory' ? inventoryLabName(source.file) : 'vagrant');
  const plan = await planRemote(source, name);
  const nomad = await resolveNomad(resolveLabConfig(flags).nomad);
  try {
    const up = await remoteLabUp({ plan, nomad, provision: source.provision, persistent: true, signal, log: info, waiting });
    await up.driver.close();
    info(`lab ${name} up (${up.provisionSeconds.toFixed(1)}s provisioning, ${up.readySeconds.toFixed(1)}s to ready)`);
  } catch (error) {
    const state = readSshState(name);
    if (state && ownedByMe(state)) await remoteLabDown(name, info);
    throw error;
  }
  return printStatus(name, flags.json === true);
}

async function printRemoteStatus(status: RemoteLabStatus, json: boolean): Promise<ExitCode> {
  if (json) out(JSON.stringify(status, null, 2));
  else {
    const head = [
      `lab ${status.name} (${status.provider} provider: ${status.source}): ${status.phase}${status.persistent ? '' : ', owned by a running command'}, since ${status.createdAt}`,
      `Nomad ${status.nomadVersionReported ?? status.nomad.version} (${status.nomad.path} provisioned from here when the lab came up)`,
    ];
    if (status.apiError) head.push(`API: ${status.apiError}`);
    const rows = [['HOST', 'ROLE', 'DC', 'ADDRESS', 'SSH', 'MANAGER', 'AGENT', 'NODE ID', 'STATUS']];
    for (const h of status.hosts) rows.push([h.name, h.role, h.datacenter, h.ip, h.ssh, h.manager, h.agent, h.nodeId?.slice(0, 8) ?? '-', h.status ?? '-']);
    out([...head, ...table(rows)].join('\n'));
  }
  const ready = status.hosts.every((h) => h.agent === 'running' && (h.role !== 'client' || h.status === 'ready'));
  return status.phase === 'up' && ready ? ExitCode.pass : ExitCode.fail;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
}

/** The VMs of a plain `vagrant up`: a lab no lab command brought up, reached through vagrant ssh-config. */
async function unmanagedVagrant(name: string) {
  if (name !== 'vagrant' || readSshState(name) !== undefined || readState(name) !== undefined) return undefined;
  return planRemote({ kind: 'vagrant', dir: repoRoot, provision: false }, name);
}

async function printStatus(name: string, json: boolean): Promise<ExitCode> {
  const remote = await remoteLabStatus(name, await unmanagedVagrant(name));
  if (remote) return printRemoteStatus(remote, json);
  const status = await labStatus(name);
  if (!status) {
    throw new UsageError(`no lab named ${name} on this machine`, 'start one with `npm run lab -- up`');
  }
  out(json ? JSON.stringify(status, null, 2) : formatStatus(status));
  // An sshd lab has no agents of its own: up means every sshd runs.
  const clientsReady = status.inventory !== undefined || status.hosts.filter((h) => h.role === 'client').every((h) => h.status === 'ready');
  const agentsUp = status.hosts.every((h) => h.agent === 'running');
  return status.phase === 'up' && clientsReady && agentsUp ? ExitCode.pass : ExitCode.fail;
}

export function formatStatus(s: LabStatus): string {
  const head = [
    `lab ${s.name} (id ${s.id}, netns provider): ${s.phase}${s.persistent ? '' : ', owned by a running command'}, since ${s.createdAt}`,
    `subnet ${s.subnet} on bridge ${s.bridge}; Nomad ${s.nomadVersionReported ?? s.nomad.version} from ${s.nomad.path} (${s.nomad.source})`,
  ];
  if (s.inventory) head.push(`SSH-reachable hosts (sshd, no agents of the lab's own); inventory: ${s.inventory}`);
  if (s.apiError && !s.inventory) head.push(`API: ${s.apiError}`);
  const rows = [['HOST', 'ROLE', 'DC', 'ADDRESS', 'NETNS', 'PID', s.inventory ? 'SSHD' : 'AGENT', 'NODE ID', 'STATUS']];
  for (const h of s.hosts) {
    rows.push([
      h.name,
      h.role,
      h.datacenter + (h.nodeDatacenter !== undefined && h.nodeDatacenter !== h.datacenter ? ` (Nomad says ${h.nodeDatacenter})` : ''),
      h.ip,
      h.netns + (h.agent === 'running' && !h.netnsOk ? ' (MISMATCH)' : ''),
      String(h.pid ?? '-'),
      h.agent,
      h.nodeId?.slice(0, 8) ?? '-',
      h.status ?? '-',
    ]);
  }
  return [...head, ...table(rows)].join('\n');
}

if (process.argv.length <= 2) {
  program.outputHelp();
  process.exitCode = ExitCode.infra;
} else {
  await program.parseAsync(process.argv).catch((error: unknown) => {
    // Commander printed its own message (with the help hint); --help and --version exit 0.
    process.exitCode = error instanceof CommanderError ? (error.exitCode === 0 ? ExitCode.pass : ExitCode.infra) : ExitCode.infra;
    if (!(error instanceof CommanderError)) process.stderr.write(`error: ${String(error)}\n`);
  });
}
