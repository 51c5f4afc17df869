/**
 * The plain jsforce script a user would write (a peer in `npm run bench`), run by node itself, not through tsx:
 *   node bench/peers/jsforce.mjs export <emulator-json-file> <records> <soql> <out.csv>
 *   node bench/peers/jsforce.mjs import <emulator-json-file> <records> <upsert.csv>
 * - export: a Bulk API 2.0 query job created and polled with jsforce, its result pages fetched by locator and
 *   written to one CSV file (jsforce's own bulk2.query fails on multi-page results, jsforce#1546);
 * - import: `bulk2.loadAndWaitForResults`, an upsert by External_Id__c of the CSV file, in parts of at most
 *   100 MB (Bulk API 2.0 refuses a job over 150 MB).
 * Prints one JSON line: { scenario, records, seconds, cpuSeconds (this process), bytes, peakRssMB }.
 */
import { createWriteStream, readFileSync, statSync } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import jsforce from 'jsforce';
import { PART_BYTES, csvParts } from './csv-parts.mjs';

const [mode, infoFile, recordsArg, ...rest] = process.argv.slice(2);
const info = JSON.parse(readFileSync(infoFile, 'utf8'));
const version = '60.0';
const conn = new jsforce.Connection({ instanceUrl: info.instanceUrl, accessToken: info.accessToken, version });
// jsforce's default poll timeout is 30 s: a user with a million rows raises it.
const polling = { pollInterval: 1000, pollTimeout: 4 * 3600 * 1000 };

let peak = 0;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 100);
const started = process.hrtime.bigint();
let records = 0;
let bytes = 0;

/** Drops the bytes up to and including the first LF: the header line of every result page after the first. */
function dropHeader() {
  let dropped = false;
  return new Transform({
    transform(chunk, _enc, done) {
      if (dropped) return done(null, chunk);
      const lf = chunk.indexOf(10);
      if (lf < 0) return done();
      dropped = true;
      done(null, chunk.subarray(lf + 1));
    },
  });
}

if (mode === 'export') {
  const [soql, outFile] = rest;
  const created = await conn.request({
    method: 'POST',
    url: `/services/data/v${version}/jobs/query`,
    body: JSON.stringify({ operation: 'query', query: soql }),
    headers: { 'Content-Type': 'application/json' },
  });
  await conn.bulk2.job('query', { id: created.id }).poll(polling.pollInterval, polling.pollTimeout);
  const out = createWriteStream(outFile);
  let locator = '';
  for (let page = 0; ; page++) {
    const url = `${conn.instanceUrl}/services/data/v${version}/jobs/query/${created.id}/results${locator ? `?locator=${encodeURIComponent(locator)}` : ''}`;
    const res = await fetch(url, { headers: { Authorization: `Bearer ${conn.accessToken}`, Accept: 'text/csv' } });
    if (!res.ok) throw new Error(`results page ${page}: HTTP ${res.status} ${await res.text()}`);
    records += Number(res.headers.get('sforce-numberofrecords') ?? 0);
    const count = new Transform({
      transform(chunk, _enc, done) {
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    const steps = [Readable.fromWeb(res.body), count];
    if (page > 0) steps.push(dropHeader());
    await pipeline(...steps, out, { end: false });
    const next = res.headers.get('sforce-locator');
    if (!next || next === 'null') break;
    locator = next;
  }
  out.end();
  await new Promise((resolve, reject) => out.once('finish', resolve).once('error', reject));
} else if (mode === 'import') {
  const [csvFile] = rest;
  // Bulk API 2.0 takes at most 150 MB per job (100 MB recommended): the script splits the file at record ends
  // into parts of at most 100 MB, header repeated, one loadAndWaitForResults each, in turn.
  for await (const part of csvParts(csvFile, PART_BYTES)) {
    const results = await conn.bulk2.loadAndWaitForResults({
      object: 'Invoice__c',
      operation: 'upsert',
      externalIdFieldName: 'External_Id__c',
      input: Readable.from([part]),
      ...polling,
    });
    records += results.successfulResults.length;
    if (results.failedResults.length > 0) {
      process.stderr.write(`jsforce import: ${results.failedResults.length} rows failed, first: ${JSON.stringify(results.failedResults[0])}\n`);
      process.exit(1);
    }
  }
  bytes = statSync(csvFile).size;
} else {
  process.stderr.write(`unknown mode ${mode}: export or import\n`);
  process.exit(2);
}

clearInterval(sampler);
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
peak = Math.max(peak, process.memoryUsage().rss);
const cpu = process.cpuUsage();
if (records !== Number(recordsArg)) {
  process.stderr.write(`jsforce ${mode}: ${records} records moved, expected ${recordsArg}\n`);
  process.exit(1);
}
process.stdout.write(`${JSON.stringify({ scenario: `jsforce-${mode}`, records, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, bytes, apiCalls: 0, peakRssMB: Math.round(peak / 1e6) })}\n`);
