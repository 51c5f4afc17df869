import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { connectSalesforce } from '../../src/connectors/salesforce/connect.ts';
import type { ReadRequest } from '../../src/core/connector.ts';
import type { Row } from '../../src/core/types.ts';
import { captureContext } from '../helpers/run-context.ts';

/**
 * Incremental windows: consecutive runs (each starting where the last ended) read every change exactly once,
 * at the window's edges, when the machine's clock disagrees with Salesforce's, and for deletions (queryAll).
 */

const FAST_RETRY = { retries: 8, baseDelayMs: 5, maxDelayMs: 40 };
// The org's clock runs an hour behind this machine's: a window ending at the local time would reach into the
// org's future, and the next run (starting there) would skip every change made in between.
const ORG_BEHIND_MS = 3_600_000;

describe('Salesforce read: incremental windows', () => {
  let emu: RunningEmulator;
  let orgNow = 0;
  beforeAll(async () => {
    orgNow = Math.floor((Date.now() - ORG_BEHIND_MS) / 1000) * 1000;
    emu = await startEmulator({ seed: 9, clock: () => orgNow });
  });
  afterAll(async () => emu?.close());

  const client = () => connectSalesforce(emu.connectorProfile, { retry: FAST_RETRY }).client;
  const insert = async (name: string): Promise<string> =>
    (await client().json<{ id: string }>({ method: 'POST', path: '/sobjects/Account', json: { Name: name }, call: 'insert Account' })).id;

  async function run(api: 'REST_SYNC' | 'BULKV2', from: string | undefined, extra: Partial<ReadRequest> = {}) {
    const ctx = captureContext();
    const { source } = connectSalesforce(emu.connectorProfile, { retry: FAST_RETRY, log: ctx.log, source: { bulk: { pollInitialMs: 10, pollMaxMs: 50 } } });
    const stream = await source.open({ entity: 'Account', fields: ['Id', 'Name', 'IsDeleted', 'LastModifiedDate'], apiPreference: api, window: { field: 'LastModifiedDate', ...(from === undefined ? {} : { from }) }, ...extra }, ctx);
    const rows: Row[] = [];
    for await (const b of stream.batches) rows.push(...b.rows);
    return { rows, to: stream.window?.to as string, from: stream.window?.from };
  }

  for (const api of ['REST_SYNC', 'BULKV2'] as const) {
    it(`${api}: consecutive windows read every change once, at the edges and with the org's clock behind ours`, async () => {
      orgNow = Math.ceil(orgNow / 1000) * 1000 + 1_000;
      const first = await run(api, undefined);
      // The window ends at Salesforce's time (its Date header), not this machine's.
      expect(Date.parse(first.to)).toBeLessThanOrEqual(orgNow);
      expect(Date.parse(first.to)).toBeGreaterThan(orgNow - 2_000);

      orgNow += 1_000;
      const onEdge = await insert(`${api} edge`); // stamped exactly at a whole second: the next window's end
      orgNow += 500;
      const second = await run(api, first.to);
      expect(second.to).toBe(new Date(orgNow - 500).toISOString());
      const afterEdge = await insert(`${api} after edge`); // same second as the window end, after it
      orgNow += 2_000;
      const changed = await insert(`${api} later`);
      await client().json({ method: 'DELETE', path: `/sobjects/Account/${onEdge}`, call: 'delete Account' });
      orgNow += 1_000;
      const third = await run(api, second.to, { includeDeleted: true });
      orgNow += 1_000;
      const fourth = await run(api, third.to, { includeDeleted: true });

      expect(second.rows.map((r) => r['Id'])).toEqual([onEdge]);
      expect(third.rows.map((r) => r['Id']).sort()).toEqual([onEdge, afterEdge, changed].sort());
      expect(third.rows.find((r) => r['Id'] === onEdge)?.['IsDeleted']).toBe(true);
      expect(fourth.rows).toEqual([]);
      for (const [w, prev] of [[second, first], [third, second], [fourth, third]] as const) expect(w.from).toBe(prev.to);
    });
  }

  it('refuses a window on a field that is not a datetime (a date field would miss records changed later on the last day)', async () => {
    const error = await run('REST_SYNC', '2024-01-01T00:00:00Z', { window: { field: 'LastActivityDate', from: '2024-01-01T00:00:00Z' } }).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('FLOW_INVALID');
    expect((error as Error).message).toMatch(/datetimeTypeFieldName: Account\.LastActivityDate is a date field; .*LastModifiedDate/);
  });

  it('offsetSeconds ends the window that many seconds before Salesforce\'s time', async () => {
    const { to } = await run('REST_SYNC', new Date(orgNow - 60_000).toISOString(), { window: { field: 'LastModifiedDate', offsetSeconds: 30 } });
    expect(to).toBe(new Date(Math.floor(orgNow / 1000) * 1000 - 30_000).toISOString());
  });
});
