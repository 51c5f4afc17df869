/**
 * Bulk API 2.0 ingest cost of the emulator (run with `node --import tsx bench/emulator-ingest.ts [rows]`, or
 * `npm run bench:emulator-ingest`): an in-process emulator with a generated Invoice__c of `rows` records takes one
 * upsert job by External_Id__c of `rows` rows (half update generated records, half create; about 1 row in 330
 * fails a check: a restricted picklist, a number, an integer), from a client in a child process, which then reads
 * the successful and failed results. Prints the emulator process's CPU seconds (what the benchmark's contenders
 * should not be measuring) per 100,000 rows, and hashes of the result files and of the stored records (audit
 * times left out) so that a change to the engine can be checked to give the same answers.
 * One job takes at most 150 MB of base64 CSV: about 600,000 of these rows.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '../src/emulator/index.ts';

const rows = Number(process.argv[2] ?? 200_000);

const CLIENT = `
const { readFileSync } = require('node:fs');
const { createHash } = require('node:crypto');
const [base, token, file] = process.argv.slice(1);
const H = { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' };
const call = async (url, init) => { for (let k = 0; ; k++) { try { return await fetch(url, init); } catch (e) { if (k > 3) throw e; } } };
(async () => {
  const job = await (await call(base + '/jobs/ingest', { method: 'POST', headers: H, body: JSON.stringify({ object: 'Invoice__c', operation: 'upsert', externalIdFieldName: 'External_Id__c' }) })).json();
  await call(base + '/jobs/ingest/' + job.id + '/batches', { method: 'PUT', headers: { ...H, 'Content-Type': 'text/csv' }, body: readFileSync(file) });
  await call(base + '/jobs/ingest/' + job.id, { method: 'PATCH', headers: H, body: JSON.stringify({ state: 'UploadComplete' }) });
  let info;
  for (;;) {
    info = await (await call(base + '/jobs/ingest/' + job.id, { headers: H })).json();
    if (info.state === 'JobComplete' || info.state === 'Failed') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const hash = async (which) => createHash('sha256').update(await (await call(base + '/jobs/ingest/' + job.id + '/' + which, { headers: H })).text()).digest('hex').slice(0, 16);
  console.log(JSON.stringify({ state: info.state, processed: info.numberRecordsProcessed, failed: info.numberRecordsFailed, successHash: await hash('successfulResults'), failedHash: await hash('failedResults') }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

const fields = ['External_Id__c', 'Name', 'Amount__c', 'Tax_Rate__c', 'Exchange_Rate__c', 'Line_Count__c', 'Invoice_Date__c', 'Paid_At__c', 'Reminder_Time__c', 'Is_Paid__c', 'Status__c', 'Tags__c', 'Notes__c', 'Billing_Email__c', 'Portal_Url__c'];
const parts: string[] = [`${fields.join(',')}\n`];
for (let i = 1; i <= rows; i++) {
  const ext = i % 2 === 0 ? `GEN-${i}` : `NEW-${i}`;
  const status = i % 997 === 0 ? 'Bogus' : 'Sent';
  const amount = i % 1009 === 0 ? 'abc' : String((i % 1000) + 0.5);
  const lines = i % 1013 === 0 ? '1.5' : String(i % 50);
  const day = String((i % 28) + 1).padStart(2, '0');
  parts.push(`${ext},"Invoice ${i}",${amount},${i % 20},1.${i % 1000},${lines},2024-01-${day},2024-02-03T04:05:06.000Z,10:11:12.000Z,${i % 3 === 0},${status},Priority;Export,"note ""${i}""",bill${i}@example.com,https://example.com/${i}\n`);
}
const work = mkdtempSync(join(tmpdir(), 'forceflow-ingest-'));
const file = join(work, 'upsert.csv');
writeFileSync(file, parts.join(''));
parts.length = 0;

const emu = await startEmulator({ generate: { Invoice__c: rows } });
try {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['-e', CLIENT, `${emu.instanceUrl}/services/data/v60.0`, emu.accessToken, file], { maxBuffer: 1 << 20 }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
  });
  const cpu = process.cpuUsage(cpu0);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const h = createHash('sha256');
  for (const r of emu.org.store.table('Invoice__c')?.scan(true) ?? []) {
    const { CreatedDate: _c, LastModifiedDate: _m, SystemModstamp: _s, ...rest } = r;
    h.update(JSON.stringify(rest));
  }
  console.log(
    JSON.stringify({ rows, emulatorCpuSeconds: +cpuSeconds.toFixed(2), cpuSecondsPer100k: +(cpuSeconds / (rows / 1e5)).toFixed(2), seconds: +seconds.toFixed(1), ...(JSON.parse(out) as object), storeHash: h.digest('hex').slice(0, 16) }),
  );
} finally {
  await emu.close();
  rmSync(work, { recursive: true, force: true });
}
