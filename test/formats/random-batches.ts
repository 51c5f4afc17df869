import type { EntitySchema, FieldValue, Row } from '../../src/core/types.ts';
import { rowFrom, rowTemplate } from '../../src/formats/rows.ts';

/** A small deterministic generator (LCG), so a failing seed can be replayed. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export interface RandomBatches {
  readonly names: readonly string[];
  readonly schema: EntitySchema;
  readonly batches: Row[][];
}

/**
 * Random batches for the encoder equivalence tests: a random subset of `allNames` as the schema, up to three
 * batches of up to `maxRows` rows, each value drawn by `value` (undefined leaves the key out), and, when
 * `reshape` is given, some rows replaced by it (e.g. their keys reordered).
 */
export function randomBatches(
  r: () => number,
  allNames: readonly string[],
  options: { readonly maxRows: number; readonly value: (r: () => number) => FieldValue | undefined; readonly reshape?: (row: Row, r: () => number) => Row },
): RandomBatches {
  const names = allNames.filter(() => r() < 0.6);
  const schema: EntitySchema = { entity: 'X', fields: names.map((name) => ({ name, type: 'string' as const, nillable: true })) };
  const template = rowTemplate(names);
  const batches: Row[][] = [];
  const nBatches = Math.floor(r() * 4);
  for (let b = 0; b < nBatches; b++) {
    const rows: Row[] = [];
    const nRows = Math.floor(r() * options.maxRows);
    for (let i = 0; i < nRows; i++) {
      const row = rowFrom(template);
      for (const n of names) {
        const v = options.value(r);
        if (v === undefined) delete row[n];
        else row[n] = v;
      }
      rows.push(options.reshape ? options.reshape(row, r) : row);
    }
    batches.push(rows);
  }
  return { names, schema, batches };
}
