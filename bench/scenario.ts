/**
 * One benchmark scenario in its own process (so peak RSS is the scenario's own). Usage:
 *   node --import tsx bench/scenario.ts <scenario> <emulator-json-file> <records> [import-csv]
 * Prints one JSON line: { scenario, records, seconds, cpuSeconds (this process: user + system), bytes, apiCalls, peakRssMB }.
 * `import` upserts the rows of import-csv (bench/data.ts) by External_Id__c: a flow LocalFile CSV → Salesforce.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pino } from 'pino';
import { connectSalesforce } from '../src/connectors/salesforce/connect.ts';
import { createS3Client } from '../src/connectors/s3/client.ts';
import { runFlow } from '../src/flows/runner.ts';

const [scenario = 'source', infoFile = '', recordsArg = '0', importCsv = ''] = process.argv.slice(2);
const info = JSON.parse(readFileSync(infoFile, 'utf8')) as {
  instanceUrl: string; accessToken: string; connectorProfile: { connectorProfileName: string }; env: Record<string, string>; s3?: { bucket: string };
};
const object = 'Invoice__c';
// BENCH_LOG=info|debug: forceflow's log lines (with their epoch-ms times) on stderr, to see where the wall time goes.
const log = pino({ level: process.env.BENCH_LOG ?? 'warn' }, pino.destination(2));
const ctx = { log, signal: new AbortController().signal, now: () => new Date() };
let peak = 0;
// BENCH_MEMORY=1: sample the whole process.memoryUsage() (heap, external, ArrayBuffers) and print it at the RSS peak.
const memoryDetail = process.env.BENCH_MEMORY === '1';
let atPeak: NodeJS.MemoryUsage | undefined;
let ticks = 0;
const sampler = setInterval(() => {
  // rss() alone: process.memoryUsage() also walks the heap's spaces (~1 ms a call), a cost the sampler would add.
  if (memoryDetail) {
    const m = process.memoryUsage();
    if (m.rss > peak) atPeak = m;
    if (++ticks % 10 === 0) process.stderr.write(`mem ${ticks / 10}s rss ${Math.round(m.rss / 1e6)} heapUsed ${Math.round(m.heapUsed / 1e6)} heapTotal ${Math.round(m.heapTotal / 1e6)} arrayBuffers ${Math.round(m.arrayBuffers / 1e6)}\n`);
  }
  peak = Math.max(peak, process.memoryUsage.rss());
}, 100);
const started = process.hrtime.bigint();
let records = 0;
let bytes = 0;
let apiCalls: number;
const work = mkdtempSync(join(tmpdir(), 'forceflow-bench-'));

function flow(destination: unknown): unknown {
  return {
    flowName: `bench-${scenario}`,
    triggerConfig: { triggerType: 'OnDemand' },
    sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: info.connectorProfile.connectorProfileName, sourceConnectorProperties: { Salesforce: { object, dataTransferApi: 'BULKV2' } } },
    destinationFlowConfigList: [destination],
    tasks: [{ taskType: 'Map_all', sourceFields: [], connectorOperator: { Salesforce: 'NO_OP' }, taskProperties: {} }],
  };
}

/** The import: the CSV file upserted into Invoice__c by External_Id__c over Bulk API 2.0. */
function importFlow(): unknown {
  return {
    flowName: 'bench-import',
    triggerConfig: { triggerType: 'OnDemand' },
    sourceFlowConfig: { connectorType: 'LocalFile', sourceConnectorProperties: { LocalFile: { path: importCsv, fileType: 'CSV' } } },
    destinationFlowConfigList: [
      {
        connectorType: 'Salesforce',
        connectorProfileName: info.connectorProfile.connectorProfileName,
        destinationConnectorProperties: { Salesforce: { object, writeOperationType: 'UPSERT', idFieldNames: ['External_Id__c'], dataTransferApi: 'BULKV2' } },
      },
    ],
    tasks: [{ taskType: 'Map_all', sourceFields: [], connectorOperator: { LocalFile: 'NO_OP' }, taskProperties: {} }],
  };
}

try {
  if (scenario === 'floor') {
    // The raw floor: the same Bulk result pages copied to disk, no parsing, no processing.
    const { client } = connectSalesforce(info.connectorProfile, { log });
    const job = await client.json<{ id: string }>({ method: 'POST', path: '/jobs/query', json: { operation: 'query', query: `SELECT ${await allFields(client)} FROM ${object}` }, idempotent: true, call: 'create' });
    for (;;) {
      const s = await client.json<{ state: string }>({ method: 'GET', path: `/jobs/query/${job.id}`, call: 'poll' });
      if (s.state === 'JobComplete') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    let locator: string | undefined;
    let page = 0;
    for (;;) {
      // The transport forceflow reads result pages with (SalesforceClient.download: the socket's chunks, no copy).
      const res = await client.download({ method: 'GET', path: `/jobs/query/${job.id}/results`, query: { locator }, headers: { Accept: 'text/csv' }, call: 'results' });
      records += Number(res.headers.get('sforce-numberofrecords') ?? 0);
      const next = res.headers.get('sforce-locator');
      const out = createWriteStream(join(work, `page-${page++}.csv`));
      await pipeline(res.body, async function* (src) {
        for await (const c of src) {
          bytes += (c as Buffer).length;
          yield c;
        }
      }, out);
      if (!next || next === 'null') break;
      locator = next;
    }
    apiCalls = client.apiCalls;
  } else if (scenario === 'source') {
    const { source, client } = connectSalesforce(info.connectorProfile, { log });
    const stream = await source.open({ entity: object, apiPreference: 'BULKV2' }, ctx);
    for await (const b of stream.batches) records += b.rows.length;
    bytes = client.bytesReceived;
    apiCalls = client.apiCalls;
  } else if (scenario === 'import') {
    if (!importCsv) throw new Error('scenario import needs the CSV file to upsert (4th argument)');
    const record = await runFlow({ flow: importFlow(), profiles: { [info.connectorProfile.connectorProfileName]: info.connectorProfile }, log });
    if (record.executionStatus !== 'Successful') throw new Error(`${record.error?.code}: ${record.error?.message}`);
    if (record.executionResult.recordsWritten !== record.executionResult.recordsProcessed) {
      throw new Error(`import: ${record.executionResult.recordsProcessed} rows read, ${record.executionResult.recordsWritten} written`);
    }
    records = record.executionResult.recordsWritten;
    bytes = record.executionResult.bytesProcessed;
    apiCalls = record.apiCalls.destination;
  } else {
    const dest =
      scenario === 'localfile' || scenario === 'localfile-csv'
        ? { connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: join(work, 'out'), outputFormatConfig: { fileType: scenario === 'localfile' ? 'JSON' : 'CSV' } } } }
        : { connectorType: 'S3', destinationConnectorProperties: { S3: { bucketName: info.s3?.bucket ?? 'forceflow', bucketPrefix: 'bench', s3OutputFormatConfig: { fileType: scenario === 's3-parquet' ? 'PARQUET' : 'JSON', preserveSourceDataTyping: true } } } };
    const record = await runFlow({ flow: flow(dest), profiles: { [info.connectorProfile.connectorProfileName]: info.connectorProfile }, log, s3Client: createS3Client({ env: info.env }) });
    if (record.executionStatus !== 'Successful') throw new Error(`${record.error?.code}: ${record.error?.message}`);
    records = record.executionResult.recordsProcessed;
    bytes = record.executionResult.bytesProcessed;
    apiCalls = record.apiCalls.source;
  }
} finally {
  clearInterval(sampler);
  rmSync(work, { recursive: true, force: true });
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
peak = Math.max(peak, process.memoryUsage.rss());
const cpu = process.cpuUsage();
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
// A scenario that did not move every record measured something else: fail it rather than report it.
if (records !== Number(recordsArg)) {
  process.stderr.write(`scenario ${scenario}: ${records} records moved, expected ${recordsArg}\n`);
  process.exit(1);
}
// BENCH_THREADS=1: this process's CPU seconds, the main thread's and the others' (V8's GC and compiler helpers, libuv's pool), from /proc.
if (process.env.BENCH_THREADS === '1') {
  const byName = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const name = tid === String(process.pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const seconds = (Number(fields[11]) + Number(fields[12])) / 100;
    byName.set(name, (byName.get(name) ?? 0) + seconds);
  }
  process.stderr.write(`CPU s by thread: ${[...byName].sort((a, b) => b[1] - a[1]).map(([n, s]) => `${n} ${s.toFixed(2)}`).join(', ')}\n`);
}
if (atPeak !== undefined) {
  const mb = (n: number): number => Math.round(n / 1e6);
  process.stderr.write(`memory at the RSS peak (MB): rss ${mb(atPeak.rss)}, heapTotal ${mb(atPeak.heapTotal)}, heapUsed ${mb(atPeak.heapUsed)}, external ${mb(atPeak.external)}, arrayBuffers ${mb(atPeak.arrayBuffers)}\n`);
}
process.stdout.write(`${JSON.stringify({ scenario, records, seconds, cpuSeconds, bytes, apiCalls, peakRssMB: Math.round(peak / 1e6) })}\n`);

async function allFields(client: ReturnType<typeof connectSalesforce>['client']): Promise<string> {
  const d = await client.json<{ fields: Array<{ name: string; type: string }> }>({ method: 'GET', path: `/sobjects/${object}/describe`, call: 'describe' });
  return d.fields.filter((f) => f.type !== 'location' && f.type !== 'address').map((f) => f.name).join(', ');
}
