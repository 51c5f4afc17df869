/**
 * Bulk API 2.0 result-serving throughput of the emulator for a generated object (run with
 * `node --import tsx bench/emulator-bulk.ts [records] [object]`, or `npm run bench:emulator`).
 * The client reads every page over loopback HTTP and discards it, counting bytes and rows.
 * Target: at least 100 MB/s of result CSV, so the emulator is never what limits a benchmark.
 */
import { cpus, loadavg } from 'node:os';
import { execFile } from 'node:child_process';
import { startEmulator } from '../src/emulator/index.ts';

const records = Number(process.argv[2] ?? 1_000_000);
const object = process.argv[3] ?? 'Account';

/**
 * The client runs in a child process, so that reading the responses takes neither the emulator's
 * event loop nor its CPU time: what is measured is what the emulator serves, and the emulator's own CPU.
 */
const CLIENT = `
const http = require('node:http');
const workerData = { url: process.argv[1], token: process.argv[2] };
const parentPort = { postMessage: (m) => process.stdout.write(JSON.stringify(m) + '\\n') };
const agent = new http.Agent({ keepAlive: true });
function get(url) {
  return new Promise((resolve, reject) => {
    http.get(url, { agent, headers: { Authorization: 'Bearer ' + workerData.token, Accept: 'text/csv' } }, (res) => {
      if (res.statusCode !== 200) { res.resume(); reject(new Error('HTTP ' + res.statusCode)); return; }
      let bytes = 0;
      res.on('data', (c) => { bytes += c.length; });
      res.on('end', () => resolve({ bytes, rows: Number(res.headers['sforce-numberofrecords']), locator: String(res.headers['sforce-locator']) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}
(async () => {
  let locator = '', bytes = 0, rows = 0, pages = 0;
  const t0 = process.hrtime.bigint();
  while (locator !== 'null') {
    const p = await get(workerData.url + (locator ? '?locator=' + locator : ''));
    bytes += p.bytes; rows += p.rows; locator = p.locator; pages++;
  }
  parentPort.postMessage({ bytes, rows, pages, seconds: Number(process.hrtime.bigint() - t0) / 1e9 });
})().catch((e) => parentPort.postMessage({ error: String(e) }));
`;

interface ClientResult {
  bytes: number;
  rows: number;
  pages: number;
  seconds: number;
  error?: string;
}

function readAll(url: string, token: string): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', CLIENT, url, token], { maxBuffer: 1 << 20 }, (error, stdout) => {
      if (error) {
        reject(error);
        return;
      }
      const m = JSON.parse(stdout.trim()) as ClientResult;
      if (m.error) reject(new Error(m.error));
      else resolve(m);
    });
  });
}

async function main(): Promise<void> {
  const emu = await startEmulator({ generate: { [object]: records } });
  try {
    const base = `${emu.instanceUrl}/services/data/v60.0`;
    const headers = { Authorization: `Bearer ${emu.accessToken}`, 'Content-Type': 'application/json' };
    const table = emu.org.store.table(object);
    if (!table) throw new Error(`no object ${object}`);
    const fields = table.schema.fields.filter((f) => f.type !== 'address' && f.type !== 'location').map((f) => f.name);
    const soql = `SELECT ${fields.join(', ')} FROM ${object}`;
    const created = (await (await fetch(`${base}/jobs/query`, { method: 'POST', headers, body: JSON.stringify({ operation: 'query', query: soql }) })).json()) as { id: string };
    const t0 = process.hrtime.bigint();
    const info = (await (await fetch(`${base}/jobs/query/${created.id}`, { headers })).json()) as { state: string; numberRecordsProcessed: number };
    if (info.state !== 'JobComplete') throw new Error(`job state ${info.state}`);
    const t1 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    const r = await readAll(`${base}/jobs/query/${created.id}/results`, emu.accessToken);
    const bytes = r.bytes;
    const rows = r.rows;
    const pages = r.pages;
    const secs = r.seconds;
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const result = {
      object,
      columns: fields.length,
      records: info.numberRecordsProcessed,
      rowsServed: rows,
      pages,
      mb: +(bytes / 1e6).toFixed(1),
      jobCompleteMs: +(Number(t1 - t0) / 1e6).toFixed(1),
      seconds: +secs.toFixed(2),
      mbPerSecond: +(bytes / 1e6 / secs).toFixed(1),
      recordsPerSecond: Math.round(rows / secs),
      peakRssMb: Math.round(process.memoryUsage().rss / 1e6),
      // CPU seconds the emulator's process spent serving, and MB per CPU second: what the emulator serves
      // when it has a core to itself, much less sensitive than wall time to other load on a shared machine.
      cpuSeconds: +cpuSeconds.toFixed(2),
      mbPerCpuSecond: +(bytes / 1e6 / cpuSeconds).toFixed(1),
      loadAverage1m: +loadavg()[0]!.toFixed(2),
      cores: cpus().length,
    };
    console.log(JSON.stringify(result));
  } finally {
    await emu.close();
  }
}

await main();
