// The README's test command (`npm test`): unit tests, then lab tests on real agents (root), then a
// summary that fails when lab tests were skipped or none ran under CI. Extra arguments go to vitest.
//   node --import tsx scripts/test.ts [vitest arguments]
// vitest writes its JSON report to reports/test-results.json; the summary reads it and prints the closing
// line `N passed, N failed, N skipped` (scripts/fresh-machine-check.sh looks for that line). Under CI=true it
// fails the run when no lab, browser or static test ran or any was skipped: a suite that silently skips (not
// root, no Nomad, no Chromium, no ansible-lint/vagrant/systemd-analyze) must not pass as green.
// Exit code: vitest's when it failed (128 + signal number when a signal ended it), else 1 for such a CI
// problem, else 0.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { constants } from 'node:os';
import { $ } from 'zx';
import { repoRoot } from '../harness/config/paths.ts';

interface Assertion {
  status: 'passed' | 'failed' | 'pending' | 'skipped' | 'todo' | 'disabled';
  fullName: string;
}
interface Report {
  testResults: Array<{ name: string; assertionResults: Assertion[] }>;
}

/** Runs vitest with the default (terminal) and JSON reporters; its exit code, as a shell would give it. */
async function vitest(results: string, args: string[]): Promise<number> {
  const child = $({
    cwd: repoRoot,
    stdio: 'inherit',
    nothrow: true,
    preferLocal: true,
  })`vitest run --reporter=default --reporter=json ${`--outputFile.json=${results}`} ${args}`;
  // Ctrl-C reaches vitest from the terminal, and vitest stops; this process waits for it and still prints
  // the summary. SIGTERM (sent to this process alone) is passed on, so vitest does not run on orphaned.
  const ignore = (): void => undefined;
  const terminate = (): void => {
    try {
      child.kill('SIGTERM').catch(() => undefined);
    } catch {
      // already ended
    }
  };
  process.on('SIGINT', ignore);
  process.on('SIGTERM', terminate);
  try {
    const out = await child;
    return out.exitCode ?? 128 + (out.signal ? constants.signals[out.signal] : 0);
  } finally {
    process.off('SIGINT', ignore);
    process.off('SIGTERM', terminate);
  }
}

/** Prints the per-suite counts and the closing line; the exit code of the whole test command. */
function summary(file: string, vitestRc: number): number {
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  if (!existsSync(file)) {
    out(`test summary: no results at ${file} (vitest exit code ${vitestRc})`);
    out('0 passed, 0 failed, 0 skipped');
    return vitestRc || 1;
  }
  const report = JSON.parse(readFileSync(file, 'utf8')) as Report;
  const count = { passed: 0, failed: 0, skipped: 0 };
  const required = {
    lab: { passed: 0, failed: 0, skipped: 0 },
    browser: { passed: 0, failed: 0, skipped: 0 },
    static: { passed: 0, failed: 0, skipped: 0 },
  };
  for (const suite of report.testResults) {
    const kind = (['lab', 'browser', 'static'] as const).find((k) => suite.name.includes(`/test/${k}/`));
    for (const a of suite.assertionResults) {
      const k = a.status === 'passed' ? 'passed' : a.status === 'failed' ? 'failed' : 'skipped';
      count[k]++;
      if (kind) required[kind][k]++;
    }
  }
  const problems: string[] = [];
  const ci = process.env['CI'] === 'true';
  for (const [kind, c] of Object.entries(required)) {
    if (c.passed + c.failed === 0) problems.push(`no ${kind} test ran`);
    if (c.skipped > 0) problems.push(`${c.skipped} ${kind} test(s) skipped`);
    out(`${kind} tests: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`);
  }
  if (problems.length > 0) {
    out(
      `${ci ? 'FAIL' : 'warning'}: ${problems.join('; ')}${ci ? ' (CI requires the lab suite, as root, and the browser and static suites)' : ' (run as root to include the lab suite; scripts/setup.sh --tests installs what the browser and static suites need)'}`,
    );
  }
  out(`${count.passed} passed, ${count.failed} failed, ${count.skipped} skipped`);
  return vitestRc !== 0 ? vitestRc : ci && problems.length > 0 ? 1 : 0;
}

process.chdir(repoRoot);
const results = 'reports/test-results.json';
mkdirSync('reports', { recursive: true });
rmSync(results, { force: true });
process.exitCode = summary(results, await vitest(results, process.argv.slice(2)));
