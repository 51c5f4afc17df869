import { describe, expect, it } from 'vitest';
import type { FieldValue, Row } from '../../src/core/types.ts';
import { JsonLinesEncoder } from '../../src/formats/jsonl.ts';
import { randomBatches, rng } from './random-batches.ts';

/**
 * The JSON lines encoder writes its lines in groups (issue 13); it must write the same bytes as one line per
 * row: the schema's keys in order, each value's JSON text (null for a missing one). That is restated here as
 * the reference, and random batches (odd names such as __proto__, unicode, lone surrogates, control
 * characters, null vs "", numbers, booleans, nested compound values, missing and reordered keys, rows wider
 * than the buffer) are held to it byte for byte.
 */
function reference(names: readonly string[], batches: readonly (readonly Row[])[]): Buffer {
  let text = '';
  for (const rows of batches) {
    for (const row of rows) text += `{${names.map((n) => `${JSON.stringify(n)}:${JSON.stringify(row[n] ?? null)}`).join(',')}}\n`;
  }
  return Buffer.from(text, 'utf8');
}

const NAMES = ['Id', '__proto__', 'constructor', 'Näme, "q"', 'toString', 'a\nb', '', 'x\u2028'];
const STRINGS = ['', 'plain', 'say "hi" \\', 'line1\nline2\r\t', '\u0001\u001f\u007f', 'Zoë 李 😀', '\ud800', '\udc00x', '\u2028\u2029', 'é'.repeat(3000)];
const NUMBERS = [0, -0, 1.25, -3, 1e21, 1e-7, 123456789.123, Number.MAX_SAFE_INTEGER];

function randomValue(r: () => number): FieldValue | undefined {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  switch (Math.floor(r() * 7)) {
    case 0: return null;
    case 1: return undefined;
    case 2: return pick(NUMBERS);
    case 3: return r() < 0.5;
    case 4: return Object.setPrototypeOf({ street: pick(STRINGS), __proto__x: null, latitude: pick(NUMBERS) }, null) as FieldValue;
    case 5: return pick(STRINGS) + pick(STRINGS);
    default: return pick(STRINGS);
  }
}

describe('JSON lines encoder: same bytes as one JSON line per row', () => {
  it('on 300 random schemas and batches (whole-row and per-value rows mixed)', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed);
      const { names, schema, batches } = randomBatches(r, NAMES, { maxRows: 80, value: randomValue, reshape: (row, r) => (r() < 0.2 ? (Object.setPrototypeOf(Object.fromEntries(Object.entries(row).reverse()), null) as Row) : row) });
      const encoder = new JsonLinesEncoder(schema);
      const parts: Uint8Array[] = [];
      for (const rows of batches) {
        const out = encoder.encode(rows);
        if (out !== undefined) parts.push(Buffer.from(out));
      }
      const bytes = Buffer.concat(parts);
      expect({ seed, text: bytes.toString('latin1') }).toEqual({ seed, text: reference(names, batches).toString('latin1') });
      expect(encoder.estimatedSize).toBe(bytes.byteLength);
    }
  });
});
