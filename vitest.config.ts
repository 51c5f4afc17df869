import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The AWS SDK's Node 20 notice (README: "Node versions") would repeat in every test that makes a client;
    // test/cli/run-salesforce.test.ts removes this to check that the CLI silences it by itself.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    // Under CI (.ci/run sets CI=true) `npm test` also writes a JSON report, from which .ci/run prints
    // its "N passed, N failed" line.
    reporters: process.env['CI'] ? ['default', 'json'] : ['default'],
    outputFile: { json: '.tmp/vitest.json' },
    // The opt-in Salesforce CLI test lives in test/clients/sf-cli.test.ts and skips itself unless FORCEFLOW_SF_CLI=1.
  },
});
