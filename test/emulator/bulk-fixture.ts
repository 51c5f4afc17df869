/** Test fixture for the Bulk tests: an emulator whose Account table is built from a real recorded describe. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startEmulator, type EmulatorOptions } from '../../src/emulator/index.ts';
import type { RunningEmulator } from '../../src/emulator/index.ts';
import { ObjectSchema, type DescribeField, type SObjectDescribe } from '../../src/emulator/org/schema.ts';
import { MemoryTable } from '../../src/emulator/org/store.ts';
import { buildDescribe } from '../../src/emulator/org/describe-builder.ts';
import { USER } from '../../src/emulator/org/objects.ts';

const describePath = fileURLToPath(new URL('../../fixtures/org/source/account-describe.v48.json', import.meta.url));

/** The recorded Account describe plus an External_Id__c (external id, unique) field. */
export function accountSchema(): ObjectSchema {
  const d = JSON.parse(readFileSync(describePath, 'utf8')) as SObjectDescribe;
  const base = d.fields.find((f) => f.name === 'AccountNumber') as DescribeField;
  const ext: DescribeField = { ...base, name: 'External_Id__c', label: 'External Id', custom: true, externalId: true, unique: true, idLookup: true, length: 255, byteLength: 765 };
  return new ObjectSchema({ ...d, fields: [...d.fields, ext] });
}

export interface BulkEmu {
  emu: RunningEmulator;
  base: string;
  auth: Record<string, string>;
  table: MemoryTable;
  /** Access token and user of the session the tests use. */
  token: string;
  userId: string;
  req(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
}

/** Start an emulator with a fresh Account table (the seed org's Account, if any, is replaced). */
export async function bulkEmulator(options: EmulatorOptions = {}, version = '60.0'): Promise<BulkEmu> {
  const emu = await startEmulator(options);
  const table = new MemoryTable(accountSchema(), { clock: emu.org.clock });
  emu.org.store.add(table);
  let token = emu.accessToken;
  let userId = emu.userId;
  if (!emu.org.store.table('User')?.get(emu.userId)) {
    // No seed org (or its default user is not a User record): add one and a session for it.
    const users = new MemoryTable(new ObjectSchema(buildDescribe(USER, [])), { clock: emu.org.clock });
    emu.org.store.add(users);
    userId = String(users.insert({ Username: 'bulk@forceflow.test', LastName: 'Bulk', Email: 'bulk@forceflow.test', IsActive: true }, emu.userId)['Id']);
    const user = { userId, username: 'bulk@forceflow.test', password: 'x' };
    emu.org.auth.users.push(user);
    token = emu.org.auth.issue(user, emu.clientId).session.accessToken;
  }
  const base = `${emu.instanceUrl}/services/data/v${version}`;
  const auth = { Authorization: `Bearer ${token}` };
  const req = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> => {
    const init: RequestInit = { method, headers: { ...auth, ...headers } };
    if (body !== undefined) {
      if (typeof body === 'string' || body instanceof Uint8Array) init.body = body;
      else {
        init.body = JSON.stringify(body);
        (init.headers as Record<string, string>)['Content-Type'] = 'application/json';
      }
    }
    return fetch(path.startsWith('http') ? path : `${base}${path}`, init);
  };
  return { emu, base, auth, table, req, token, userId };
}

/** Insert plain Account rows straight into the table. */
export function seedAccounts(table: MemoryTable, n: number, userId: string, extra: (i: number) => Record<string, string | number | boolean | null> = () => ({})): string[] {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(String(table.insert({ Name: `Account ${i}`, External_Id__c: `ext-${i}`, ...extra(i) }, userId)['Id']));
  return ids;
}
