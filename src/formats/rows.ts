import type { Row } from '../core/types.ts';

/**
 * Rows are keyed by names that come from outside: CSV headers, JSON-lines keys, Parquet columns, Map
 * destination fields. On a plain object some names are not ordinary keys: assigning `__proto__` changes (or,
 * with a string, silently ignores) the prototype instead of storing a value, and reading `constructor`,
 * `toString`, `hasOwnProperty` ... of a row that lacks them finds Object.prototype's functions. So every row
 * forceflow builds has no prototype (null): any name is an ordinary own key, and a missing one reads as
 * undefined. Build rows only through these helpers (or from a template with {@link rowFrom}), never from `{}`.
 */

/** A new empty row with no prototype (for rows built key by key off the hot paths). */
export function emptyRow(): Row {
  return Object.create(null) as Row;
}

/**
 * A row template for building many rows with the same keys: {@link rowFrom} makes a new row holding every
 * key (null) in the given order, then the builder assigns each value.
 *
 * Why: a row built from an empty object by assigning a few dozen computed keys ends up in V8's slow dictionary
 * mode (and `Object.create(null)` starts there), and every later stage pays for it (the transform's reads,
 * JSON.stringify, Parquet columns): on the Bulk export benchmark that was most of the garbage collector's and
 * the encoder's time. A JSON.parse'd object has fast properties, and spreading it copies its hidden class, so
 * rows built from the template are fast-mode objects that all share one shape (for up to about a hundred
 * keys; beyond that V8 chooses dictionary mode anyway and the rows are merely as before). JSON.parse and spread
 * both define own data properties, so even `__proto__` is an ordinary key of the template and its copies.
 */
export function rowTemplate(names: readonly string[]): Row {
  let json = '{';
  for (let i = 0; i < names.length; i++) json += `${i === 0 ? '' : ','}${JSON.stringify(names[i])}:null`;
  return JSON.parse(`${json}}`) as Row;
}

/**
 * A new row from a template (or a copy of a row): its own keys and values, in order, with no prototype.
 * Setting the prototype of the fresh copy keeps its fast properties (measured: about 0.1 µs a row).
 */
export function rowFrom(template: Row): Row {
  return Object.setPrototypeOf({ ...template }, null) as Row;
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

/** A value of an object parsed from outside (JSON), only when it is the object's own: never Object.prototype's. */
export function ownValue(object: Readonly<Record<string, unknown>>, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(object, key) ? object[key] : undefined;
}

/** Whether reading this name from a plain object could find Object.prototype's property instead of a value. */
export function isInheritedName(name: string): boolean {
  return name in Object.prototype;
}
