// `npm run bench`: figures, not assertions. Lab up (command start to all clients ready) and teardown
// times over several runs, and the Nomad build's cold/warm times and cache sizes; `--ssh`: the SSH path.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import { resolveLabConfig } from '../config/lab-config.ts';
import { auditLeaks } from '../lab/audit.ts';
import { cleanLeftovers, labUp } from '../lab/netns-lab.ts';
import { readState } from '../lab/store.ts';
import { teardownLab } from '../lab/teardown.ts';
import { pinnedBinaryPath, resolveNomad } from '../nomad/binary.ts';
import { planRemote, readSshState, remoteLabDown, remoteLabUp } from '../lab/ssh-lab.ts';
import { sshdPaths } from '../lab/sshd.ts';
import { ExitCode, HarnessError } from '../util/errors.ts';
import { info, out } from '../util/log.ts';
import { runCommand } from './entry.ts';

export function benchCommand(): Command {
  const program = new Command('bench')
  .description('Measure lab up and teardown times on real agents, and report the Nomad build figures (needs root).')
  .option('-r, --runs <n>', 'how many up/down cycles', '3')
  .option('--clients <n>', 'clients per lab', '2')
  .option('--ssh', 'the SSH path instead: an sshd lab, then the inventory provider (provisioning over SSH, agents to ready, stop)')
  .exitOverride();

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `min ${s[0]!.toFixed(2)}s  median ${s[Math.floor(s.length / 2)]!.toFixed(2)}s  max ${s[s.length - 1]!.toFixed(2)}s`;
};

program.action(async (flags: { runs: string; clients: string; ssh?: boolean }) => {
  await runCommand(async ({ signal }) => {
    if (process.getuid?.() !== 0) throw new HarnessError('bench needs root (it brings real labs up)');
    const runs = Number(flags.runs);
    if (flags.ssh) return benchSsh(runs, flags.clients, signal);
    const config = resolveLabConfig({ name: 'bench', clients: flags.clients });
    await cleanLeftovers(info);
    const up: number[] = [];
    const ready: number[] = [];
    const ansible: number[] = [];
    const down: number[] = [];
    for (let i = 1; i <= runs; i++) {
      const started = Date.now();
      try {
        const r = await labUp({ config, persistent: false, signal, log: () => undefined });
        up.push((Date.now() - started) / 1000);
        ready.push(r.timings.readySeconds);
        ansible.push(r.timings.ansibleSeconds);
      } finally {
        const t = Date.now();
        if (readState('bench')) await teardownLab('bench', undefined, () => undefined);
        down.push((Date.now() - t) / 1000);
      }
      const leaks = await auditLeaks('bench');
      if (leaks.length > 0) throw new HarnessError(`run ${i} leaked: ${leaks.map((l) => l.what).join(', ')}`);
      info(`run ${i}/${runs}: up ${up[i - 1]!.toFixed(2)}s (ansible ${ansible[i - 1]!.toFixed(2)}s, agents to ready ${ready[i - 1]!.toFixed(2)}s), down ${down[i - 1]!.toFixed(2)}s`);
    }
    out(`lab up (1 server, ${flags.clients} clients; command start to all ready), ${runs} runs: ${stats(up)}`);
    out(`  of which Ansible: ${stats(ansible)}; agents start to ready: ${stats(ready)}`);
    out(`lab down (teardown to clean audit): ${stats(down)}`);
    const buildJson = join(dirname(pinnedBinaryPath()), 'build.json');
    if (existsSync(buildJson)) {
      const b = JSON.parse(readFileSync(buildJson, 'utf8')) as Record<string, unknown>;
      out(`nomad build (last, ${String(b['kind'])}): ${String(b['seconds'])}s with ${String(b['go'])}; binary ${String(b['binaryMiB'])} MiB, Go module cache ${String(b['goModCacheMiB'])} MiB, Go build cache ${String(b['goBuildCacheMiB'])} MiB`);
    } else {
      out('nomad build: no build.json (binary given explicitly, or built before figures were recorded)');
    }
    return ExitCode.pass;
  });
});

/** The SSH path: `lab up --sshd`, then provisioning over SSH and agents to ready, then the stop. */
async function benchSsh(runs: number, clients: string, signal: AbortSignal): Promise<ExitCode> {
  const config = resolveLabConfig({ name: 'bench-ssh', clients, sshd: true });
  await cleanLeftovers(info);
  const nomad = await resolveNomad(config.nomad);
  const sshd: number[] = [];
  const provision: number[] = [];
  const ready: number[] = [];
  const stop: number[] = [];
  for (let i = 1; i <= runs; i++) {
    try {
      let t = Date.now();
      const { state } = await labUp({ config, persistent: false, signal, log: () => undefined });
      sshd.push((Date.now() - t) / 1000);
      const plan = await planRemote({ kind: 'inventory', file: sshdPaths(state.dir).inventory, provision: true }, 'bench-inv');
      const up = await remoteLabUp({ plan, nomad, provision: true, persistent: false, signal, log: () => undefined });
      await up.driver.close();
      provision.push(up.provisionSeconds);
      ready.push(up.readySeconds);
      t = Date.now();
      await remoteLabDown('bench-inv', () => undefined);
      stop.push((Date.now() - t) / 1000);
    } finally {
      if (readSshState('bench-inv')) await remoteLabDown('bench-inv', () => undefined);
      if (readState('bench-ssh')) await teardownLab('bench-ssh', undefined, () => undefined);
    }
    const leaks = await auditLeaks('bench-ssh');
    if (leaks.length > 0) throw new HarnessError(`run ${i} leaked: ${leaks.map((l) => l.what).join(', ')}`);
    info(`run ${i}/${runs}: sshd lab ${sshd[i - 1]!.toFixed(2)}s, provisioning ${provision[i - 1]!.toFixed(2)}s, agents to ready ${ready[i - 1]!.toFixed(2)}s, stop ${stop[i - 1]!.toFixed(2)}s`);
  }
  out(`sshd lab up (1 server, ${clients} clients; namespaces and an sshd each), ${runs} runs: ${stats(sshd)}`);
  out(`provisioning over SSH (ansible-playbook site.yml: binary copy, config, start-stop-daemon): ${stats(provision)}`);
  out(`agents to ready after provisioning: ${stats(ready)}; stop (jobs, agents over SSH): ${stats(stop)}`);
  return ExitCode.pass;
}

  return program;
}
