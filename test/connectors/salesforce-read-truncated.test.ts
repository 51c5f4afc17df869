import { createServer, request as httpRequest, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { connectSalesforce } from '../../src/connectors/salesforce/connect.ts';
import type { Row } from '../../src/core/types.ts';
import { captureContext } from '../helpers/run-context.ts';

/**
 * A proxy in front of the emulator that, for the first `cut` Bulk result pages, ends the body cleanly at a
 * record boundary after `keep` records (as a misbehaving proxy or load balancer can), with correct HTTP
 * framing, so nothing at the HTTP level reports the loss: only Sforce-NumberOfRecords shows it.
 */
async function truncatingProxy(target: string, keep: number, cut: number): Promise<{ url: string; cuts: () => number; close: () => Promise<void> }> {
  let cuts = 0;
  const server: Server = createServer((req, res) => {
    const upstream = httpRequest(new URL(req.url ?? '/', target), { method: req.method, headers: { ...req.headers, host: new URL(target).host } }, (up) => {
      const truncate = req.method === 'GET' && /\/jobs\/query\/[^/]+\/results/.test(req.url ?? '') && cuts < cut;
      if (!truncate) {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
        return;
      }
      cuts++;
      const chunks: Buffer[] = [];
      up.on('data', (c: Buffer) => chunks.push(c));
      up.on('end', () => {
        const lines = Buffer.concat(chunks).toString('utf8').split('\n');
        const body = `${lines.slice(0, 1 + keep).join('\n')}\n`;
        const headers = { ...up.headers };
        delete headers['content-length'];
        delete headers['transfer-encoding'];
        res.writeHead(up.statusCode ?? 200, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
        res.end(body);
      });
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, cuts: () => cuts, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
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
      const profile = structuredClone(emu.connectorProfile) as { connectorProfileConfig: { connectorProfileProperties: { Salesforce: { instanceUrl: string } } } };
      profile.connectorProfileConfig.connectorProfileProperties.Salesforce.instanceUrl = proxy.url;
      const ctx = captureContext();
      const { source } = connectSalesforce(profile, { log: ctx.log, retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 2 }, source: { bulk: { pollInitialMs: 10, pollMaxMs: 20, maxRecords: 3_000 } } });
      const rows: Row[] = [];
      const stream = await source.open({ entity: 'Contact', fields: ['Id', 'LastName'], apiPreference: 'BULKV2' }, ctx);
      for await (const b of stream.batches) rows.push(...b.rows);
      expect(proxy.cuts()).toBe(2);
      expect(rows).toHaveLength(7_000);
      expect(new Set(rows.map((r) => r['Id'])).size).toBe(7_000);
      expect(ctx.lines.filter((l) => l['msg'] === 'bulk results page broke; fetching it again')).toHaveLength(2);
    } finally {
      await proxy.close();
    }
  });
});
