/**
 * Parallel Bulk reads (issue 17, src/connectors/salesforce/bulk-split.ts): the Salesforce source reading a
 * generated object through one Bulk query job, then through N jobs over Id ranges, against an emulator whose
 * results are served at a bounded rate per job (`bulkQueryBytesPerSecond`, like a real org). Prints wall time,
 * records/s and MB/s of each, the speed-up, the API calls and peak RSS, and checks both read the same Ids in the
 * same order. Part of `npm run bench` (scenario bulk-parallel); alone:
 * `node --import tsx bench/bulk-parallel.ts [--records N] [--rate BYTES_PER_S] [--jobs N]`.
 * Quick by default (50,000 Accounts, 6 fields, 1 MB/s per job: about 6 s for the one-job read).
 */
import { createHash } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { pino } from 'pino';
import { startEmulator } from '../src/emulator/index.ts';
import { connectSalesforce } from '../src/connectors/salesforce/connect.ts';

const args = process.argv.slice(2);
const opt = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const records = opt('records', 50_000);
const rate = opt('rate', 1_000_000);
const jobs = opt('jobs', 4);
const FIELDS = ['Id', 'Name', 'AccountNumber', 'Industry', 'AnnualRevenue', 'CreatedDate'];

const emu = await startEmulator({ generate: { Account: records }, bulkQueryBytesPerSecond: rate, dailyApiLimit: 100_000_000 });
const log = pino({ level: 'warn' });

async function read(parallel: number): Promise<{ ms: number; rows: number; bytes: number; calls: number; digest: string; split: string }> {
  const ctx = { log, signal: new AbortController().signal, now: () => new Date() };
  const { source, client } = connectSalesforce(emu.connectorProfile, {
    log,
    source: { bulk: { pollInitialMs: 50, pollMaxMs: 200 }, ...(parallel > 1 ? { split: { jobs: parallel, minRecords: 0 } } : {}) },
  });
  const hash = createHash('sha256');
  const t0 = process.hrtime.bigint();
  const stream = await source.open({ entity: 'Account', fields: FIELDS, apiPreference: 'BULKV2' }, ctx);
  let rows = 0;
  for await (const batch of stream.batches) {
    rows += batch.rows.length;
    for (const row of batch.rows) hash.update(String(row['Id']));
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const split = stream.split?.();
  // When the last job had served its results: the rest of the read is reading the spool back (CPU).
  const lastJob = split ? Math.max(...split.jobs.map((j) => Date.parse(j.endedAt ?? '') || 0)) : 0;
  const jobsDone = split ? `; all jobs done ${((lastJob - (Date.now() - ms)) / 1000).toFixed(1)} s in` : '';
  const jobsText = split ? `${split.jobs.map((j) => `${j.records} in ${((j.ms ?? 0) / 1000).toFixed(1)} s${j.spooled ? ' (spooled)' : ''}`).join(', ')}${jobsDone}` : 'one job';
  return { ms, rows, bytes: client.recordBytesReceived, calls: client.apiCalls, digest: hash.digest('hex'), split: jobsText };
}

const serial = await read(1);
const parallel = await read(jobs);
await emu.close();

const line = (name: string, r: typeof serial): string =>
  `${name.padEnd(10)} ${(r.ms / 1000).toFixed(2).padStart(6)} s  ${Math.round(r.rows / (r.ms / 1000)).toLocaleString('en-US').padStart(9)} records/s  ${(r.bytes / 1e6 / (r.ms / 1000)).toFixed(1).padStart(5)} MB/s  ${String(r.calls).padStart(3)} API calls  [${r.split}]`;
console.log(`bulk-parallel: ${records.toLocaleString('en-US')} Accounts (${FIELDS.length} fields), results served at ${(rate / 1e6).toFixed(1)} MB/s per job; ${cpus().length} cores, load ${loadavg()[0]?.toFixed(1)}`);
console.log(line('1 job', serial));
console.log(line(`${jobs} jobs`, parallel));
console.log(`speed-up ×${(serial.ms / parallel.ms).toFixed(2)}; same Ids in the same order: ${serial.digest === parallel.digest && serial.rows === parallel.rows ? 'yes' : 'NO'}; peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`);
if (serial.digest !== parallel.digest || serial.rows !== records) process.exitCode = 1;
