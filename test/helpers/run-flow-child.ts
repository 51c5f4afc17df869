import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runFlow } from '../../src/flows/runner.ts';
import type { ExecutionRecord } from '../../src/flows/run-record.ts';
import { openRunState } from '../../src/flows/state.ts';

/**
 * For kill tests that need options the CLI does not expose: runs one flow through runFlow with a state folder
 * and Salesforce destination options. As a child process (argv: flow file, profile file, state folder,
 * destination options as JSON) it prints the execution record on stdout; the run after the kill calls
 * {@link runFlowLikeChild} in-process with the same arguments.
 */
export async function runFlowLikeChild(flowFile: string, profileFile: string, stateFolder: string, destination: string): Promise<ExecutionRecord> {
  const state = openRunState(stateFolder);
  try {
    return await runFlow({
      flow: JSON.parse(readFileSync(flowFile, 'utf8')) as unknown,
      flowFile,
      profiles: async () => ({ profile: JSON.parse(readFileSync(profileFile, 'utf8')) as unknown }),
      state,
      salesforce: { destination: JSON.parse(destination) as Record<string, never> },
    });
  } finally {
    state.close();
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [flowFile, profileFile, stateFolder, destination] = process.argv.slice(2) as [string, string, string, string];
  const record = await runFlowLikeChild(flowFile, profileFile, stateFolder, destination);
  process.stdout.write(`${JSON.stringify(record)}\n`);
}
