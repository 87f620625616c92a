import { defineConfig } from 'vitest/config';

/** `npm run test:soak`: long-running checks that are not part of `npm test`. */
export default defineConfig({
  test: {
    include: ['test/soak/**/*.soak.ts'],
    testTimeout: 900_000,
    pool: 'forks',
  },
});
