// Command-line flags several commands share: numbers (with the message every command gives for a bad
// one), the Nomad binary (--nomad / --nomad-version), and which lab (--lab, --provider, --inventory).
import { Command, Option } from 'commander';
import { PROVIDERS, type LabSelection } from '../lab/labs.ts';
import { releaseBinary, releaseName, wrappedReleases } from '../nomad/binary.ts';
import { UsageError } from '../util/errors.ts';

export function numberFlag(name: string, text: string, min: number, max: number, integer = false): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} expects ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return n;
}

/**
 * `--nomad PATH` or `--nomad-version X.Y.Z` (a release built here, built on first use) -> the binary
 * path to run, or undefined for the default resolution (NOMAD_BINARY, PATH, the pinned release).
 */
export async function nomadFlag(
  flags: { nomad?: string; nomadVersion?: string },
  log: (message: string) => void,
  signal?: AbortSignal,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  if (flags.nomad !== undefined && flags.nomadVersion !== undefined) throw new UsageError('--nomad and --nomad-version both name the binary; give one');
  // Flags win over the environment; of the environment, a path (NOMAD_BINARY) wins over a release.
  const release = flags.nomadVersion ?? (flags.nomad === undefined && !env['NOMAD_BINARY'] ? env['NOMAD_LAB_NOMAD_VERSION'] || undefined : undefined);
  if (release === undefined) return flags.nomad;
  return releaseBinary(releaseName(release), log, signal);
}

export const nomadVersionHelp = (): string =>
  `run a Nomad release built here (${wrappedReleases()
    .map((v) => v.slice(1))
    .join(', ')}: build/nomad/), built into the cache on first use (env NOMAD_LAB_NOMAD_VERSION)`;

/**
 * The options that say which lab a command means, the same on every command: `--lab NAME`, a
 * provider (`--provider`, or implied by `--inventory FILE`), with `topology` the netns lab's
 * shape, and with `topology` or `tls` the lab's TLS. The flags arrive as a LabSelection (harness/lab/labs.ts turns it into a request).
 */
export function labOptions(cmd: Command, parts: { provider?: boolean; topology?: boolean; nomad?: boolean; tls?: boolean } = {}): Command {
  cmd.addOption(
    new Option('--lab <name>', 'lab name (default: "default" or env NOMAD_LAB_NAME; a scenario: sc-<scenario>; inventory: inv-<file>; vagrant: vagrant)'),
  );
  retired(cmd, '--name <name>', '--lab NAME');
  if (parts.provider) {
    cmd.addOption(
      new Option(
        '--provider <provider>',
        'who provides the hosts: netns (namespaces on this machine, root), inventory (hosts of an Ansible inventory over SSH), vagrant (the VMs of `vagrant up`)',
      ).choices([...PROVIDERS]),
    );
    cmd.option('--inventory <file>', 'hosts from an Ansible inventory (groups servers, clients), over SSH; implies --provider inventory');
    cmd.option('--no-provision', 'with --inventory: take the hosts as they are (agents already running)');
    retired(cmd, '--vagrant', '--provider vagrant');
  }
  if (parts.topology) {
    cmd.addOption(new Option('-c, --config <file>', 'lab file (YAML, e.g. labs/three-servers.yaml) (env NOMAD_LAB_CONFIG)'));
    cmd.option('--servers <n>', 'number of servers (default 1; a scenario: its own)');
    cmd.option('--clients <n>', 'number of clients (default 2; a scenario: its own)');
    cmd.option('--subnet <cidr>', 'a /24 inside 198.18.0.0/15 (default: derived from the name)');
    cmd.option('--client-datacenters <list>', 'datacenter per client, in order, e.g. dc1,dc2,dc2 (default: all in dc1)');
    cmd.option('--acl', 'Nomad ACLs on (bootstrapped; tokens kept in the lab directory, mode 0600; the harness uses a scoped token)');
  }
  // A lab's TLS, offered wherever a command brings labs up (with the topology, or a scenario's).
  if (parts.topology || parts.tls) {
    cmd.option(
      '--tls',
      "mutual TLS on HTTP and RPC (a CA and per-agent certificates made with the lab's nomad, kept in the lab directory, keys mode 0600; the harness and the CLI present a client certificate)",
    );
  }
  if (parts.nomad) {
    cmd.option('--nomad <path>', 'nomad binary to run (env NOMAD_BINARY; default: nomad on PATH, else the pinned build)');
    cmd.addOption(new Option('--nomad-version <x.y.z>', nomadVersionHelp()));
  }
  return cmd;
}

/** A flag that was renamed: refused with the new spelling, never silently ignored. */
export function retired(cmd: Command, flags: string, replacement: string): void {
  const option = new Option(flags).hideHelp();
  cmd.addOption(option);
  cmd.on(`option:${option.name()}`, () => {
    throw new UsageError(`${option.long} is gone: use ${replacement}`);
  });
}

/** The lab part of a command's flags (what labRequest reads), without the command's own. */
export function pickLab(flags: { [K in keyof LabSelection]?: unknown }): LabSelection {
  const keys = [
    'lab',
    'provider',
    'inventory',
    'provision',
    'config',
    'servers',
    'clients',
    'subnet',
    'clientDatacenters',
    'acl',
    'tls',
    'sshd',
    'nomad',
  ] as const;
  const picked: Record<string, unknown> = {};
  // A command whose --nomad repeats (a list of binaries) sets the binary per run itself.
  for (const k of keys) if (flags[k] !== undefined && !(k === 'nomad' && typeof flags[k] !== 'string')) picked[k] = flags[k];
  return picked as LabSelection;
}
