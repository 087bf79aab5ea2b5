// Four projects: pure unit tests run in parallel; browser tests drive Chromium; static checks run the VM lab's linters and
// validators; lab tests need root and real agents, so they run one file at a time, one test at a time, each with its own
// explicit timeout.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'] },
      },
      {
        // Real headless Chromium (Debian's) on rendered reports; one browser per file.
        test: { name: 'browser', include: ['test/browser/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 60_000 },
      },
      {
        // The VM lab's files, checked without VMs: ansible-lint, syntax checks, vagrant validate, systemd-analyze verify,
        // Ruby and TypeScript topologies agreeing. Real tools, a few seconds each.
        test: { name: 'static', include: ['test/static/**/*.test.ts'], testTimeout: 180_000, hookTimeout: 180_000 },
      },
      {
        test: {
          name: 'lab',
          include: ['test/lab/**/*.test.ts'],
          fileParallelism: false,
          sequence: { concurrent: false },
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
