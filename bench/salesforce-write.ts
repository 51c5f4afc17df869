/**
 * Salesforce destination throughput (run outside the test suite):
 *   node --import tsx bench/salesforce-write.ts [bulkRecords=1000000] [restRecords=999]
 *
 * The emulator runs in a child process (`forceflow emulator`), so the writer and the org do not share an
 * event loop. It serves half of the Bulk records as a generated Account table (External_Id__c = GEN-i), so the
 * UPSERT by External_Id__c updates that half and creates the other half.
 * Reports records/s, API calls, jobs, created/updated, and peak RSS of the writer process.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connectSalesforce } from '../src/connectors/salesforce/connect.ts';
import { createSalesforceDestination, type SalesforceDestinationConfig } from '../src/connectors/salesforce/destination.ts';
import { silentLogger } from '../src/core/logger.ts';
import type { RecordBatch, Row } from '../src/core/types.ts';

const bulkRecords = Number(process.argv[2] ?? 1_000_000);
const restRecords = Number(process.argv[3] ?? 999);
const generated = Math.floor(bulkRecords / 2);

async function startChildEmulator(): Promise<{ profile: unknown; controlUrl: string; stop: () => void }> {
  const child = spawn(process.execPath, ['bin/forceflow.js', 'emulator', '--generate', `Account=${generated}`, '--api-limit', '100000000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`emulator exited with ${String(code)}`)));
  });
  const info = JSON.parse(first) as { connectorProfile: unknown; controlUrl: string };
  return { profile: info.connectorProfile, controlUrl: info.controlUrl, stop: () => child.kill('SIGTERM') };
}

async function* rows(n: number, prefix: string, batch = 5000): AsyncGenerator<RecordBatch> {
  const schema = { entity: 'bench', fields: ['External_Id__c', 'Name', 'NumberOfEmployees', 'Phone', 'Industry'].map((name) => ({ name, type: 'string' as const })) };
  for (let i = 0; i < n; i += batch) {
    const out: Row[] = [];
    for (let k = i; k < Math.min(n, i + batch); k++) {
      out.push({ External_Id__c: `${prefix}${k + 1}`, Name: `Bench account ${k + 1}`, NumberOfEmployees: (k % 5000) + 1, Phone: `(555) 01${String(k % 100).padStart(2, '0')}`, Industry: 'Technology' });
    }
    yield { schema, rows: out };
  }
}

async function measure(label: string, profile: unknown, config: SalesforceDestinationConfig, n: number, prefix: string, tempDir: string): Promise<void> {
  const { client } = connectSalesforce(profile, { log: silentLogger() });
  const dest = createSalesforceDestination(client, config, { tempDir, bulk: { pollInitialMs: 100, pollMaxMs: 2000 } });
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 100);
  const t0 = performance.now();
  const ctx = { log: silentLogger(), signal: new AbortController().signal, now: () => new Date() };
  const r = await dest.write(rows(n, prefix), ctx);
  const secs = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  const line = {
    label, records: n, api: r.api, seconds: Number(secs.toFixed(2)), recordsPerSecond: Math.round(n / secs), apiCalls: r.apiCalls,
    jobs: r.outputs?.length ?? 0, written: r.written, created: r.created, updated: r.updated, failed: r.failedCount, peakRssMB: Math.round(peak / 1024 / 1024),
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const emu = await startChildEmulator();
const tempDir = await mkdtemp(join(tmpdir(), 'ff-bench-sfw-'));
try {
  await measure('REST upsert', emu.profile, { object: 'Account', writeOperationType: 'UPSERT', idFieldNames: ['External_Id__c'], apiPreference: 'AUTOMATIC', failOnFirstDestinationError: false }, restRecords, 'REST-', tempDir);
  await measure('Bulk upsert', emu.profile, { object: 'Account', writeOperationType: 'UPSERT', idFieldNames: ['External_Id__c'], apiPreference: 'AUTOMATIC', failOnFirstDestinationError: false }, bulkRecords, 'GEN-', tempDir);
} finally {
  emu.stop();
  await rm(tempDir, { recursive: true, force: true });
}
