/**
 * The Salesforce CLI (`@salesforce/cli`, installed locally by scripts/install-sf-cli.sh into tools/sf-cli)
 * against the emulator, unchanged. Opt-in: `npm run test:sf-cli` (or FORCEFLOW_SF_CLI=1 after installing).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import type { StoredRecord } from '../../src/emulator/org/store.ts';

const enabled = process.env['FORCEFLOW_SF_CLI'] === '1';
const SF = resolve('tools/sf-cli/node_modules/.bin/sf');

let emu: RunningEmulator;
let home: string;

interface SfResult {
  code: number;
  json: { status: number; result?: Record<string, unknown>; message?: string };
  stderr: string;
}

function sf(args: string[], extraEnv: Record<string, string> = {}): Promise<SfResult> {
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '',
    HOME: home,
    SF_DISABLE_TELEMETRY: 'true',
    SF_DISABLE_AUTOUPDATE: 'true',
    SF_USE_GENERIC_UNIX_KEYCHAIN: 'true',
    SF_DISABLE_DNS_CHECK: 'true',
    SF_AUTOUPDATE_DISABLE: 'true',
    ...extraEnv,
  };
  return new Promise((done) => {
    execFile(SF, [...args, '--json'], { cwd: home, env, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      let json: SfResult['json'];
      try {
        json = JSON.parse(stdout) as SfResult['json'];
      } catch {
        json = { status: -1, message: stdout };
      }
      done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, json, stderr });
    });
  });
}

/** Parse a Bulk CSV whose every value is quoted (what the emulator, like Salesforce, writes). */
function parseQuoted(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (text[q + 1] === '"') {
          v += text.slice(i, q + 1);
          i = q + 2;
        } else {
          v += text.slice(i, q);
          i = q + 1;
          break;
        }
      }
      row.push(v);
    }
    if (text[i] === ',') i++;
    else if (text[i] === '\n') {
      rows.push(row);
      row = [];
      i++;
    }
  }
  if (row.length) rows.push(row);
  return rows;
}

function accounts(): StoredRecord[] {
  return [...(emu.org.store.table('Account')?.scan(false) ?? [])];
}

describe.skipIf(!enabled)('Salesforce CLI against the emulator', () => {
  beforeAll(async () => {
    if (!existsSync(SF)) throw new Error('The sf CLI is not installed: run scripts/install-sf-cli.sh (npm run test:sf-cli does).');
    emu = await startEmulator({ seed: 5 });
    home = await mkdtemp(join(tmpdir(), 'forceflow-sf-'));
    const login = await sf(['org', 'login', 'access-token', '--instance-url', emu.instanceUrl, '--no-prompt', '--alias', 'emu'], { SF_ACCESS_TOKEN: emu.accessToken });
    expect(login.json.status, JSON.stringify(login.json)).toBe(0);
    expect(login.json.result).toMatchObject({ username: emu.username, orgId: emu.orgId, isDevHub: false });
  }, 180_000);
  afterAll(async () => {
    await emu?.close();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it('sf data export bulk (CSV) matches the org, over several result pages', async () => {
    emu.org.bulk.queryPageRows = 250;
    const res = await sf(['data', 'export', 'bulk', '-o', 'emu', '-q', 'SELECT Id, Name, NumberOfEmployees FROM Account', '--output-file', 'accounts.csv', '--wait', '2']);
    emu.org.bulk.queryPageRows = 100_000;
    const rows = accounts();
    expect(res.json, JSON.stringify(res.json)).toMatchObject({ status: 0, result: { totalSize: rows.length } });
    const csv = parseQuoted(await readFile(join(home, 'accounts.csv'), 'utf8'));
    expect(csv[0]).toEqual(['Id', 'Name', 'NumberOfEmployees']);
    expect(csv).toHaveLength(rows.length + 1);
    const byId = new Map(rows.map((r) => [String(r['Id']), r]));
    for (const [id, name, employees] of csv.slice(1)) {
      const r = byId.get(id ?? '');
      expect(r?.['Name']).toBe(name);
      expect(r?.['NumberOfEmployees'] === null ? '' : String(r?.['NumberOfEmployees'])).toBe(employees);
    }
  });

  it('sf data export bulk --result-format json matches the org', async () => {
    const res = await sf(['data', 'export', 'bulk', '-o', 'emu', '-q', 'SELECT Id, Name, AnnualRevenue FROM Account', '--output-file', 'accounts.json', '--result-format', 'json', '--wait', '2']);
    const rows = accounts();
    expect(res.json, JSON.stringify(res.json)).toMatchObject({ status: 0, result: { totalSize: rows.length } });
    const json = JSON.parse(await readFile(join(home, 'accounts.json'), 'utf8')) as Record<string, string>[];
    expect(json).toHaveLength(rows.length);
    const byId = new Map(rows.map((r) => [String(r['Id']), r]));
    for (const j of json) {
      const r = byId.get(j['Id'] ?? '');
      expect(r?.['Name']).toBe(j['Name']);
      const rev = r?.['AnnualRevenue'];
      expect(rev === null || rev === undefined ? '' : Number(j['AnnualRevenue'])).toBe(rev === null || rev === undefined ? j['AnnualRevenue'] : rev);
    }
  });

  it('sf data import bulk inserts the file’s rows', async () => {
    await writeFile(join(home, 'import.csv'), 'Name,External_Id__c,NumberOfEmployees\nCLI One,cli-1,10\n"CLI, Two",cli-2,20\n');
    const res = await sf(['data', 'import', 'bulk', '-o', 'emu', '--file', 'import.csv', '--sobject', 'Account', '--wait', '2']);
    expect(res.json, JSON.stringify(res.json)).toMatchObject({ status: 0, result: { processedRecords: 2, successfulRecords: 2, failedRecords: 0 } });
    expect(String(res.json.result?.['jobId'])).toMatch(/^750/);
    const t = emu.org.store.table('Account');
    expect(t?.findBy('External_Id__c', 'cli-1')[0]).toMatchObject({ Name: 'CLI One', NumberOfEmployees: 10 });
    expect(t?.findBy('External_Id__c', 'cli-2')[0]).toMatchObject({ Name: 'CLI, Two', NumberOfEmployees: 20 });
  });

  it('sf data upsert bulk updates and creates by external id', async () => {
    await writeFile(join(home, 'upsert.csv'), 'External_Id__c,Name\ncli-1,CLI One Renamed\ncli-3,CLI Three\n');
    const res = await sf(['data', 'upsert', 'bulk', '-o', 'emu', '--file', 'upsert.csv', '--sobject', 'Account', '--external-id', 'External_Id__c', '--wait', '2']);
    expect(res.json.status, JSON.stringify(res.json)).toBe(0);
    const t = emu.org.store.table('Account');
    expect(t?.findBy('External_Id__c', 'cli-1')[0]?.['Name']).toBe('CLI One Renamed');
    expect(t?.findBy('External_Id__c', 'cli-3')[0]?.['Name']).toBe('CLI Three');
    expect(JSON.stringify(res.json.result)).toContain('"sf__Created":"false"');
    expect(JSON.stringify(res.json.result)).toContain('"sf__Created":"true"');
  });

  it('sf data import bulk reports failed rows as Salesforce does (exit 1)', async () => {
    await writeFile(join(home, 'bad.csv'), 'Name,External_Id__c\nGood,cli-ok\n,cli-bad\n');
    const res = await sf(['data', 'import', 'bulk', '-o', 'emu', '--file', 'bad.csv', '--sobject', 'Account', '--wait', '2']);
    expect(res.code).toBe(1);
    expect(res.json.status).toBe(1);
  });
});
