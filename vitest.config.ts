import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The packed construct's test runs in `npm run test:bundled` (vitest.package.config.ts).
    exclude: ['test/package/**', '**/node_modules/**'],
    globalSetup: ['test/setup/global.ts'],
    testTimeout: 90_000,
    hookTimeout: 120_000,
    // RETENTION_DAYS: the handlers a local runtime runs keep the fixtures' 2025 messages; at the default
    // year they would be past their retention, and DynamoDB Local's TTL sweeper would delete them mid-test.
    env: { POWERTOOLS_LOG_LEVEL: 'SILENT', AWS_REGION: 'us-east-1', RETENTION_DAYS: '36500' },
  },
});
