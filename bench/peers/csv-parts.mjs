/**
 * A CSV file in parts of at most `max` bytes, each starting with the header line, cut only at record ends (a LF
 * outside quotes: the benchmark's notes hold quoted line breaks): Bulk API 2.0 refuses a job over 150 MB, so a
 * user of jsforce or of the Salesforce CLI splits a larger file (bench/peers/jsforce.mjs, bench/peers/sf.mjs).
 */
import { createReadStream } from 'node:fs';

/** Bytes per part: 100 MB, Salesforce's recommended job size (FORCEFLOW_BENCH_PART_BYTES, to try the split on small files). */
export const PART_BYTES = Number(process.env.FORCEFLOW_BENCH_PART_BYTES ?? 100 * 1024 * 1024);

export async function* csvParts(file, max) {
  let header;
  let carry = Buffer.alloc(0);
  let parts = [];
  let size = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    const data = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    // `data` starts at a record start, so a LF with an even count of quotes before it ends a record.
    let from = 0;
    let last = -1;
    let quoted = false;
    for (let i = 0; i < data.length; i++) {
      const b = data[i];
      if (b === 34) quoted = !quoted;
      else if (b === 10 && !quoted) {
        if (header === undefined) {
          header = Buffer.from(data.subarray(0, i + 1));
          from = i + 1;
        } else last = i;
      }
    }
    if (last < 0) {
      carry = Buffer.from(data.subarray(from));
      continue;
    }
    carry = Buffer.from(data.subarray(last + 1));
    const whole = data.subarray(from, last + 1);
    if (size > 0 && header.length + size + whole.length > max) {
      yield Buffer.concat([header, ...parts]);
      parts = [];
      size = 0;
    }
    parts.push(whole);
    size += whole.length;
  }
  if (carry.length > 0) {
    parts.push(carry);
    size += carry.length;
  }
  if (size > 0) yield Buffer.concat([header, ...parts]);
}
