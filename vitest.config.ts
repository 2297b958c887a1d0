import { defineConfig } from 'vitest/config';

// Three projects: `unit` is the pure core and must stay fast (<10 s); `fuzz` is the fuzz
// smoke (test/fuzz, no root); `kernel` touches the
// real kernel in throwaway sl- namespaces, needs root, and runs one file at a time so
// traffic measurements do not compete for the two cores.
// CI sets SLUICE_TEST_REPORT_DIR: each vitest run (unit, fuzz, kernel) also writes a JSON
// report there, from which .ci/run proves that no test was skipped.
const reportDir = process.env.SLUICE_TEST_REPORT_DIR;

export default defineConfig({
  test: {
    ...(reportDir ? { reporters: ['default', ['json', { outputFile: `${reportDir}/vitest-${process.pid}.json` }]] } : {}),
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.kernel.test.ts', 'test/**/*.fuzz.test.ts', 'node_modules/**'],
          environment: 'node',
          // Pure tests share nothing mutable, so the npm scripts run them with --no-isolate:
          // one module graph for every file instead of one per file, 4.0 s instead of
          // 10.5 s wall here (start-up, not the tests, dominated). The same setting in this
          // file is not honoured for a project by vitest 3.2; the flag is.
          pool: 'threads',
        },
      },
      {
        // The fuzz smoke (test/fuzz): 5,000 cases per target in worker threads, ~1-2 min.
        test: {
          name: 'fuzz',
          include: ['test/**/*.fuzz.test.ts'],
          environment: 'node',
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
      {
        test: {
          name: 'kernel',
          include: ['test/**/*.kernel.test.ts'],
          environment: 'node',
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Once per run: dist/ for the load generators, a directory its files share (test/support/kernelSetup.ts).
          globalSetup: ['test/support/kernelSetup.ts'],
        },
      },
    ],
  },
});
