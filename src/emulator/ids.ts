/**
 * Salesforce record ids: 15 case-sensitive base-62 characters (3-char key prefix, 2-char pod,
 * 1 reserved, 9-char counter) plus a 3-character case-insensitive checksum in the 18-char form. What every
 * Salesforce id is (checksum, 15/18 forms, validation) is in src/salesforce-wire/ids.ts; this file mints the
 * emulator's own ids.
 */
import { to18 } from '../salesforce-wire/ids.ts';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** The pod part of every id the emulator mints ("5g" then the reserved "0"). */
export const POD = '5g0';

export function encodeCounter(n: number, width = 9): string {
  let s = '';
  let v = Math.floor(n);
  while (v > 0) {
    s = BASE62[v % 62] + s;
    v = Math.floor(v / 62);
  }
  if (s.length > width) throw new RangeError(`counter ${n} does not fit in ${width} base-62 digits`);
  return s.padStart(width, '0');
}

export function decodeCounter(s: string): number {
  let n = 0;
  for (const ch of s) {
    const d = BASE62.indexOf(ch);
    if (d < 0) return Number.NaN;
    n = n * 62 + d;
  }
  return n;
}

/** The 18-char id for `counter` under a key prefix, e.g. makeId('001', 1) = '0015g000000000001AAA'-like. */
export function makeId(keyPrefix: string, counter: number): string {
  return to18(keyPrefix + POD + encodeCounter(counter));
}

/** The counter of an id minted by {@link makeId}, or undefined when the id is not of this org's pod. */
export function idCounter(id: string): number | undefined {
  if (id.length < 15 || id.slice(3, 6) !== POD) return undefined;
  const n = decodeCounter(id.slice(6, 15));
  return Number.isNaN(n) ? undefined : n;
}
