// Reads vitest's JSON report and prints the closing line `N passed, N failed, N skipped`.
// Under CI=true it fails the run when no lab, browser or static test ran or any was skipped: a suite that
// silently skips (not root, no Nomad, no Chromium, no ansible-lint/vagrant/systemd-analyze) must not pass as green.
import { existsSync, readFileSync } from 'node:fs';

interface Assertion {
  status: 'passed' | 'failed' | 'pending' | 'skipped' | 'todo' | 'disabled';
  fullName: string;
}
interface Report {
  testResults: Array<{ name: string; assertionResults: Assertion[] }>;
}

const [file = 'reports/test-results.json', rcText = '0'] = process.argv.slice(2);
const vitestRc = Number(rcText);
if (!existsSync(file)) {
  process.stdout.write(`test summary: no results at ${file} (vitest exit code ${vitestRc})\n0 passed, 0 failed, 0 skipped\n`);
  process.exitCode = vitestRc || 1;
} else {
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
    process.stdout.write(`${kind} tests: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped\n`);
  }
  if (problems.length > 0) {
    process.stdout.write(`${ci ? 'FAIL' : 'warning'}: ${problems.join('; ')}${ci ? ' (CI requires the lab suite, as root, and the browser and static suites)' : ' (run as root to include the lab suite; scripts/setup.sh --tests installs what the browser and static suites need)'}\n`);
  }
  process.stdout.write(`${count.passed} passed, ${count.failed} failed, ${count.skipped} skipped\n`);
  process.exitCode = vitestRc !== 0 ? vitestRc : ci && problems.length > 0 ? 1 : 0;
}
