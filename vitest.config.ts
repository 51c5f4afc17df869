import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Test files are independent (each starts its emulator, local S3 and proxies on port 0 and writes only under
    // its own mkdtemp folders), and much of their time is waiting (HTTP round trips, Bulk polling, child
    // processes), so more files run at once than there are cores (vitest's default is cores - 1: one file at a
    // time on a 2-core machine). Override with --maxWorkers.
    maxWorkers: 3,
    // A worker keeps its module cache from one file to the next instead of loading src/ again through vite for
    // every file (on the unit-test folders this halved the CPU time: 6.3 s → 3.4 s). Safe because src/ holds no module
    // state (no module singletons, a house rule), and the tests that change process.env, TZ or a prototype
    // restore it in finally/afterAll. `npx vitest run --isolate` gives every file a fresh module graph again.
    isolate: false,
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
