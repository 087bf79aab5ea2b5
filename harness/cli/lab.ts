// `nomad-lab lab up|down|status|audit|shell|env`: bring a lab up (any provider), tear it down, show
// it, audit this machine for leaks, open a shell on a host, print the environment for the nomad CLI.
import { dirname } from 'node:path';
import { Command } from 'commander';
import { auditLeaks, formatLeaks } from '../lab/audit.ts';
import { checkName } from '../config/names.ts';
import { isRoot } from '../config/user.ts';
import { bringDown, bringUp, labEnvironment, labNames, labRequest, shellOn, statusOf, sweepLeftovers, type LabSelection } from '../lab/labs.ts';
import { readLab } from '../lab/store.ts';
import { resolveNomad } from '../nomad/binary.ts';
import { ExitCode, HarnessError, UsageError, showCommand } from '../util/errors.ts';
import { interactive } from '../exec/pty.ts';
import { info, out, waiting } from '../util/log.ts';
import { runCommand } from './entry.ts';
import { labOptions, nomadFlag } from './flags.ts';

type Selection = LabSelection & { nomadVersion?: string; json?: boolean };

export function labCommand(): Command {
  const program = new Command('lab').description(
    'Manage labs: real Nomad agents in network namespaces on this machine (root), or on hosts over SSH (an inventory, Vagrant VMs).',
  );

  labOptions(program.command('up'), { provider: true, topology: true, nomad: true })
    .description('create the lab and start its agents (or provision the hosts); returns when a leader exists and every client is ready')
    .option('--json', 'print the status as JSON')
    .option('--sshd', 'no agents: an OpenSSH server per host and an Ansible inventory, for `--inventory` runs and the fault playbooks')
    .action(async (flags: Selection) => {
      await runCommand(async ({ signal }) => {
        const nomad = await nomadFlag(flags, info, signal);
        const request = labRequest({ ...flags, ...(nomad === undefined ? {} : { nomad }) });
        await bringUp(request, { signal, log: info, waiting });
        return printStatus(request.name, flags);
      });
    });

  labOptions(program.command('down'))
    .description(
      'tear the lab down (idempotent). netns: jobs, agents, tasks, mounts, cgroups, namespaces, rules, route; SSH labs: heal, purge the jobs runs registered, stop the agents the lab started',
    )
    .addHelpText('after', '\nThe provider is the one the lab was brought up with (its state says).')
    .option('--all', 'tear down every lab on this machine')
    .option('--force', 'also tear down a lab that a running command (a scenario) still uses')
    .option(
      '--forget',
      'SSH labs whose hosts are gone: forget the lab (its state, its hold on the hosts) without contacting them, and say what that leaves on them',
    )
    .option('--json', 'print, per lab, whether it is down and what teardown said, as JSON')
    .action(async (flags: Selection & { all?: boolean; force?: boolean; forget?: boolean; json?: boolean }) => {
      await runCommand(async () => {
        if (flags.forget && flags.all) throw new UsageError('--forget applies to one lab whose hosts are gone: name it with --lab, not --all');
        // --forget contacts no host: not even to sweep a leftover (which may be this very lab).
        if (!flags.forget) await sweepLeftovers(info);
        const names = flags.all ? labNames() : [labRequest({ ...(flags.lab === undefined ? {} : { lab: flags.lab }) }).name];
        let code: ExitCode = ExitCode.pass;
        const outcomes: Array<{ lab: string; down: boolean; lines: string[] }> = [];
        for (const name of names) {
          const outcome = await bringDown(name, { force: flags.force === true, forget: flags.forget === true, log: info });
          outcomes.push({ lab: name, down: outcome.ok, lines: outcome.lines });
          if (!flags.json) for (const line of outcome.lines) (outcome.ok ? info : out)(line);
          if (!outcome.ok) code = ExitCode.infra;
        }
        if (flags.json) out(JSON.stringify(outcomes, null, 2));
        return code;
      });
    });

  labOptions(program.command('status'), { provider: true })
    .description('show hosts, addresses, agents, node IDs, statuses and the Nomad version; exit 0 when every agent runs and every client is ready')
    .option('--json', 'print as JSON')
    .option('-a, --all', 'list every lab on this machine')
    .action(async (flags: Selection & { all?: boolean }) => {
      await runCommand(async () => {
        await sweepLeftovers(info);
        if (flags.all) {
          const names = labNames();
          if (names.length === 0) out('no labs on this machine');
          let code: ExitCode = ExitCode.pass;
          for (const n of names) if ((await printStatus(n, { json: flags.json === true })) !== ExitCode.pass) code = ExitCode.fail;
          return code;
        }
        const request = labRequest(flags);
        const nomad = await resolveNomad(request.config.nomad).catch(() => undefined);
        if (nomad && readLab(request.name) === undefined) info(`nomad: ${nomad.path} (${nomad.source}): ${nomad.versionText}`);
        return printStatus(request.name, flags);
      });
    });

  program
    .command('audit')
    .description('look for anything labs left on this machine (namespaces, links, rules, routes, mounts, processes, cgroups)')
    .option('--lab <name>', 'only this lab')
    .option('--json', 'print the leftovers as JSON')
    .action(async (flags: { lab?: string; json?: boolean }) => {
      await runCommand(async () => {
        requireRoot();
        if (flags.lab !== undefined) checkName('lab', flags.lab, '--lab', (m) => new UsageError(m));
        const up = labNames().filter((n) => readLab(n)?.phase === 'up');
        const leaks = await auditLeaks(flags.lab, { ignoreLabs: flags.lab ? [] : up });
        if (leaks.length === 0) {
          if (flags.json) {
            out(JSON.stringify({ leaks: [], ignoredLabs: flags.lab ? [] : up }, null, 2));
            return ExitCode.pass;
          }
          out(`leak audit clean${flags.lab ? ` for lab ${flags.lab}` : ''}${up.length && !flags.lab ? ` (labs up, not counted: ${up.join(', ')})` : ''}`);
          return ExitCode.pass;
        }
        out(
          flags.json
            ? JSON.stringify({ leaks, ignoredLabs: flags.lab ? [] : up }, null, 2)
            : `leak audit found ${leaks.length} leftover(s):\n${formatLeaks(leaks)}`,
        );
        return ExitCode.fail;
      });
    });

  labOptions(program.command('shell'), { provider: true })
    .description(
      "open an interactive shell on a lab host: bash in the host's network namespace (netns), or ssh (inventory, vagrant); NOMAD_ADDR (and NOMAD_TOKEN on an ACL lab, the TLS files on a TLS lab) set",
    )
    .argument('<host>', 'lab host, e.g. client1 or server1 (see lab status)')
    .action(async (hostName: string, flags: Selection) => {
      await runCommand(async ({ signal }) => {
        const request = labRequest(flags);
        const shell = await shellOn(request, hostName);
        if (!process.stdin.isTTY || !process.stdout.isTTY) {
          throw new UsageError(
            'lab shell needs a terminal; its stdin and stdout are not both a TTY (a pipe, a script or CI)',
            `for a script, run its command on the host: NOMAD_ADDR=${shell.env['NOMAD_ADDR']} ${shell.scriptHint}`,
          );
        }
        info(
          `${showCommand(shell.argv)} (lab ${request.name}, NOMAD_ADDR=${shell.env['NOMAD_ADDR']}${shell.env['NOMAD_TOKEN'] ? ', NOMAD_TOKEN set' : ''}); exit or Ctrl-D leaves it`,
        );
        // The shell's own exit status, as ssh and nsenter pass it on.
        return (await interactive(shell.argv, { env: { ...process.env, ...shell.env } as Record<string, string>, signal })) as ExitCode;
      });
    });

  labOptions(program.command('env'))
    .description(
      'print `export NOMAD_ADDR=...` (NOMAD_TOKEN on an ACL lab, NOMAD_CACERT, NOMAD_CLIENT_CERT and NOMAD_CLIENT_KEY on a TLS lab, and the lab\'s nomad first on PATH) for the nomad CLI: eval "$(nomad-lab lab env)"',
    )
    .option('--token', 'print the management token also when stdout is not a terminal (a pipe, eval); without it the token goes to a terminal only')
    .option('--json', 'print as JSON')
    .action(async (flags: Selection & { token?: boolean }) => {
      await runCommand(async () => {
        const env = await labEnvironment(labRequest(flags));
        // A token is a secret: it goes where a person reads it, or where the user asked for it.
        const showToken = flags.token === true || process.stdout.isTTY === true;
        // On a lab with TLS the CA and the CLI's certificate and key, as paths (never their contents).
        const tls = { NOMAD_CACERT: env.NOMAD_CACERT, NOMAD_CLIENT_CERT: env.NOMAD_CLIENT_CERT, NOMAD_CLIENT_KEY: env.NOMAD_CLIENT_KEY };
        const shown: Record<string, string> = {
          NOMAD_ADDR: env.NOMAD_ADDR,
          ...Object.fromEntries(Object.entries(tls).filter((e): e is [string, string] => e[1] !== undefined)),
          ...(env.NOMAD_TOKEN !== undefined && showToken ? { NOMAD_TOKEN: env.NOMAD_TOKEN } : {}),
        };
        if (flags.json) out(JSON.stringify({ ...shown, nomad: env.nomad }, null, 2));
        else {
          // The lab's own nomad first on PATH ($PATH stays for the shell that evaluates this to expand).
          const path = `export PATH=${shellQuote(dirname(env.nomad))}:"$PATH"`;
          out([...Object.entries(shown).map(([k, v]) => `export ${k}=${shellQuote(v)}`), path].join('\n'));
        }
        if (env.NOMAD_TOKEN !== undefined && !showToken)
          info('this lab has ACLs: NOMAD_TOKEN not printed to a pipe; pass --token to print it (eval "$(nomad-lab lab env --token)")');
        return ExitCode.pass;
      });
    });

  return program;
}

/** The leak audit reads namespaces, iptables and root's lab state: say so before anything else. */
function requireRoot(): void {
  if (!isRoot()) {
    throw new HarnessError("lab audit needs root (it reads network namespaces, iptables rules and the netns labs' state)", {
      hint: 'run it as root, e.g. sudo npx nomad-lab lab audit',
    });
  }
}

/** Single quotes for a shell, the way `export` reads them back. */
const shellQuote = (v: string): string => (/^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);

async function printStatus(name: string, flags: Selection): Promise<ExitCode> {
  const view = await statusOf(labRequest({ ...flags, lab: name }));
  out(flags.json ? JSON.stringify(view.json, null, 2) : view.text);
  return view.ready ? ExitCode.pass : ExitCode.fail;
}
