/**
 * `npm run bench [-- --records N] [-- --only a,b] [-- --rounds R] [-- --tsx]`: forceflow's Bulk exports and imports, side by
 * side with its peers, on the same data.
 *
 * The emulator (with a generated Invoice__c of N records, default 1,200,000) and a local S3 run in their own
 * process, as they would be remote; each scenario runs in its own process so that its peak RSS is its own.
 * forceflow's scenarios (bench/scenario.ts):
 * - floor: the raw floor, the same Bulk result pages copied to disk with no parsing or processing;
 * - source: the Salesforce source alone (Bulk 2.0 forced, canonical records, discarded);
 * - localfile: a Map_all flow Salesforce → LocalFile JSON lines;  localfile-csv: → LocalFile CSV;
 * - s3: the same flow → S3 (s3rver) JSON lines;  s3-parquet: → S3 typed Parquet. The local S3 is on HTTPS
 *   (`--s3-https`, a certificate made for the run, trusted through NODE_EXTRA_CA_CERTS), as S3 is: uploads then send
 *   UNSIGNED-PAYLOAD bodies, as they do to AWS;
 * - s3-http: the s3 scenario on a second local S3 over plain http (its own `forceflow emulator --s3` process, no
 *   records), where SigV4 signs every part's SHA-256: what the TLS costs and the hashing saves;
 * - import: N upserts by External_Id__c from a CSV file (bench/data.ts: half update generated records, half
 *   create), a flow LocalFile → Salesforce over Bulk API 2.0.
 * Peers (bench/peers/), on the same SOQL (every non-compound field) and the same CSV file:
 * - jsforce-export, jsforce-import: a plain jsforce script (query job + result pages by locator → one CSV file;
 *   bulk2.loadAndWaitForResults);
 * - sf-export, sf-import: `sf data export bulk` and `sf data upsert bulk`, only when tools/sf-cli is installed
 *   (`npm run test:sf-cli` installs it); skipped with one line otherwise.
 * The service (issue 14), each its own script with its own emulator and `forceflow serve` process, run first:
 * - service-api: bench/service-api.ts, p50/p90/p99 latency of ListFlows and DescribeFlow under 100 concurrent
 *   AppflowClients, calls/s and the service's CPU per call;
 * - service-scheduler: bench/service-scheduler.ts, the scheduler's per-run overhead, from a scheduled fire to
 *   the first Salesforce call of its run;
 * - service-queue: bench/service-queue.ts, the distributed mode's queue (issue 16): start → run started p50/p99 and
 *   short runs per minute with 1 and 3 `forceflow worker` processes on PostgreSQL, against SQLite in one process.
 * - bulk-parallel: bench/bulk-parallel.ts (issue 17), a Bulk read as one job and as 4 jobs over Id ranges, with the
 *   emulator serving each job's results at 1 MB/s (bulkQueryBytesPerSecond): the speed-up, about 15 s.
 * The emulator is reset (`/__emulator/reset`) before each scenario, so every one starts from the same org.
 * Reports, per scenario: records/s, MB/s, the scenario process's CPU seconds, the emulator process's CPU seconds
 * during the scenario (read from /proc/<pid>/stat: the emulator's share, not the contender's), peak RSS and API
 * calls (counted by the emulator); then the ratios forceflow ÷ peer. With --rounds R, scenarios run interleaved
 * R times and each figure is the median.
 * forceflow's scenarios run compiled, as the `forceflow` command does: `npm run build` first, then bench/scenario.ts
 * transpiled to .tmp/bench/scenario.mjs importing dist/ (no tsx, so start-up is what a user sees; the floor runs
 * the same way). `--tsx` runs src/ through tsx instead (start-up about 0.4 CPU s more for each scenario).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { exportSoql, writeImportCsv } from './data.ts';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const records = Number(opt('records') ?? process.env['BENCH_RECORDS'] ?? 1_200_000);
const rounds = Math.max(1, Number(opt('rounds') ?? 1));
const ALL = ['floor', 'source', 'localfile', 'localfile-csv', 's3', 's3-http', 's3-parquet', 'import', 'jsforce-export', 'jsforce-import', 'sf-export', 'sf-import', 'service-api', 'service-scheduler', 'service-queue', 'bulk-parallel'];
const scenarios = (opt('only') ?? ALL.join(',')).split(',').filter((s) => s !== '');
const unknown = scenarios.filter((s) => !ALL.includes(s));
if (unknown.length > 0) {
  console.error(`unknown scenario(s): ${unknown.join(', ')}; known: ${ALL.join(', ')}`);
  process.exit(2);
}

// The service's benchmarks (issue 14) are scripts of their own, with their own emulator: run first, output as is.
// So is the parallel Bulk read's (issue 17: one job against several over Id ranges, under the emulator's per-job rate).
const SERVICE_SCRIPTS: Record<string, string> = { 'service-api': 'bench/service-api.ts', 'service-scheduler': 'bench/service-scheduler.ts', 'service-queue': 'bench/service-queue.ts', 'bulk-parallel': 'bench/bulk-parallel.ts' };
for (const scenario of scenarios.filter((s) => s in SERVICE_SCRIPTS)) {
  console.error(`${scenario}: running ${SERVICE_SCRIPTS[scenario]}`);
  const child = spawn(process.execPath, ['--import', 'tsx', SERVICE_SCRIPTS[scenario] as string], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  console.log('');
  if (code !== 0) {
    console.error(`scenario ${scenario} failed (exit ${code})`);
    process.exitCode = 1;
  }
}
scenarios.splice(0, scenarios.length, ...scenarios.filter((s) => !(s in SERVICE_SCRIPTS)));
if (scenarios.length === 0) process.exit();

const useTsx = args.includes('--tsx');
const SF = resolve('tools/sf-cli/node_modules/.bin/sf');
const sfInstalled = existsSync(SF);

/**
 * bench/scenario.ts as JavaScript importing the compiled dist/ (built here, so it matches src/): the scenarios then
 * start the way the `forceflow` command does (bin/forceflow.js runs dist/), without tsx's loader.
 */
async function compiledScenario(): Promise<string> {
  execFileSync(process.execPath, [resolve('node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  const ts = (await import('typescript')).default;
  const { outputText } = ts.transpileModule(readFileSync('bench/scenario.ts', 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  const js = outputText.replace(/(['"])\.\.\/src\/([^'"]+)\.ts\1/g, '$1../../dist/$2.js$1');
  if (js.includes('../src/')) throw new Error('bench/scenario.ts: an import of src/ was not rewritten to dist/');
  mkdirSync('.tmp/bench', { recursive: true });
  const file = resolve('.tmp/bench/scenario.mjs');
  writeFileSync(file, js);
  return file;
}
const scenarioScript = useTsx ? undefined : await compiledScenario();

// The emulator keeps every record in memory (5,000,000 generated Invoice__c and as many upserted reach about 4 GB,
// node's default heap limit): its heap may grow to 16 GB. It is the org, not a contender; its RSS is not reported.
const emulator = spawn(process.execPath, ['--max-old-space-size=16384', 'bin/forceflow.js', 'emulator', '--generate', `Invoice__c=${records}`, '--api-limit', '100000000'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
/** The one JSON line a `forceflow emulator` process prints once it listens. */
function firstLine(child: ReturnType<typeof spawn>): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
  });
}
const line = await firstLine(emulator);
const work = mkdtempSync(join(tmpdir(), 'forceflow-bench-'));
const infoFile = join(work, 'emulator.json');
writeFileSync(infoFile, line);
const info = JSON.parse(line) as { instanceUrl: string; accessToken: string; controlUrl: string; env: Record<string, string> };
// The local S3s run in processes of their own (an emulator with no records), not in the org's: a full collection
// there marks the million generated records, and the S3 then took twice the file export's time to receive what
// the file export writes (docs/benchmarks.md). s3 and s3-parquet write to one on HTTPS, as S3 is (the scenarios
// trust its certificate through NODE_EXTRA_CA_CERTS, as a user trusts a private CA: docs/destinations.md);
// s3-http to one on plain http. Each scenario reads the org of the main emulator; its info file has its S3's endpoint.
async function localS3(flag: '--s3-https' | '--s3', file: string): Promise<{ process: ReturnType<typeof spawn>; file: string; caFile?: string }> {
  const child = spawn(process.execPath, ['bin/forceflow.js', 'emulator', flag], { stdio: ['ignore', 'pipe', 'inherit'] });
  const other = JSON.parse(await firstLine(child)) as { s3: { endpoint: string; bucket: string }; env: Record<string, string> };
  const main = JSON.parse(line) as Record<string, unknown>;
  const ca = other.env['NODE_EXTRA_CA_CERTS'];
  // The S3 variables (endpoint, its credentials, its certificate) are that process's; the rest the org's.
  const s3Env = Object.fromEntries(['AWS_ENDPOINT_URL_S3', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION', 'NODE_EXTRA_CA_CERTS'].flatMap((k) => (other.env[k] === undefined ? [] : [[k, other.env[k]]])));
  writeFileSync(file, JSON.stringify({ ...main, s3: other.s3, env: { ...info.env, ...s3Env } }));
  return { process: child, file, ...(ca === undefined ? {} : { caFile: ca }) };
}
const httpsS3 = scenarios.some((s) => s === 's3' || s === 's3-parquet') ? await localS3('--s3-https', join(work, 'emulator-s3-https.json')) : undefined;
const httpS3 = scenarios.includes('s3-http') ? await localS3('--s3', join(work, 'emulator-s3-http.json')) : undefined;
const s3Of = (scenario: string): typeof httpS3 => (scenario === 's3-http' ? httpS3 : scenario === 's3' || scenario === 's3-parquet' ? httpsS3 : undefined);
const caFile = httpsS3?.caFile;

/** CPU seconds (user + system) of a process so far: fields 14 and 15 of /proc/<pid>/stat, in 1/100 s. */
/** CPU seconds of a process, or of its main thread alone (`mainThread`), from /proc. */
function processCpuSeconds(pid: number, mainThread = false): number {
  const stat = readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function control(method: 'GET' | 'POST', path: string): Promise<Record<string, unknown>> {
  // Control routes want the emulator's header, and a JSON body on POST (src/emulator/guard.ts).
  const res = await fetch(`${info.controlUrl}${path}`, {
    method,
    headers: { 'X-Forceflow-Emulator': '1', ...(method === 'POST' ? { 'Content-Type': 'application/json' } : {}) },
    ...(method === 'POST' ? { body: '{}' } : {}),
  });
  if (!res.ok) throw new Error(`emulator ${method} ${path}: HTTP ${res.status}`);
  return (await res.json()) as Record<string, unknown>;
}

interface Result {
  scenario: string;
  records: number;
  seconds: number;
  /** CPU seconds (user + system) of the scenario's own process: steadier than wall time on a shared machine. */
  cpuSeconds: number;
  /** CPU seconds the emulator process (Salesforce emulator and local S3) spent during the scenario. */
  emulatorCpuSeconds: number;
  bytes: number;
  /** API calls the emulator counted during the scenario. */
  apiCalls: number;
  /** A peer's own count when the emulator's total since the reset includes calls that are not its work (sf's login). */
  apiCallsOwn?: number;
  peakRssMB: number;
}

const needsCsv = scenarios.some((s) => s === 'import' || s === 'jsforce-import' || s === 'sf-import');
const importCsv = join(work, 'invoices-upsert.csv');
if (needsCsv) {
  const bytes = await writeImportCsv(importCsv, records);
  console.error(`import data: ${records.toLocaleString('en-US')} rows, ${(bytes / 1e6).toFixed(1)} MB (${importCsv})`);
}
const soql = scenarios.some((s) => s.endsWith('-export')) ? await exportSoql(info.instanceUrl, info.accessToken) : '';

/** Extra node flags for forceflow's scenario processes (profiling: `BENCH_NODE_ARGS='--trace-gc'`), split on spaces. */
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');

/** The command of a scenario, or a reason to skip it. */
function command(scenario: string): string[] | { skip: string } {
  const out = join(work, `${scenario}-out.csv`);
  switch (scenario) {
    case 'jsforce-export':
      return ['bench/peers/jsforce.mjs', 'export', infoFile, String(records), soql, out];
    case 'jsforce-import':
      return ['bench/peers/jsforce.mjs', 'import', infoFile, String(records), importCsv];
    case 'sf-export':
    case 'sf-import':
      if (!sfInstalled) return { skip: `${scenario}: skipped, the Salesforce CLI is not installed in tools/sf-cli (npm run test:sf-cli installs it)` };
      return scenario === 'sf-export'
        ? ['bench/peers/sf.mjs', 'export', infoFile, String(records), soql, out]
        : ['bench/peers/sf.mjs', 'import', infoFile, String(records), importCsv];
    default: {
      const file = s3Of(scenario)?.file ?? infoFile;
      return scenarioScript === undefined
        ? [...nodeArgs, '--import', 'tsx', 'bench/scenario.ts', scenario, file, String(records), importCsv]
        : [...nodeArgs, scenarioScript, scenario, file, String(records), importCsv];
    }
  }
}

const runs = new Map<string, Result[]>();
const failed = new Set<string>();
const skipped = new Set<string>();
try {
  for (let round = 1; round <= rounds; round++) {
    for (const scenario of scenarios) {
      if (failed.has(scenario) || skipped.has(scenario)) continue;
      const cmd = command(scenario);
      if (!Array.isArray(cmd)) {
        console.error(cmd.skip);
        skipped.add(scenario);
        continue;
      }
      await control('POST', '/reset');
      // The org's process, plus the http S3's for s3-http (its org is idle).
      const s3 = s3Of(scenario);
      const servers = s3 === undefined ? [emulator] : [emulator, s3.process];
      const serversCpu = (): number => servers.reduce((sum, p) => sum + processCpuSeconds(p.pid as number), 0);
      const emu0 = serversCpu();
      const emuMain0 = processCpuSeconds(emulator.pid as number, true);
      // Every contender gets the same environment, the local S3's CA included.
      const child = spawn(process.execPath, cmd, {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...(caFile === undefined ? {} : { NODE_EXTRA_CA_CERTS: caFile }) },
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      const emulatorCpuSeconds = serversCpu() - emu0;
      const emulatorMainCpuSeconds = processCpuSeconds(emulator.pid as number, true) - emuMain0;
      rmSync(join(work, `${scenario}-out.csv`), { force: true });
      if (code !== 0) {
        console.error(`scenario ${scenario} failed (exit ${code})`);
        failed.add(scenario);
        continue;
      }
      const calls = await control('GET', '/calls');
      const lines = out.trim().split('\n');
      // The result is the scenario's JSON line; node's own lines (BENCH_NODE_ARGS='--trace-gc') go to stderr. A
      // collection may still be traced after the result is printed, so the result is not always the last line.
      let at = lines.length - 1;
      while (at > 0 && !(lines[at] ?? '').startsWith('{')) at -= 1;
      const others = lines.filter((_, i) => i !== at);
      if (others.length > 0) process.stderr.write(`${others.join('\n')}\n`);
      const printed = JSON.parse(lines[at] ?? '{}') as Result;
      const apiCalls = printed.apiCallsOwn ?? Number(calls['total'] ?? 0);
      const r = { ...printed, scenario, emulatorCpuSeconds, apiCalls };
      runs.set(scenario, [...(runs.get(scenario) ?? []), r]);
      console.error(`${scenario}${rounds > 1 ? ` (round ${round})` : ''}: done in ${r.seconds.toFixed(1)} s, CPU ${r.cpuSeconds.toFixed(2)} s, RSS ${r.peakRssMB} MB, emulator CPU ${emulatorCpuSeconds.toFixed(2)} s (its main thread ${emulatorMainCpuSeconds.toFixed(2)})`);
    }
  }
} finally {
  emulator.kill('SIGTERM');
  httpS3?.process.kill('SIGTERM');
  httpsS3?.process.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}
const results = new Map<string, Result>();
for (const [scenario, rs] of runs) {
  const pick = (k: keyof Result): number => median(rs.map((r) => r[k] as number));
  results.set(scenario, {
    scenario,
    records: pick('records'),
    seconds: pick('seconds'),
    cpuSeconds: pick('cpuSeconds'),
    emulatorCpuSeconds: pick('emulatorCpuSeconds'),
    bytes: pick('bytes'),
    apiCalls: pick('apiCalls'),
    peakRssMB: pick('peakRssMB'),
  });
}

console.log(
  `\nBulk benchmark: ${records.toLocaleString('en-US')} generated Invoice__c records, ${rounds} round(s)${rounds > 1 ? ' interleaved, medians' : ''}, forceflow ${useTsx ? 'src/ through tsx' : 'compiled (dist/)'} (${cpus().length} cores, load ${loadavg()[0]?.toFixed(1)}, ${new Date().toISOString().slice(0, 10)})\n`,
);
console.log('| scenario | records | seconds | records/s | MB/s | CPU s | emulator CPU s | peak RSS MB | API calls |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of results.values()) {
  console.log(
    `| ${r.scenario} | ${r.records.toLocaleString('en-US')} | ${r.seconds.toFixed(1)} | ${Math.round(r.records / r.seconds).toLocaleString('en-US')} | ${(r.bytes / 1e6 / r.seconds).toFixed(1)} | ${r.cpuSeconds.toFixed(1)} | ${r.emulatorCpuSeconds.toFixed(1)} | ${r.peakRssMB} | ${r.apiCalls} |`,
  );
}

/** forceflow ÷ peer, with the issue's goal for the pair. */
const PAIRS: [string, string, string][] = [
  ['import', 'sf-import', 'wall ≤ 0.5'],
  ['import', 'jsforce-import', 'wall ≤ 0.8, CPU ≤ 2'],
  ['localfile-csv', 'floor', 'wall ≤ 1.1, CPU ≤ 2'],
  ['localfile', 'floor', 'wall ≤ 1.1, CPU ≤ 2'],
  ['s3', 'floor', 'CPU ≤ 2.5'],
  ['s3-http', 'floor', ''],
  ['localfile-csv', 'jsforce-export', ''],
  ['localfile-csv', 'sf-export', ''],
  ['localfile', 'sf-export', ''],
];
const pairs = PAIRS.filter(([a, b]) => results.has(a) && results.has(b));
if (pairs.length > 0) {
  console.log('\n| forceflow ÷ peer | wall | CPU | peak RSS | goal |');
  console.log('|---|---:|---:|---:|---|');
  for (const [a, b, goal] of pairs) {
    const x = results.get(a) as Result;
    const y = results.get(b) as Result;
    console.log(`| ${a} ÷ ${b} | ${(x.seconds / y.seconds).toFixed(2)} | ${(x.cpuSeconds / y.cpuSeconds).toFixed(2)} | ${(x.peakRssMB / y.peakRssMB).toFixed(2)} | ${goal} |`);
  }
}

/** Issue 13's goals: each a ratio (or a peak) measured in this run, and whether it is met. */
const GOALS: { goal: string; a: string; b?: string; measure: (x: Result, y?: Result) => number; limit: number; unit: string }[] = [
  { goal: 'import wall ≤ 0.5× sf-import', a: 'import', b: 'sf-import', measure: (x, y) => x.seconds / (y as Result).seconds, limit: 0.5, unit: '×' },
  { goal: 'import wall ≤ 0.8× jsforce-import', a: 'import', b: 'jsforce-import', measure: (x, y) => x.seconds / (y as Result).seconds, limit: 0.8, unit: '×' },
  { goal: 'import CPU ≤ 2× jsforce-import', a: 'import', b: 'jsforce-import', measure: (x, y) => x.cpuSeconds / (y as Result).cpuSeconds, limit: 2, unit: '×' },
  { goal: 'import peak RSS ≤ 300 MB', a: 'import', measure: (x) => x.peakRssMB, limit: 300, unit: ' MB' },
  { goal: 'CSV file export wall ≤ 1.1× floor', a: 'localfile-csv', b: 'floor', measure: (x, y) => x.seconds / (y as Result).seconds, limit: 1.1, unit: '×' },
  { goal: 'CSV file export CPU ≤ 2× floor', a: 'localfile-csv', b: 'floor', measure: (x, y) => x.cpuSeconds / (y as Result).cpuSeconds, limit: 2, unit: '×' },
  { goal: 'JSON lines file export wall ≤ 1.1× floor', a: 'localfile', b: 'floor', measure: (x, y) => x.seconds / (y as Result).seconds, limit: 1.1, unit: '×' },
  { goal: 'JSON lines file export CPU ≤ 2× floor', a: 'localfile', b: 'floor', measure: (x, y) => x.cpuSeconds / (y as Result).cpuSeconds, limit: 2, unit: '×' },
  { goal: 'S3 export CPU ≤ 2.5× floor', a: 's3', b: 'floor', measure: (x, y) => x.cpuSeconds / (y as Result).cpuSeconds, limit: 2.5, unit: '×' },
  { goal: 'Parquet peak RSS ≤ 300 MB', a: 's3-parquet', measure: (x) => x.peakRssMB, limit: 300, unit: ' MB' },
];
const goals = GOALS.filter((g) => results.has(g.a) && (g.b === undefined || results.has(g.b)));
if (goals.length > 0) {
  console.log('\n| goal (issue 13) | measured | status |');
  console.log('|---|---:|---|');
  for (const g of goals) {
    const value = g.measure(results.get(g.a) as Result, g.b === undefined ? undefined : results.get(g.b));
    const shown = g.unit === '×' ? value.toFixed(2) : String(Math.round(value));
    console.log(`| ${g.goal} | ${shown}${g.unit} | ${value <= g.limit ? 'met' : 'missed'} |`);
  }
}
if (skipped.size > 0) console.log(`\nskipped: ${[...skipped].join(', ')}`);
if (failed.size > 0) {
  console.error(`\nfailed scenarios: ${[...failed].join(', ')}`);
  process.exitCode = 1;
}
