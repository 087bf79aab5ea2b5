// Every environment variable nomad-lab reads, in one table (the README's table is checked against
// it by a unit test), and the old names that are refused with the new name in the message.
import { UsageError } from '../util/errors.ts';

export interface EnvironmentVariable {
  name: string;
  /** What it sets, and which flag it is the fallback of. */
  meaning: string;
  fallbackDefault: string;
}

export const ENVIRONMENT: readonly EnvironmentVariable[] = [
  {
    name: 'NOMAD_BINARY',
    meaning: 'nomad binary to run (`--nomad`); also the binary Vagrant provisions',
    fallbackDefault: '`nomad` on PATH, else the pinned release',
  },
  {
    name: 'NOMAD_LAB_NOMAD_VERSION',
    meaning: 'a release built here to run (`--nomad-version`); the release `scripts/build-nomad.ts` builds',
    fallbackDefault: 'the pinned release (1.6.0)',
  },
  { name: 'NOMAD_LAB_NAME', meaning: 'lab name (`--lab`)', fallbackDefault: '`default`; a scenario: `sc-<scenario>`' },
  { name: 'NOMAD_LAB_CONFIG', meaning: 'lab file (`--config`)', fallbackDefault: 'none' },
  {
    name: 'NOMAD_LAB_ROOT',
    meaning: 'where labs keep state, configs, data and logs',
    fallbackDefault: 'root: `/var/lib/nomad-lab`; other users (SSH labs only): `$XDG_STATE_HOME/nomad-lab` or `~/.local/state/nomad-lab`',
  },
  {
    name: 'NOMAD_LAB_CACHE',
    meaning: 'where Nomad builds are cached (outside the checkout)',
    fallbackDefault: '`$XDG_CACHE_HOME/nomad-lab` or `~/.cache/nomad-lab`',
  },
  { name: 'NOMAD_LAB_SCENARIOS', meaning: 'the scenario catalog directory', fallbackDefault: '`scenarios/`' },
  { name: 'NOMAD_LAB_ANSIBLE_DIR', meaning: 'the Ansible directory (role nomad) the labs are configured with', fallbackDefault: '`ansible/`' },
  {
    name: 'NOMAD_LAB_VM_*',
    meaning: 'the VM lab only (`vagrant up`): `_SERVERS`, `_CLIENTS`, `_SUBNET`, `_PROVIDER` (virtualbox or libvirt), ... (docs/providers.md)',
    fallbackDefault: '`vagrant/topology.yaml`',
  },
  {
    name: 'NOMAD_LAB_FUZZ_SEED',
    meaning: 'the unit suite only: the seed of the fuzz tests (`test/unit/fuzz-*.test.ts`), to replay or vary their cases',
    fallbackDefault: 'a fixed seed',
  },
  { name: 'NOMAD_LAB_FUZZ_RUNS', meaning: 'the unit suite only: cases per fuzz property', fallbackDefault: 'a count that keeps them near 20 s in all' },
  { name: 'CI', meaning: '`true`: plain progress lines, and `npm test` fails when a lab test was skipped', fallbackDefault: 'unset' },
  { name: 'NO_COLOR', meaning: 'any value: no colour in terminal output', fallbackDefault: 'unset' },
  { name: 'FORCE_COLOR', meaning: '`1`: colour also when the output is not a terminal (NO_COLOR still wins)', fallbackDefault: 'unset' },
  {
    name: 'VAGRANT_DOTFILE_PATH',
    meaning: "Vagrant's own: where `vagrant up` keeps its data (and the inventory the vagrant provider reads)",
    fallbackDefault: '`.vagrant/`',
  },
];

/** Old names: one thing had two names, or a VM-only setting looked like a lab-wide one. */
export const RETIRED: Readonly<Record<string, string>> = {
  NOMAD_LAB_NOMAD_BINARY: 'NOMAD_BINARY',
  NOMAD_LAB_VERSION: 'NOMAD_LAB_NOMAD_VERSION',
  NOMAD_LAB_SERVERS: 'NOMAD_LAB_VM_SERVERS',
  NOMAD_LAB_CLIENTS: 'NOMAD_LAB_VM_CLIENTS',
  NOMAD_LAB_SUBNET: 'NOMAD_LAB_VM_SUBNET',
  NOMAD_LAB_PROVIDER: 'NOMAD_LAB_VM_PROVIDER',
};

/** A retired name that is set would be silently ignored: refuse it, naming the new one. */
export function refuseRetiredEnvironment(env: NodeJS.ProcessEnv): void {
  const set = Object.keys(RETIRED).filter((k) => env[k] !== undefined);
  if (set.length === 0) return;
  throw new UsageError(
    `${set.map((k) => `${k} is now ${RETIRED[k]}`).join('; ')}`,
    `rename it (${set.map((k) => `${RETIRED[k]}=${env[k]}`).join(' ')}) and run again`,
  );
}
