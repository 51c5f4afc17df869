import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { connectSalesforce } from '../../src/connectors/salesforce/connect.ts';
import type { Row } from '../../src/core/types.ts';
import { captureContext } from '../helpers/run-context.ts';
import { profileThrough, rewritingProxy } from '../helpers/rewriting-proxy.ts';

/**
 * A proxy in front of the emulator that, for the first `cut` Bulk result pages, ends the body cleanly at a
 * record boundary after `keep` records (as a misbehaving proxy or load balancer can), with correct HTTP
 * framing, so nothing at the HTTP level reports the loss: only Sforce-NumberOfRecords shows it.
 */
async function truncatingProxy(target: string, keep: number, cut: number): ReturnType<typeof rewritingProxy> {
  let cuts = 0;
  return rewritingProxy(target, (method, path) => {
    if (method !== 'GET' || !/\/jobs\/query\/[^/]+\/results$/.test(path) || cuts >= cut) return undefined;
    cuts++;
    return (csv) => `${csv.split('\n').slice(0, 1 + keep).join('\n')}\n`;
  });
}

describe('Salesforce read: a Bulk results page cut short at a record boundary', () => {
  let emu: RunningEmulator;
  beforeAll(async () => {
    emu = await startEmulator({ generate: { Contact: 7_000 }, seed: 3 });
  });
  afterAll(async () => emu?.close());

  it('is fetched again, so no record is lost or read twice', async () => {
    const proxy = await truncatingProxy(emu.instanceUrl, 1_234, 2);
    try {
      const ctx = captureContext();
      const { source } = connectSalesforce(profileThrough(emu.connectorProfile, proxy.url), { log: ctx.log, retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 2 }, source: { bulk: { pollInitialMs: 10, pollMaxMs: 20, maxRecords: 3_000 } } });
      const rows: Row[] = [];
      const stream = await source.open({ entity: 'Contact', fields: ['Id', 'LastName'], apiPreference: 'BULKV2' }, ctx);
      for await (const b of stream.batches) rows.push(...b.rows);
      expect(proxy.rewrites()).toBe(2);
      expect(rows).toHaveLength(7_000);
      expect(new Set(rows.map((r) => r['Id'])).size).toBe(7_000);
      expect(ctx.lines.filter((l) => l['msg'] === 'bulk results page broke; fetching it again')).toHaveLength(2);
    } finally {
      await proxy.close();
    }
  });

  it('read as encoded JSON lines (ReadRequest.encodeAs): fetched again, so no line is lost or written twice', async () => {
    const proxy = await truncatingProxy(emu.instanceUrl, 1_234, 2);
    try {
      const ctx = captureContext();
      const { source } = connectSalesforce(profileThrough(emu.connectorProfile, proxy.url), { log: ctx.log, retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 2 }, source: { bulk: { pollInitialMs: 10, pollMaxMs: 20, maxRecords: 3_000 } } });
      const ids: string[] = [];
      let counted = 0;
      const stream = await source.open({ entity: 'Contact', fields: ['Id', 'LastName'], apiPreference: 'BULKV2', encodeAs: 'JSON' }, ctx);
      for await (const b of stream.batches) {
        const lines = Buffer.from(b.encoded?.bytes ?? new Uint8Array()).toString('utf8').split('\n').slice(0, -1);
        expect(lines).toHaveLength(b.encoded?.count ?? -1);
        counted += b.encoded?.count ?? 0;
        for (const line of lines) ids.push((JSON.parse(line) as { Id: string }).Id);
      }
      expect(proxy.rewrites()).toBe(2);
      expect(counted).toBe(7_000);
      expect(new Set(ids).size).toBe(7_000);
    } finally {
      await proxy.close();
    }
  });

  it('a cancellation while waiting to fetch a broken page again ends the read at once with RUN_CANCELED', async () => {
    // Every page is cut, and the wait before fetching it again is drawn under an hour (the client's policy):
    // the wait used to ignore the run's abort signal.
    const proxy = await truncatingProxy(emu.instanceUrl, 1_234, 100);
    try {
      const controller = new AbortController();
      const ctx = captureContext(controller.signal);
      const hour = 3_600_000;
      const { source } = connectSalesforce(profileThrough(emu.connectorProfile, proxy.url), { log: ctx.log, signal: controller.signal, retry: { retries: 2, baseDelayMs: hour, maxDelayMs: hour }, source: { bulk: { pollInitialMs: 10, pollMaxMs: 20, maxRecords: 3_000 } } });
      const stream = await source.open({ entity: 'Contact', fields: ['Id', 'LastName'], apiPreference: 'BULKV2' }, ctx);
      const reading = (async () => {
        for await (const b of stream.batches) void b;
      })().then(() => undefined, (e: unknown) => e);
      const broke = (): boolean => ctx.lines.some((l) => l['msg'] === 'bulk results page broke; fetching it again');
      while (!broke()) await new Promise((r) => setImmediate(r));
      controller.abort();
      const error = await reading;
      expect(error).toMatchObject({ code: 'RUN_CANCELED' });
      expect(proxy.rewrites()).toBe(1);
    } finally {
      await proxy.close();
    }
  });
});
