import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { runFlow } from '../../src/flows/runner.ts';

/**
 * A 250 MB CSV input written through AUTOMATIC → Bulk API 2.0 in several jobs of at most 100 MB each.
 * 10,300 Accounts with a ~25 KB Description each, so the bytes are large and the record count small.
 * It takes about 65 s on a 2-core machine (most of it the emulator parsing and storing 250 MB), so it runs only
 * when FORCEFLOW_LARGE_TESTS=1: `FORCEFLOW_LARGE_TESTS=1 npx vitest run test/connectors/salesforce-destination-large.test.ts`.
 */
const enabled = process.env['FORCEFLOW_LARGE_TESTS'] === '1';
const ROWS = 10_300;
const DESCRIPTION_BYTES = 25_600;
const MB = 1024 * 1024;

let emu: RunningEmulator;
let dir: string;

beforeAll(async () => {
  if (!enabled) return;
  emu = await startEmulator({ seed: 3 });
  dir = await mkdtemp(join(tmpdir(), 'ff-sf250-'));
});
afterAll(async () => {
  if (!enabled) return;
  await emu.close();
  await rm(dir, { recursive: true, force: true });
});

async function generate(path: string): Promise<number> {
  const out = createWriteStream(path);
  const filler = 'lorem ipsum dolor sit amet, '.repeat(Math.ceil(DESCRIPTION_BYTES / 28)).slice(0, DESCRIPTION_BYTES);
  out.write('name,ext,description\n');
  for (let i = 0; i < ROWS; i++) {
    // Each row differs early in the text, so rows are not identical.
    if (!out.write(`Big ${i},BIG-${i},"${i}: ${filler}"\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return (await stat(path)).size;
}

describe.skipIf(!enabled)('250 MB through Bulk API 2.0', () => {
  it('splits into jobs of at most 100 MB and writes every record exactly once', async () => {
    const csv = join(dir, 'big.csv');
    const size = await generate(csv);
    expect(size).toBeGreaterThan(250 * MB);
    const flow = {
      flowName: 'big-insert',
      triggerConfig: { triggerType: 'OnDemand' },
      sourceFlowConfig: { connectorType: 'LocalFile', sourceConnectorProperties: { LocalFile: { path: csv, fileType: 'CSV' } } },
      destinationFlowConfigList: [{ connectorType: 'Salesforce', connectorProfileName: 'emu', destinationConnectorProperties: { Salesforce: { object: 'Account', writeOperationType: 'INSERT', errorHandlingConfig: { failOnFirstDestinationError: false } } } }],
      tasks: [
        { taskType: 'Filter', sourceFields: ['name', 'ext', 'description'], connectorOperator: { LocalFile: 'PROJECTION' } },
        { taskType: 'Map', sourceFields: ['name'], destinationField: 'Name', connectorOperator: { LocalFile: 'NO_OP' } },
        { taskType: 'Map', sourceFields: ['ext'], destinationField: 'External_Id__c', connectorOperator: { LocalFile: 'NO_OP' } },
        { taskType: 'Map', sourceFields: ['description'], destinationField: 'Description', connectorOperator: { LocalFile: 'NO_OP' } },
      ],
    };
    const record = await runFlow({
      flow,
      profiles: { emu: emu.connectorProfile },
      salesforce: { destination: { tempDir: dir, bulk: { pollInitialMs: 20, pollMaxMs: 200 } } },
    });
    expect(record.error).toBeNull();
    expect(record.destinationDataTransferApi).toBe('BULKV2');
    expect(record.executionResult.recordsWritten).toBe(ROWS);
    expect(record.executionResult.errorInfo.putFailuresCount).toBe(0);
    expect(record.outputs.length).toBe(3);

    // Every job's upload stayed within 100 MB, and every record exists exactly once.
    const { client } = (await import('../../src/connectors/salesforce/connect.ts')).connectSalesforce(emu.connectorProfile);
    for (const jobId of record.outputs) {
      const job = await client.json<{ state: string; numberRecordsProcessed: number }>({ method: 'GET', path: `/jobs/ingest/${jobId}`, call: 'check' });
      expect(job.state).toBe('JobComplete');
      expect(job.numberRecordsProcessed).toBeLessThanOrEqual(Math.ceil((100 * MB) / DESCRIPTION_BYTES));
    }
    const count = await client.json<{ totalSize: number }>({ method: 'GET', path: '/query', query: { q: "SELECT COUNT() FROM Account WHERE External_Id__c LIKE 'BIG-%'" }, call: 'check' });
    expect(count.totalSize).toBe(ROWS);
    const objects = await (await fetch(`${emu.controlUrl}/objects`, { headers: emu.controlHeaders })).json() as { Account: { live: number } };
    expect(objects.Account.live).toBe(997 + ROWS);
  }, 300_000);
});
