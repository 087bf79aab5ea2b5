// What every kind of lab offers the commands and the runner: bring it up, attach to it, tear it
// down, show it, say whether a scenario fits it, open a shell on a host, sweep what killed runs
// left. The netns provider is in netns-lab.ts; inventory and vagrant (hosts over SSH) in ssh-lab.ts.
// Nothing outside harness/lab/ knows which provider a lab has: it goes through labs.ts.
import type { LabConfig } from '../config/lab-config.ts';
import type { NomadBinary } from '../nomad/binary.ts';
import type { LabDriver } from './driver.ts';
import type { ShellCommand } from './shell.ts';
import type { ProviderKind, StoredLab } from './store.ts';

export type Log = (message: string) => void;
export type Waiting = (what: string, elapsedMs: number, deadlineMs: number, detail: string) => void;

/** Which lab a command means, as plain data (from flags, a lab file and the environment). */
export interface LabRequest {
  provider: ProviderKind;
  name: string;
  /** netns: the topology, ACLs, TLS and the binary; inventory and vagrant: the binary only (the hosts decide the rest). */
  config: LabConfig;
  /** inventory: the inventory file; vagrant: the directory of the Vagrantfile. */
  source?: string;
  /** inventory: run the role over the hosts first (false: take them as they are). */
  provision: boolean;
  /** inventory and vagrant: mutual TLS (`--tls`, or the scenario's `tls: true`); a netns lab's is in config.spec. */
  tls?: boolean;
}

/** What a scenario run needs of a lab. */
export interface LabNeed {
  servers: number;
  clients: number;
  acl: boolean;
  /** Mutual TLS (absent: not needed). */
  tls?: boolean;
}

export interface UpOptions {
  /** true for `lab up` (the lab stays after the command); false for a run that owns its lab. */
  persistent: boolean;
  signal: AbortSignal;
  log: Log;
  waiting?: Waiting;
}

export interface LabUp {
  driver: LabDriver;
  nomad: NomadBinary;
  /** One line of how it went ("12.3s", "4.1s provisioning, 9.8s to ready"). */
  detail: string;
  /** The line `lab up` prints. */
  summary: string;
  /** How long each phase took, in seconds, in order (network, ansible, ready; provisioning, ready). */
  phases: Array<[string, number]>;
  /** An sshd lab's inventory of its hosts (for the inventory provider). */
  inventory?: string;
  /** The lab was already up (kept by `lab up`) and fits: nothing was created. */
  reused: boolean;
}

/** A lab's status for `lab status`: the text for a terminal, the same as JSON, and whether it is ready. */
export interface LabStatusView {
  text: string;
  json: unknown;
  ready: boolean;
}

/** What `lab down` did. */
export interface DownOutcome {
  ok: boolean;
  /** What the user should read (what was stopped, what teardown left). */
  lines: string[];
}

export interface LabProvider {
  readonly kind: ProviderKind;
  /** The provider creates the hosts (several labs can run side by side); false: the hosts are there already. */
  readonly makesHosts: boolean;
  /** Its labs need root on this machine (namespaces, iptables, root-owned agents); SSH labs do not. */
  readonly needsRoot: boolean;
  /** Brings the lab up, or finds it up already (`reused`); the caller closes the driver. */
  up(request: LabRequest, options: UpOptions): Promise<LabUp>;
  /** A driver on a lab of the store. */
  attach(state: StoredLab, log?: Log): LabDriver;
  /** Tears the lab down (idempotent); not ok when something is left (the state stays for a retry). */
  down(name: string, state: StoredLab | undefined, log: Log): Promise<DownOutcome>;
  /** The lab's status; `state` undefined for a lab no command of this harness brought up (plain `vagrant up`). */
  status(name: string, state: StoredLab | undefined, request?: LabRequest): Promise<LabStatusView | undefined>;
  /** Why the lab in `state` cannot take a run that needs `need` on `request`'s lab; undefined when it fits. */
  unfit(state: StoredLab, request: LabRequest, need: LabNeed): string | undefined;
  /** Why a run that needs `need` cannot use the hosts `request` names, known before anything is created (SSH hosts: their count). */
  unfitPlanned(request: LabRequest, need: LabNeed): Promise<string | undefined>;
  /** What a run needs that this provider can never give (undefined: fine). */
  refuses(need: LabNeed, request: LabRequest): string | undefined;
  /** How to open an interactive shell on one of the lab's hosts. */
  shell(state: StoredLab | undefined, request: LabRequest, host: string): Promise<ShellCommand>;
  /** Cleans what killed runs left; returns the names it cleaned. */
  sweepLeftovers(log: Log): Promise<string[]>;
}
