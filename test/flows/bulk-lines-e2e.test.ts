import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { connectSalesforce } from '../../src/connectors/salesforce/connect.ts';
import { batchSize } from '../../src/core/batches.ts';
import { compileFlow, type FlowPlan } from '../../src/flows/compile.ts';
import { runPlan } from '../../src/flows/runner.ts';
import { captureContext } from '../helpers/run-context.ts';

/**
 * A flow whose only task is Map_all, read through Bulk API 2.0 into CSV or JSON lines files, gets its records as
 * file lines written while Bulk's CSV is parsed (ReadRequest.encodeAs, decided when the flow is compiled; issue 13).
 * The files must be byte for byte those of the same plan read as rows (encodeAs removed), on generated records of
 * every field type the emulator generates (Account: address, location-free compounds; Invoice__c: its custom
 * types) over several result pages, plus records written with the values the encoders treat specially.
 */
const FAST = { retry: { retries: 6, baseDelayMs: 5, maxDelayMs: 50 }, bulk: { pollInitialMs: 10, pollMaxMs: 50, maxRecords: 700, batchRows: 300 } };

function files(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

function flow(object: string, out: string, outputFormatConfig: Record<string, unknown>, tasks: unknown[] = [{ taskType: 'Map_all', sourceFields: [], taskProperties: {} }]): unknown {
  return {
    flowName: 'bulk-lines',
    triggerConfig: { triggerType: 'OnDemand' },
    sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: 'forceflow-emulator', sourceConnectorProperties: { Salesforce: { object, dataTransferApi: 'BULKV2' } } },
    destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: out, outputFormatConfig: { prefixConfig: { pathPrefixHierarchy: [] }, ...outputFormatConfig } } } }],
    tasks,
  };
}

describe('Bulk export, Map_all → CSV / JSON lines file: lines written as Bulk CSV is parsed', () => {
  let emu: RunningEmulator;
  const counts = { Invoice__c: 2_500, Account: 1_500 };
  const expected: Record<string, number> = {};
  const profiles = (): Record<string, unknown> => ({ 'forceflow-emulator': emu.connectorProfile });

  beforeAll(async () => {
    emu = await startEmulator({ generate: counts, seed: 7 });
    const { client } = connectSalesforce(emu.connectorProfile, { retry: FAST.retry });
    const insert = (r: Record<string, unknown>) => client.json<{ id: string }>({ method: 'POST', path: '/sobjects/Invoice__c', json: r, call: 'insert Invoice__c' });
    const text = 'line1\nline2\r\nline3 "quoted", comma, \'single\' \\ back\ttab ünïcødé 😀 漢字 \u200b\u2028';
    await insert({ Name: 'lines-full', Notes__c: text, Amount__c: 0.1, Tax_Rate__c: 12.35, Exchange_Rate__c: 0.000001, Line_Count__c: 999_999, Paid_At__c: '2024-02-29T23:59:59.999Z', Reminder_Time__c: '23:59:59.999Z', Invoice_Date__c: '2024-02-29', Tags__c: 'Priority;Net30', Is_Paid__c: true, Location__Latitude__s: 0, Location__Longitude__s: -0.000001, Portal_Url__c: 'https://x.example.com/a?b=1,2&c="3"', Contact_Phone__c: '"",""' });
    await insert({ Name: 'lines-empty', Notes__c: '', Contact_Phone__c: '', Location__Latitude__s: 45.5, Is_Paid__c: false });
    await insert({ Name: 'lines-offsets', Paid_At__c: '2024-01-01T00:00:00+0100', Amount__c: 12345678901234.56, Tax_Rate__c: 0, Line_Count__c: -5, Reminder_Time__c: '00:00:00.000Z' });
    await insert({ Name: ' null ', Notes__c: '"', Amount__c: 0.30000000000000004, Exchange_Rate__c: 1e21 });
    // Values the byte transcoder copies, escapes or hands to the line text: Java's x.0, tiny and long numbers,
    // controls, backslashes, a time without seconds, a datetime with an offset, text longer than a chunk.
    await insert({ Name: 'lines-bytes "q" \\ \u0001\u001f', Notes__c: `${'ü'.repeat(32_000)} ,"\n`, Amount__c: 12345678901234, Tax_Rate__c: 0.1, Exchange_Rate__c: 1e-7, Line_Count__c: 0, Reminder_Time__c: '09:05', Paid_At__c: '2024-06-01T12:00:00.000-0700', Location__Latitude__s: -0.5, Location__Longitude__s: 10, Is_Paid__c: true });
    await insert({ Name: 'lines-location-half', Location__Latitude__s: 1.25, Tax_Rate__c: -0, Exchange_Rate__c: 0.1 + 0.2 });
    expected['Invoice__c'] = counts.Invoice__c + 6;
    expected['Account'] = counts.Account + (await client.json<{ totalSize: number }>({ method: 'GET', path: '/query', query: { q: 'SELECT COUNT() FROM Account' }, call: 'count' })).totalSize - counts.Account;
  });
  afterAll(async () => emu?.close());

  it('the source gives encoded lines and their count when the read asks for them, rows otherwise', async () => {
    const ctx = captureContext();
    const { source } = connectSalesforce(emu.connectorProfile, { retry: FAST.retry, log: ctx.log, source: { bulk: FAST.bulk } });
    for (const encodeAs of ['CSV', 'JSON'] as const) {
      const stream = await source.open({ entity: 'Invoice__c', apiPreference: 'BULKV2', encodeAs }, ctx);
      let total = 0;
      for await (const batch of stream.batches) {
        expect(batch.encoded?.fileType).toBe(encodeAs);
        expect(batch.rows).toHaveLength(0);
        const text = Buffer.from(batch.encoded?.bytes ?? new Uint8Array()).toString('utf8');
        expect(text.endsWith('\n')).toBe(true);
        if (encodeAs === 'JSON') expect(text.split('\n')).toHaveLength(batchSize(batch) + 1);
        total += batchSize(batch);
      }
      expect(total).toBe(expected['Invoice__c']);
    }
    // The records were written from the results' bytes (BulkCsvRecords, bulkLineWriter), not parsed into cells.
    const pages = ctx.lines.filter((l) => l['msg'] === 'bulk results page written as lines');
    const sum = (key: string): number => pages.reduce((n, l) => n + Number(l[key]), 0);
    expect(sum('fromBytes')).toBe(2 * (expected['Invoice__c'] as number));
    expect(sum('reparsed')).toBe(0);
    expect(sum('parsed')).toBe(pages.length); // the headers
  });

  it('the plan asks for lines only for Map_all alone to CSV or JSON lines without partitions or a file size target', () => {
    const out = '/tmp/unused';
    const encodeAs = (f: unknown): unknown => compileFlow(f).read.encodeAs;
    expect(encodeAs(flow('Account', out, { fileType: 'CSV' }))).toBe('CSV');
    expect(encodeAs(flow('Account', out, { fileType: 'JSON', aggregationConfig: { aggregationType: 'SingleFile' } }))).toBe('JSON');
    expect(encodeAs(flow('Account', out, {}))).toBe('JSON');
    expect(encodeAs(flow('Account', out, { fileType: 'PARQUET' }))).toBeUndefined();
    expect(encodeAs(flow('Account', out, { fileType: 'CSV', aggregationConfig: { aggregationType: 'None', targetFileSize: 1 } }))).toBeUndefined();
    expect(encodeAs(flow('Account', out, { fileType: 'CSV' }, [
      { taskType: 'Map_all', sourceFields: [], taskProperties: {} },
      { taskType: 'Mask', sourceFields: ['Name'], connectorOperator: { Salesforce: 'MASK_ALL' }, taskProperties: { MASK_VALUE: '*' } },
    ]))).toBeUndefined();
    expect(encodeAs(flow('Account', out, { fileType: 'CSV' }, [
      { taskType: 'Filter', sourceFields: ['Name'], connectorOperator: { Salesforce: 'PROJECTION' }, taskProperties: {} },
      { taskType: 'Map', sourceFields: ['Name'], destinationField: 'Name', taskProperties: {} },
    ]))).toBeUndefined();
    const incremental = flow('Account', out, { fileType: 'CSV' }) as { triggerConfig: unknown };
    incremental.triggerConfig = { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(1hours)', dataPullMode: 'Incremental' } } };
    expect(encodeAs(incremental)).toBeUndefined();
  });

  for (const object of ['Invoice__c', 'Account'] as const) {
    for (const fileType of ['CSV', 'JSON'] as const) {
      it(`${object} → ${fileType}: the same files as the plan read as rows`, async () => {
        const run = async (lines: boolean): Promise<Map<string, Buffer>> => {
          const out = mkdtempSync(join(tmpdir(), 'ff-bulk-lines-'));
          const compiled = compileFlow(flow(object, out, { fileType }));
          expect(compiled.read.encodeAs).toBe(fileType);
          const { encodeAs: _dropped, ...rowsRead } = compiled.read;
          const plan: FlowPlan = lines ? compiled : { ...compiled, read: rowsRead };
          const record = await runPlan(plan, { profiles: profiles(), executionId: 'same-run', salesforce: FAST });
          expect(record.executionStatus).toBe('Successful');
          expect(record.executionResult.recordsProcessed).toBe(expected[object]);
          expect(record.executionResult.recordsWritten).toBe(expected[object]);
          expect(record.executionResult.maxPageSize).toBe(300);
          return files(out);
        };
        const fast = await run(true);
        const slow = await run(false);
        expect([...fast.keys()]).toEqual([...slow.keys()]);
        for (const [name, bytes] of slow) {
          const mine = fast.get(name) as Buffer;
          expect(mine.toString('utf8').split('\n'), name).toEqual(bytes.toString('utf8').split('\n'));
          expect(mine.equals(bytes)).toBe(true);
        }
        if (object === 'Invoice__c') {
          const all = Buffer.concat([...fast.values()]).toString('utf8');
          expect(all).toContain('lines-full');
          expect(all).toContain(fileType === 'CSV' ? '"https://x.example.com/a?b=1,2&c=""3"""' : '"https://x.example.com/a?b=1,2&c=\\"3\\""');
        }
      });
    }
  }
});
