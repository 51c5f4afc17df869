import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runFlow } from '../../src/flows/runner.ts';
import { openRunState } from '../../src/flows/state.ts';
import type { WriteJournal } from '../../src/connectors/salesforce/journal.ts';
import { FAST_DESTINATION, FAST_RETRY, emulatorEnv, errorRowsIfAny, sumCalls, tempDir } from '../helpers/salesforce-write.ts';

/**
 * The write journal across runs that end with an error (not a crash): a call refused by Salesforce wrote
 * nothing, so the journal is closed; a call whose answer stayed lost leaves it open, and the next run recovers
 * it instead of sending it again. In-process (runFlow with a state store); the kill tests are crash-recovery.test.ts.
 */

const env = emulatorEnv({});
const tmp = tempDir('ff-journal-');

function flowFile(name: string, operation: string, header: string[], rows: string[][]): string {
  const dir = join(tmp.path, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'input.csv'), `${[header, ...rows].map((r) => r.join(',')).join('\n')}\n`);
  const flow = {
    flowName: name,
    triggerConfig: { triggerType: 'OnDemand' },
    sourceFlowConfig: { connectorType: 'LocalFile', sourceConnectorProperties: { LocalFile: { path: 'input.csv', fileType: 'CSV' } } },
    destinationFlowConfigList: [{
      connectorType: 'Salesforce', connectorProfileName: 'forceflow-emulator',
      destinationConnectorProperties: { Salesforce: {
        object: 'Account', writeOperationType: operation, ...(operation === 'INSERT' ? {} : { idFieldNames: ['Id'] }), dataTransferApi: 'REST_SYNC',
        errorHandlingConfig: { failOnFirstDestinationError: false, localPath: 'errors' },
      } },
    }],
    tasks: [
      { taskType: 'Filter', sourceFields: header, connectorOperator: { LocalFile: 'PROJECTION' } },
      ...header.map((h) => ({ taskType: 'Map', sourceFields: [h], destinationField: h, connectorOperator: { LocalFile: 'NO_OP' } })),
    ],
  };
  const file = join(dir, 'flow.json');
  writeFileSync(file, JSON.stringify(flow));
  return file;
}

async function run(file: string, state: ReturnType<typeof openRunState>) {
  return runFlow({
    flow: JSON.parse(readFileSync(file, 'utf8')) as unknown, flowFile: file, state, profiles: { 'forceflow-emulator': env.emu.connectorProfile },
    salesforce: { retry: FAST_RETRY, destination: { ...FAST_DESTINATION, rest: { ...FAST_DESTINATION.rest, refusedRetries: 2 } } },
  });
}

const unfinished = async (journal: WriteJournal | undefined): Promise<number> => (await (journal as WriteJournal).list()).length;

describe('the write journal after runs that end with an error', () => {
  it('a REST INSERT Salesforce kept refusing (429) wrote nothing: the journal closes, the next run sends every row once', async () => {
    const name = 'refused';
    const file = flowFile(name, 'INSERT', ['Name', 'Site'], Array.from({ length: 20 }, (_, i) => [`${name} ${i}`, `${name}#${i}`]));
    const state = openRunState(join(tmp.path, `${name}-state`));
    try {
      await env.faults('collections.429=1,retryAfter=0');
      const failed = await run(file, state);
      await env.faults('');
      expect(failed.error?.code).toBe('SF_UNAVAILABLE');
      expect(await unfinished(state.writeJournal)).toBe(0);
      const ok = await run(file, state);
      expect(ok.executionStatus).toBe('Successful');
      expect(ok.recovery).toBeNull();
      expect(ok.executionResult.recordsWritten).toBe(20);
      expect(await env.query(`SELECT Id FROM Account WHERE Site LIKE '${name}#%'`)).toHaveLength(20);
    } finally {
      state.close();
    }
  });

  it('a REST UPDATE whose answers stayed lost (500) keeps its journal; the next run reports those rows unknown and does not send them again', async () => {
    const name = 'lost-update';
    const client = env.client();
    const created = await client.json<Array<{ id: string }>>({ method: 'POST', path: '/composite/sobjects', json: { allOrNone: true, records: Array.from({ length: 20 }, (_, i) => ({ attributes: { type: 'Account' }, Name: `${name} ${i}`, Site: `${name}#${i}` })) }, call: 'seed' });
    const file = flowFile(name, 'UPDATE', ['Id', 'Name'], created.map((r, i) => [r.id, `updated ${i}`]));
    const state = openRunState(join(tmp.path, `${name}-state`));
    try {
      await env.faults('collections.500=1');
      const failed = await run(file, state);
      await env.faults('');
      expect(failed.error?.code).toBe('SF_UNAVAILABLE');
      expect(await unfinished(state.writeJournal)).toBe(1);
      const patches = async (): Promise<number> => sumCalls(await env.calls(), /^PATCH .*composite\/sobjects$/);
      const before = await patches();
      const next = await run(file, state);
      expect(next.executionStatus).toBe('Successful');
      expect(await patches()).toBe(before);
      expect(next.recovery).toMatchObject({ calls: 1, rowsWritten: 0, rowsUnknown: 20, rowsResent: 0 });
      expect(next.executionResult.errorInfo.putFailuresCount).toBe(20);
      const errors = await errorRowsIfAny(join(tmp.path, name, 'errors'));
      expect(errors.filter((e) => e['errorCode'] === 'SF_WRITE_OUTCOME_UNKNOWN')).toHaveLength(20);
      expect(await unfinished(state.writeJournal)).toBe(0);
    } finally {
      state.close();
    }
  });
});
