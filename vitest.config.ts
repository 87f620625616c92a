import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    // Fails a test that leaves a process it started running (see the file).
    setupFiles: ['test/helpers/leak-guard.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: CLI tests spawn worker processes of their own.
    maxWorkers: 2,
    minWorkers: 1,
    reporters: ['default', ['json', { outputFile: '.test-results/vitest.json' }]],
  },
});
