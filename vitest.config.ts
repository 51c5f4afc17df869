import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The opt-in Salesforce CLI test lives in test/clients/sf-cli.test.ts and skips itself unless FORCEFLOW_SF_CLI=1.
  },
});
