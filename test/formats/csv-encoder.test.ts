import { describe, expect, it } from 'vitest';
import type { EntitySchema, FieldValue, Row } from '../../src/core/types.ts';
import { CsvEncoder, csvCell } from '../../src/formats/csv.ts';
import { randomBatches, rng } from './random-batches.ts';

/**
 * The CSV encoder writes each line into the batch's buffer by value type (issue 13); it must write the same
 * bytes as the encoder before it, which joined csvCell of every value into one string per batch. That encoder
 * is restated here as the reference, and random batches (odd names such as __proto__, unicode, lone
 * surrogates, control characters, quotes, commas, line breaks, null and "", numbers, booleans, compound values,
 * missing keys) are held to it byte for byte.
 */
function reference(names: readonly string[], batches: readonly (readonly Row[])[]): Buffer {
  let text = `${names.map((n) => csvCell(n)).join(',')}\n`;
  for (const rows of batches) for (const row of rows) text += `${names.map((n) => csvCell(row[n])).join(',')}\n`;
  return Buffer.from(text, 'utf8');
}

const NAMES = ['Id', '__proto__', 'constructor', 'Näme, "q"', 'toString', 'a\nb', '', 'x'];
const STRINGS = ['', 'plain', 'a,b', 'say "hi"', 'line1\nline2', 'cr\r', '\t\u0001\u001f', 'Zoë 李 😀', '\ud800', '\udc00x', ' lead', '"', ',', 'é'.repeat(300)];
const NUMBERS = [0, -0, 1.25, -3, 1e21, 1e-7, 123456789.123, Number.MAX_SAFE_INTEGER, NaN, Infinity];

function randomValue(r: () => number): FieldValue | undefined {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  switch (Math.floor(r() * 7)) {
    case 0: return null;
    case 1: return undefined;
    case 2: return pick(NUMBERS);
    case 3: return r() < 0.5;
    case 4: return { street: pick(STRINGS), city: null, latitude: pick(NUMBERS) } as FieldValue;
    case 5: return pick(STRINGS) + pick(STRINGS);
    default: return pick(STRINGS);
  }
}

describe('CSV encoder: same bytes as csvCell joined per batch', () => {
  it('on 300 random schemas and batches', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed);
      const { names, schema, batches } = randomBatches(r, NAMES, { maxRows: 80, value: randomValue });
      const encoder = new CsvEncoder(schema);
      const parts: Uint8Array[] = [];
      for (const rows of batches) {
        const out = encoder.encode(rows);
        if (out !== undefined) parts.push(Buffer.from(out));
      }
      const end = encoder.finish();
      if (end !== undefined) parts.push(Buffer.from(end));
      const bytes = Buffer.concat(parts);
      expect({ seed, text: bytes.toString('latin1') }).toEqual({ seed, text: reference(names, batches).toString('latin1') });
      expect(encoder.estimatedSize).toBe(bytes.byteLength);
    }
  });

  it('an empty batch before any row writes the header once; a file with no rows still has it', () => {
    const schema: EntitySchema = { entity: 'X', fields: [{ name: 'a', type: 'string' }, { name: 'b', type: 'double' }] };
    const encoder = new CsvEncoder(schema);
    expect(Buffer.from(encoder.encode([]) ?? []).toString()).toBe('a,b\n');
    expect(encoder.encode([])).toBeUndefined();
    expect(encoder.finish()).toBeUndefined();
    expect(Buffer.from(new CsvEncoder(schema).finish() ?? []).toString()).toBe('a,b\n');
  });
});
