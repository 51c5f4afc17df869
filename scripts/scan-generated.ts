/**
 * Scans a generated table end to end and reports throughput and peak RSS (memory must stay flat).
 *
 *   node --import tsx scripts/scan-generated.ts [Object] [count] [seed]
 *   node --import tsx scripts/scan-generated.ts Account 10000000
 */
import { buildStore } from '../src/emulator/org/seed.ts';

const object = process.argv[2] ?? 'Account';
const count = Number(process.argv[3] ?? 10_000_000);
const seed = Number(process.argv[4] ?? 1);

const t0 = performance.now();
const { store } = buildStore({ generate: { [object]: count }, seed }, Date.now);
const table = store.table(object);
if (!table) throw new Error(`no table ${object}`);
const built = performance.now() - t0;
let peakRss = process.memoryUsage().rss;
const startRss = peakRss;
let n = 0;
let bytes = 0;
const t1 = performance.now();
for (const r of table.scan(false)) {
  n++;
  if ((n & 0xffff) === 0) {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    // Rough size of the record as JSON on a sample, to report MB/s of record data.
    bytes += JSON.stringify(r).length * 0x10000;
  }
}
const secs = (performance.now() - t1) / 1000;
peakRss = Math.max(peakRss, process.memoryUsage().rss);
const cpu = process.cpuUsage();
console.log(
  JSON.stringify({
    object,
    count: table.count(false),
    scanned: n,
    buildMs: Math.round(built),
    scanSeconds: Number(secs.toFixed(1)),
    recordsPerSecond: Math.round(n / secs),
    approxJsonMBps: Math.round(bytes / 1e6 / secs),
    cpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(1)),
    startRssMB: Math.round(startRss / 1e6),
    peakRssMB: Math.round(peakRss / 1e6),
  }),
);
