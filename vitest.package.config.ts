import { defineConfig } from 'vitest/config';

/** The packed-construct test alone (`npm run test:bundled`): slow, run once in CI, not by `npm test`. */
export default defineConfig({
  test: {
    include: ['test/package/**/*.test.ts'],
    testTimeout: 600_000,
  },
});
