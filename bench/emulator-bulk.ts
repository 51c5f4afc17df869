/**
 * Bulk API 2.0 result-serving throughput of the emulator for a generated object (run with
 * `node --import tsx bench/emulator-bulk.ts [records] [object]`, or `npm run bench:emulator`).
 * The client reads every page over loopback HTTP and discards it, counting bytes and rows.
 * Target: at least 100 MB/s of result CSV, so the emulator is never what limits a benchmark.
 */
import { request } from 'node:http';
import { startEmulator } from '../src/emulator/index.ts';

const records = Number(process.argv[2] ?? 1_000_000);
const object = process.argv[3] ?? 'Account';

function get(url: string, token: string): Promise<{ bytes: number; rows: number; locator: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Authorization: `Bearer ${token}`, Accept: 'text/csv' } }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`HTTP ${res.statusCode ?? 0}`));
        res.resume();
        return;
      }
      let bytes = 0;
      const rows = Number(res.headers['sforce-numberofrecords']);
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      res.on('end', () => resolve({ bytes, rows, locator: String(res.headers['sforce-locator']) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
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
    let locator = '';
    let bytes = 0;
    let lines = 0;
    let pages = 0;
    while (locator !== 'null') {
      const page = await get(`${base}/jobs/query/${created.id}/results${locator ? `?locator=${locator}` : ''}`, emu.accessToken);
      bytes += page.bytes;
      lines += page.rows;
      locator = page.locator;
      pages++;
    }
    const t2 = process.hrtime.bigint();
    const secs = Number(t2 - t1) / 1e9;
    const rows = lines;
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
    };
    console.log(JSON.stringify(result));
  } finally {
    await emu.close();
  }
}

await main();
