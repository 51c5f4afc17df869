import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { connectSalesforce } from '../../src/connectors/salesforce/connect.ts';
import { captureContext } from '../helpers/run-context.ts';

/**
 * A Bulk read of encoded lines (ReadRequest.encodeAs) writes each batch into a buffer the consumer gives back
 * once written (EncodedLines.release, src/core/buffer-pool.ts): later batches reuse it, so an export does not
 * allocate a megabyte per batch. A batch never released is never written over.
 */
describe('Bulk read as encoded lines: batch buffers given back are reused, others never', () => {
  let emu: RunningEmulator;
  beforeAll(async () => {
    emu = await startEmulator({ generate: { Contact: 3_000 }, seed: 5 });
  });
  afterAll(async () => emu?.close());

  async function read(release: boolean): Promise<{ texts: string[]; kept: string[]; buffers: Set<ArrayBufferLike> }> {
    const ctx = captureContext();
    const { source } = connectSalesforce(emu.connectorProfile, { log: ctx.log, source: { bulk: { pollInitialMs: 10, pollMaxMs: 20, maxRecords: 1_000, batchRows: 200 } } });
    const stream = await source.open({ entity: 'Contact', fields: ['Id', 'LastName'], apiPreference: 'BULKV2', encodeAs: 'CSV' }, ctx);
    const texts: string[] = [];
    const views: Uint8Array[] = [];
    const buffers = new Set<ArrayBufferLike>();
    for await (const b of stream.batches) {
      const encoded = b.encoded;
      if (encoded === undefined) throw new Error('no encoded lines');
      texts.push(Buffer.from(encoded.bytes).toString('utf8'));
      buffers.add(encoded.bytes.buffer);
      views.push(encoded.bytes);
      if (release) encoded.release?.();
    }
    // What each batch's memory holds at the end: unchanged for batches never given back.
    const kept = views.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8'));
    return { texts, kept, buffers };
  }

  it('released: the lines are the same, written into a few buffers', async () => {
    const held = await read(false);
    const released = await read(true);
    expect(held.texts.length).toBe(15);
    expect(released.texts).toEqual(held.texts);
    expect(released.texts.join('').split('\n')).toHaveLength(3_001);
    expect(held.buffers.size).toBe(15);
    expect(released.buffers.size).toBeLessThanOrEqual(3);
  });

  it('not released: no batch is written over', async () => {
    const held = await read(false);
    expect(held.kept).toEqual(held.texts);
  });
});
