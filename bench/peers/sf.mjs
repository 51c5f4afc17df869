/**
 * The Salesforce CLI as a peer in `npm run bench` (only when tools/sf-cli is installed: `npm run test:sf-cli`):
 *   node bench/peers/sf.mjs export <emulator-json-file> <records> <soql> <out.csv>   (sf data export bulk)
 *   node bench/peers/sf.mjs import <emulator-json-file> <records> <upsert.csv>       (sf data upsert bulk)
 * Logs in with the emulator's access token first (not measured), then runs the command and measures it:
 * CPU seconds from this process's reaped-children times in /proc/self/stat (the CLI and every process it
 * waited for), peak RSS sampled from /proc/<pid>/status (VmHWM) over the CLI's process tree.
 * The record count is the job's, read from the emulator (the benchmark resets it before each scenario, so
 * the CLI's job is the only one). API calls are the emulator's count just before and just after the command
 * (so the login and the job look-ups afterwards are not counted), printed as apiCallsOwn, which bench/run.ts
 * uses instead of the emulator's total since the reset. Prints one JSON line like bench/scenario.ts.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PART_BYTES, csvParts } from './csv-parts.mjs';

const SF = resolve('tools/sf-cli/node_modules/.bin/sf');
const TICKS = 100; // USER_HZ: /proc times are in 1/100 s on Linux
const [mode, infoFile, recordsArg, ...rest] = process.argv.slice(2);
const info = JSON.parse(readFileSync(infoFile, 'utf8'));
const version = '60.0';
if (!existsSync(SF)) {
  process.stderr.write('sf CLI not installed in tools/sf-cli (npm run test:sf-cli installs it)\n');
  process.exit(3);
}
const home = mkdtempSync(join(tmpdir(), 'forceflow-bench-sf-'));
const env = {
  PATH: process.env.PATH ?? '',
  HOME: home,
  SF_DISABLE_TELEMETRY: 'true',
  SF_DISABLE_AUTOUPDATE: 'true',
  SF_AUTOUPDATE_DISABLE: 'true',
  SF_USE_GENERIC_UNIX_KEYCHAIN: 'true',
  SF_DISABLE_DNS_CHECK: 'true',
  // `sf data upsert bulk` holds a whole file's rows and results in memory (about 14 KB a row): with node's default
  // 4 GB heap it ran out of memory on a 100 MB part (430,000 rows). A user raises the limit; so does the benchmark.
  NODE_OPTIONS: '--max-old-space-size=16384',
};

/** utime + stime + cutime + cstime of this process, in seconds (fields 14-17 of /proc/self/stat). */
function childCpuSeconds() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): cutime is field 16, cstime field 17.
  return (Number(f[13]) + Number(f[14])) / TICKS;
}

/** The pids of a process tree, from /proc/<pid>/task/<tid>/children. */
function tree(pid) {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const tid of readdirSync(`/proc/${out[i]}/task`)) {
        const kids = readFileSync(`/proc/${out[i]}/task/${tid}/children`, 'utf8').trim();
        if (kids) out.push(...kids.split(' ').map(Number));
      }
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

function rssOfTree(pid) {
  let total = 0;
  for (const p of tree(pid)) {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch {
      // ended
    }
  }
  return total;
}

function run(args, extraEnv = {}, measure = false) {
  return new Promise((done, fail) => {
    const child = spawn(SF, [...args, '--json'], { cwd: home, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let peak = 0;
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const sampler = measure ? setInterval(() => (peak = Math.max(peak, rssOfTree(child.pid))), 100) : undefined;
    child.once('error', fail);
    child.once('exit', (code) => {
      if (sampler) clearInterval(sampler);
      if (code !== 0) fail(new Error(`sf ${args.slice(0, 3).join(' ')} exited with ${code}: ${out.slice(0, 2000)} ${err.slice(0, 2000)}`));
      else done({ out, peak });
    });
  });
}

/** The emulator's count of API calls since its last reset (its control route, bench/run.ts resets it). */
async function emulatorCalls() {
  const res = await fetch(`${info.controlUrl}/calls`, { headers: { 'X-Forceflow-Emulator': '1' } });
  if (!res.ok) throw new Error(`emulator GET /calls: HTTP ${res.status}`);
  return Number((await res.json()).total ?? 0);
}

/** Every job of a kind on the emulator (bench/run.ts resets it before each scenario, so they are the CLI's), in detail. */
async function jobs(kind) {
  const res = await fetch(`${info.instanceUrl}/services/data/v${version}/jobs/${kind}`, { headers: { Authorization: `Bearer ${info.accessToken}` } });
  const body = await res.json();
  if (body.records.length === 0) throw new Error(`no ${kind} job on the emulator`);
  return Promise.all(body.records.map(async (job) => (await fetch(`${info.instanceUrl}/services/data/v${version}/jobs/${kind}/${job.id}`, { headers: { Authorization: `Bearer ${info.accessToken}` } })).json()));
}

try {
  await run(['org', 'login', 'access-token', '--instance-url', info.instanceUrl, '--no-prompt', '--alias', 'emu'], { SF_ACCESS_TOKEN: info.accessToken });
  const calls0 = await emulatorCalls();
  const cpu0 = childCpuSeconds();
  const started = process.hrtime.bigint();
  let measured;
  let bytes;
  let records;
  let apiCallsOwn;
  /** The import's clock, started after the file is split. */
  let importClock;
  if (mode === 'export') {
    const [soql, outFile] = rest;
    measured = await run(['data', 'export', 'bulk', '-o', 'emu', '-q', soql, '--output-file', outFile, '--wait', '240'], {}, true);
    apiCallsOwn = (await emulatorCalls()) - calls0;
    bytes = statSync(outFile).size;
    records = (await jobs('query')).at(-1).numberRecordsProcessed;
  } else if (mode === 'import') {
    const [csvFile] = rest;
    // `sf data upsert bulk` sends its file as one job, which Bulk API 2.0 refuses over 150 MB: a user splits a larger
    // file first, at record ends, and runs the command on each part in turn. The split is done before the clock starts.
    const files = [];
    if (statSync(csvFile).size <= PART_BYTES) files.push(csvFile);
    else {
      for await (const part of csvParts(csvFile, PART_BYTES)) {
        const file = join(home, `part-${files.length}.csv`);
        writeFileSync(file, part);
        files.push(file);
      }
    }
    if (files.length > 1) process.stderr.write(`sf-import: the file split into ${files.length} parts of at most ${PART_BYTES} bytes, one command each\n`);
    const calls1 = await emulatorCalls();
    const cpu1 = childCpuSeconds();
    const started1 = process.hrtime.bigint();
    measured = { peak: 0 };
    for (const file of files) {
      const one = await run(['data', 'upsert', 'bulk', '-o', 'emu', '--file', file, '--sobject', 'Invoice__c', '--external-id', 'External_Id__c', '--wait', '240'], {}, true);
      measured.peak = Math.max(measured.peak, one.peak);
    }
    importClock = { cpu: cpu1, started: started1 };
    apiCallsOwn = (await emulatorCalls()) - calls1;
    bytes = statSync(csvFile).size;
    const done = await jobs('ingest');
    const failed = done.reduce((sum, job) => sum + job.numberRecordsFailed, 0);
    if (failed !== 0) throw new Error(`sf import: ${failed} rows failed`);
    records = done.reduce((sum, job) => sum + job.numberRecordsProcessed, 0);
  } else {
    throw new Error(`unknown mode ${mode}: export or import`);
  }
  const seconds = Number(process.hrtime.bigint() - (importClock?.started ?? started)) / 1e9;
  const cpuSeconds = childCpuSeconds() - (importClock?.cpu ?? cpu0);
  if (records !== Number(recordsArg)) throw new Error(`sf ${mode}: ${records} records moved, expected ${recordsArg}`);
  process.stdout.write(`${JSON.stringify({ scenario: `sf-${mode}`, records, seconds, cpuSeconds, bytes, apiCalls: 0, apiCallsOwn, peakRssMB: Math.round(measured.peak / 1e6) })}\n`);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  rmSync(home, { recursive: true, force: true });
}
