import { defineConfig } from 'vitest/config';

// Two projects: `unit` is the pure core and must stay fast (<10 s); `kernel` touches the
// real kernel in throwaway sl- namespaces, needs root, and runs one file at a time so
// traffic measurements do not compete for the two cores.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.kernel.test.ts', 'node_modules/**'],
          environment: 'node',
          // Pure tests share nothing mutable: one module graph for every file instead of
          // one per file (start-up, not the tests, dominates this suite's time: 13.2 s
          // against 15.4 s side by side on a loaded machine).
          pool: 'threads',
          isolate: false,
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
        },
      },
    ],
  },
});
