// The vagrant provider: the VMs `vagrant up` made, taken from the inventory Vagrant's Ansible provisioner wrote when it
// provisioned them (<.vagrant>/provisioners/ansible/inventory/vagrant_ansible_inventory), read like any inventory
// (lab/inventory.ts): names and groups, the host-only address and datacenter the Vagrantfile passes as host vars, and
// each VM's SSH settings (ansible_host, ansible_port, ansible_user, ansible_ssh_private_key_file). That file has all
// the harness needs, so `vagrant ssh-config` is not asked. Vagrant's own provisioning ran the role (systemd).
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { labRoot, repoRoot } from '../config/paths.ts';
import { UsageError } from '../util/errors.ts';
import { planFromInventory, readInventory, type InventoryList, type RemoteHost, type RemotePlan } from './inventory.ts';

/**
 * Host keys of the VMs: the harness's own known_hosts file, the one place it pins a key on first use
 * (the VMs are made by its Vagrantfile, and Vagrant itself turns host key checking off).
 */
export const vagrantKnownHosts = (): string => join(labRoot(), 'vagrant_known_hosts');

/** Where Vagrant's inventory file lies below Vagrant's local data directory. */
export const VAGRANT_INVENTORY_PATH = join('provisioners', 'ansible', 'inventory', 'vagrant_ansible_inventory');

/**
 * The inventory Vagrant writes for the Vagrantfile in `dir`: below its local data directory, which is
 * VAGRANT_DOTFILE_PATH (relative to `dir`) when set, else `dir`/.vagrant, as Vagrant's Environment decides.
 */
export function vagrantInventoryFile(dir: string, env: NodeJS.ProcessEnv = process.env): string {
  const dotfile = env['VAGRANT_DOTFILE_PATH'];
  return join(resolve(dir, dotfile !== undefined && dotfile !== '' ? dotfile : '.vagrant'), VAGRANT_INVENTORY_PATH);
}

/** VMs Vagrant had no SSH settings for when it wrote the inventory (its `# MISSING: 'name' ...` lines); pure. */
export function missingMachines(inventoryText: string): string[] {
  return [...inventoryText.matchAll(/^# MISSING: '([^']+)'/gm)].map((m) => m[1]!);
}

/** The SSH lab of the VMs (pure): what `ansible-inventory --list` made of Vagrant's inventory file. */
export function planFromVagrantInventory(list: InventoryList, name: string, file: string): RemotePlan {
  // Vagrant names every VM's key (ansible_ssh_private_key_file), so no default key is offered.
  return { ...planFromInventory(list, name, file, { knownHosts: vagrantKnownHosts(), pinOnFirstUse: true }), provider: 'vagrant' };
}

/** The VMs of the Vagrantfile in `dir`, from the inventory its last provisioning run wrote. */
export async function vagrantPlan(dir: string = repoRoot, name = 'vagrant'): Promise<RemotePlan> {
  const file = vagrantInventoryFile(dir);
  const fix = `run \`vagrant up\` in ${dir} first: it creates the VMs and provisions them, which writes this inventory (VMs already up: \`vagrant provision\`)`;
  if (!existsSync(file)) throw new UsageError(`no inventory from Vagrant's Ansible provisioner: ${file} does not exist`, fix);
  const missing = missingMachines(readFileSync(file, 'utf8'));
  if (missing.length > 0) {
    // Vagrant writes such a line for a machine it knows whose provider reports no VM ("removed without using Vagrant").
    throw new UsageError(
      `${file} has no SSH settings for ${missing.join(', ')}: Vagrant found no VM for it when it wrote the inventory`,
      `run \`vagrant up\` in ${dir}: it recreates the VM and provisions, which rewrites the inventory`,
    );
  }
  const plan = planFromVagrantInventory(await readInventory(file), name, file);
  // `vagrant destroy` leaves the inventory behind but removes each VM's key with its machine directory.
  const gone = plan.hosts.filter((h) => h.ssh.identityFile !== undefined && !existsSync(h.ssh.identityFile));
  if (gone.length > 0) {
    throw new UsageError(
      `${file} is out of date: the SSH key of ${gone.map((h) => `${h.name} (${h.ssh.identityFile})`).join(', ')} is gone, so the VMs were destroyed since it was written`,
      fix,
    );
  }
  return plan;
}
