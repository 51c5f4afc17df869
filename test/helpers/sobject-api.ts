import { expect } from 'vitest';
import type { RunningEmulator } from '../../src/emulator/index.ts';

/**
 * A record write through the emulator's REST sObject API, as a test changes the org between runs: `api('POST',
 * 'Account', {...})` answers the new Id, `api('PATCH', 'Account/<id>', {...})` an empty string. The answer must
 * be a success. `emulator` is read at each call, so a test may pass it before `beforeAll` started the emulator.
 */
export function sobjectApi(emulator: () => RunningEmulator): (method: string, path: string, body: unknown) => Promise<string> {
  return async (method, path, body) => {
    const emu = emulator();
    const res = await fetch(`${emu.instanceUrl}/services/data/v58.0/sobjects/${path}`, { method, headers: { Authorization: `Bearer ${emu.accessToken}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBeLessThan(300);
    return res.status === 201 ? String(((await res.json()) as { id: string }).id) : '';
  };
}
