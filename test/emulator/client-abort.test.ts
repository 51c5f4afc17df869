import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { captureContext } from '../helpers/run-context.ts';

describe('emulator: a client that goes away mid-request', () => {
  let emu: RunningEmulator;
  const captured = captureContext();
  beforeAll(async () => {
    emu = await startEmulator({ logger: captured.log });
  });
  afterAll(async () => {
    await emu.close();
  });

  it('is logged at debug level, not as a handler failure, and the emulator keeps serving', async () => {
    const created = await fetch(`${emu.instanceUrl}/services/data/v58.0/jobs/ingest`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${emu.accessToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ object: 'Account', operation: 'insert' }),
    });
    const { id } = (await created.json()) as { id: string };
    // A chunked upload whose socket is destroyed part-way.
    await new Promise<void>((resolve) => {
      const r = httpRequest(new URL(`${emu.instanceUrl}/services/data/v58.0/jobs/ingest/${id}/batches`), { method: 'PUT', headers: { Authorization: `Bearer ${emu.accessToken}`, 'Content-Type': 'text/csv', 'Transfer-Encoding': 'chunked' } });
      r.on('error', () => resolve());
      r.write('Name\n');
      r.write('Half an upload\n');
      setTimeout(() => r.destroy(), 50);
    });
    await new Promise((r) => setTimeout(r, 100));
    const errors = captured.lines.filter((l) => typeof l['level'] === 'number' && l['level'] >= 50);
    expect(errors).toEqual([]);
    expect(captured.lines.some((l) => l['msg'] === 'client went away mid-request')).toBe(true);
    const again = await fetch(`${emu.instanceUrl}/services/data/v58.0/jobs/ingest/${id}`, { headers: { Authorization: `Bearer ${emu.accessToken}` } });
    expect(again.status).toBe(200);
  });
});
