// `nomad-lab bench`: figures, not assertions. Lab up (command start to all clients ready) and teardown
// times over several runs, and the Nomad build's cold/warm times and cache sizes; `--ssh`: the SSH
// path (an sshd lab, then the inventory provider on its hosts).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import { benchCatalog, catalogBenchOptions, type CatalogBenchFlags } from '../bench/catalog.ts';
import { benchScale, ownedForTeardown, refuseExistingLab, scaleBenchOptions, type ScaleBenchFlags } from '../bench/scale.ts';
import { readLab } from '../lab/store.ts';
import { MAX_CLIENTS } from '../lab/topology.ts';
import { bringDown, labRequest, upOwned } from '../lab/labs.ts';
import { pinnedBinaryPath } from '../nomad/binary.ts';
import { ExitCode, HarnessError } from '../util/errors.ts';
import { info, out } from '../util/log.ts';
import { runCommand } from './entry.ts';
import { numberFlag } from './flags.ts';

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `min ${s[0]!.toFixed(2)}s  median ${s[Math.floor(s.length / 2)]!.toFixed(2)}s  max ${s[s.length - 1]!.toFixed(2)}s`;
};

/** Seconds per phase over the runs, in the order the provider reports them. */
class Figures {
  readonly byPhase = new Map<string, number[]>();
  add(name: string, seconds: number): void {
    this.byPhase.set(name, [...(this.byPhase.get(name) ?? []), seconds]);
  }
  line(name: string): string {
    return `${name}: ${stats(this.byPhase.get(name) ?? [0])}`;
  }
}

const quiet = () => undefined;

export function benchCommand(): Command {
  const program = new Command('bench')
    .description('Measure lab up and teardown times on real agents, and report the Nomad build figures (needs root).')
    .option('-r, --runs <n>', 'how many up/down cycles', '3')
    .option('--clients <n>', 'clients per lab', '2')
    .option('--ssh', 'the SSH path instead: an sshd lab, then the inventory provider (provisioning over SSH, agents to ready, stop)')
    .option('--json', 'print the figures as JSON');
  catalogBenchOptions(program);
  scaleBenchOptions(program);

  program.action(async (flags: { runs: string; clients: string; ssh?: boolean; json?: boolean } & CatalogBenchFlags & ScaleBenchFlags) => {
    await runCommand(async ({ signal }) => {
      if (flags.catalog) return benchCatalog(flags, signal);
      if (flags.scale) return benchScale(flags, signal);
      if (process.getuid?.() !== 0) throw new HarnessError('bench needs root (it brings real labs up)');
      const runs = numberFlag('runs', flags.runs, 1, 50, true);
      numberFlag('clients', flags.clients, 1, MAX_CLIENTS, true);
      const figures = new Figures();
      const netns = labRequest({ lab: flags.ssh ? 'bench-ssh' : 'bench', clients: flags.clients, ...(flags.ssh ? { sshd: true } : {}) });
      for (let i = 1; i <= runs; i++) {
        const started = Date.now();
        let inventoryLab: string | undefined;
        // A lab of that name that another command holds, or one kept up, is not the bench's to measure or remove.
        refuseExistingLab(netns.name, readLab(netns.name));
        if (flags.ssh) refuseExistingLab('bench-inv', readLab('bench-inv'));
        try {
          const up = await upOwned(netns, { signal, log: quiet });
          await up.driver.close();
          figures.add(flags.ssh ? 'sshd lab up' : 'lab up', (Date.now() - started) / 1000);
          for (const [phase, s] of up.phases) figures.add(`${flags.ssh ? 'sshd lab: ' : ''}${phase}`, s);
          if (flags.ssh) {
            // The inventory provider on the sshd lab's hosts: provisioning over SSH, then the stop.
            const inv = labRequest({ inventory: up.inventory!, lab: 'bench-inv' });
            inventoryLab = inv.name;
            const remote = await upOwned(inv, { signal, log: quiet });
            await remote.driver.close();
            for (const [phase, s] of remote.phases) figures.add(`inventory: ${phase}`, s);
            const t = Date.now();
            await bringDown(inv.name, { force: true, log: quiet });
            inventoryLab = undefined;
            figures.add('inventory: stop (jobs, agents over SSH)', (Date.now() - t) / 1000);
          }
        } finally {
          // Only what this process brought up: a refused or failed up leaves another's lab alone.
          if (inventoryLab !== undefined && ownedForTeardown(readLab(inventoryLab))) await bringDown(inventoryLab, { force: true, log: quiet });
          if (ownedForTeardown(readLab(netns.name))) {
            const t = Date.now();
            const down = await bringDown(netns.name, { force: true, log: quiet });
            figures.add('lab down (teardown to clean leak audit)', (Date.now() - t) / 1000);
            if (!down.ok) throw new HarnessError(`run ${i} leaked: ${down.lines.join('; ')}`);
          }
        }
        info(`run ${i}/${runs}: ${[...figures.byPhase].map(([k, v]) => `${k} ${v.at(-1)!.toFixed(2)}s`).join(', ')}`);
      }
      const buildJson = join(dirname(pinnedBinaryPath()), 'build.json');
      const build = existsSync(buildJson) ? (JSON.parse(readFileSync(buildJson, 'utf8')) as Record<string, unknown>) : undefined;
      if (flags.json) {
        out(JSON.stringify({ runs, clients: Number(flags.clients), phases: Object.fromEntries(figures.byPhase), build }, null, 2));
        return ExitCode.pass;
      }
      out(`${flags.ssh ? 'the SSH path' : 'lab up'} (1 server, ${flags.clients} clients; command start to all ready), ${runs} runs:`);
      for (const name of figures.byPhase.keys()) out(`  ${figures.line(name)}`);
      out(
        build
          ? `nomad build (last, ${String(build['kind'])}): ${String(build['seconds'])}s with ${String(build['go'])}; binary ${String(build['binaryMiB'])} MiB, Go module cache ${String(build['goModCacheMiB'])} MiB, Go build cache ${String(build['goBuildCacheMiB'])} MiB`
          : 'nomad build: no build.json (binary given explicitly, or built before figures were recorded)',
      );
      return ExitCode.pass;
    });
  });
  return program;
}
