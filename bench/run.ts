/**
 * `npm run bench [-- --records N] [-- --only a,b]`: the Bulk export benchmark.
 *
 * The emulator (with a generated Invoice__c of N records, default 1,200,000) and a local S3 run in their
 * own process, as they would be remote; each scenario runs in its own process so that its peak RSS is
 * its own. Scenarios:
 * - floor: the raw floor, the same Bulk result pages copied to disk with no parsing or processing;
 * - source: the Salesforce source alone (Bulk 2.0 forced, canonical records, discarded);
 * - localfile: a Map_all flow Salesforce → LocalFile JSON lines;
 * - s3: the same flow → S3 (s3rver) JSON lines;  s3-parquet: → S3 typed Parquet.
 * Reports records/s, MB/s (of result CSV read from Salesforce), the scenario process's CPU seconds, peak RSS and
 * API calls.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg, cpus } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const records = Number(opt('records') ?? process.env['BENCH_RECORDS'] ?? 1_200_000);
const scenarios = (opt('only') ?? 'floor,source,localfile,s3,s3-parquet').split(',');

const emulator = spawn(process.execPath, ['bin/forceflow.js', 'emulator', '--s3', '--generate', `Invoice__c=${records}`], { stdio: ['ignore', 'pipe', 'inherit'] });
const line = await new Promise<string>((resolve, reject) => {
  const rl = createInterface({ input: emulator.stdout });
  rl.once('line', resolve);
  emulator.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
});
const infoFile = join(mkdtempSync(join(tmpdir(), 'forceflow-bench-')), 'emulator.json');
writeFileSync(infoFile, line);

interface Result {
  scenario: string;
  records: number;
  seconds: number;
  /** CPU seconds (user + system) of the scenario's own process: steadier than wall time on a shared machine. */
  cpuSeconds: number;
  bytes: number;
  apiCalls: number;
  peakRssMB: number;
}
const results: Result[] = [];
const failed: string[] = [];
try {
  for (const scenario of scenarios) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/scenario.ts', scenario, infoFile, String(records)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) {
      console.error(`scenario ${scenario} failed (exit ${code})`);
      failed.push(scenario);
      continue;
    }
    const r = JSON.parse(out.trim().split('\n').pop() ?? '{}') as Result;
    results.push(r);
    console.error(`${scenario}: done in ${r.seconds.toFixed(1)} s`);
  }
} finally {
  emulator.kill('SIGTERM');
}

console.log(`\nBulk export benchmark: ${records.toLocaleString('en-US')} generated Invoice__c records (${cpus().length} cores, load ${loadavg()[0]?.toFixed(1)})\n`);
console.log('| scenario | records | seconds | records/s | MB/s | CPU s | peak RSS MB | API calls |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const r of results) {
  console.log(`| ${r.scenario} | ${r.records.toLocaleString('en-US')} | ${r.seconds.toFixed(1)} | ${Math.round(r.records / r.seconds).toLocaleString('en-US')} | ${(r.bytes / 1e6 / r.seconds).toFixed(1)} | ${r.cpuSeconds.toFixed(1)} | ${r.peakRssMB} | ${r.apiCalls} |`);
}
if (failed.length > 0) {
  console.error(`\nfailed scenarios: ${failed.join(', ')}`);
  process.exitCode = 1;
}
