import { readFileSync } from 'node:fs';
import { runFlow } from '../../src/flows/runner.ts';
import { openRunState } from '../../src/flows/state.ts';

/**
 * A child process for kill tests that need options the CLI does not expose: runs one flow through runFlow with
 * a state folder and Salesforce destination options, prints the execution record on stdout.
 * argv: flow file, profile file, state folder, destination options (JSON).
 */
const [flowFile, profileFile, stateFolder, destination] = process.argv.slice(2) as [string, string, string, string];
const state = openRunState(stateFolder);
try {
  const record = await runFlow({
    flow: JSON.parse(readFileSync(flowFile, 'utf8')) as unknown,
    flowFile,
    profiles: async () => ({ profile: JSON.parse(readFileSync(profileFile, 'utf8')) as unknown }),
    state,
    salesforce: { destination: JSON.parse(destination) as Record<string, never> },
  });
  process.stdout.write(`${JSON.stringify(record)}\n`);
} finally {
  state.close();
}
