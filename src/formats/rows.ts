import type { Row } from '../core/types.ts';

/**
 * A row template for building many rows with the same keys: `{ ...template }` is a new row holding every
 * key (null) in the given order, then the builder assigns each value.
 *
 * Why: a row built from `{}` by assigning a few dozen computed keys ends up in V8's slow dictionary mode,
 * and every later stage pays for it (the transform's reads, JSON.stringify, Parquet columns): on the Bulk
 * export benchmark that was most of the garbage collector's and the encoder's time. A JSON.parse'd object
 * has fast properties, and spreading it copies its hidden class, so rows built from the template are
 * fast-mode objects that all share one shape (for up to about a hundred keys; beyond that V8 chooses
 * dictionary mode anyway and the rows are merely as before).
 */
export function rowTemplate(names: readonly string[]): Row {
  const shape: Record<string, null> = {};
  for (const name of names) shape[name] = null;
  return JSON.parse(JSON.stringify(shape)) as Row;
}

/**
 * Whether a row has exactly these keys, in this order, none of them undefined: then its JSON text is
 * `JSON.stringify(row)`, and a transform that would copy it key by key may pass it on as it is. Rows from
 * {@link rowTemplate} always do; the check is a for-in over the row's own shape, with no allocation.
 */
export function hasExactKeys(row: Row, names: readonly string[]): boolean {
  let i = 0;
  for (const key in row) {
    if (key !== names[i] || row[key] === undefined) return false;
    i++;
  }
  return i === names.length;
}
