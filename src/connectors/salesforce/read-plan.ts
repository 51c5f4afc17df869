import type { FieldValue, Row } from '../../core/types.ts';
import { isInheritedName, ownValue, rowFrom, rowTemplate } from '../../formats/rows.ts';
import { base64Reference, canonicalCompound, canonicalDatetime, componentKey, fromBulk, fromRest } from '../../api-selection/normalize.ts';
import type { SfField, SfObject } from './describe.ts';
import { csvCell, csvText } from '../../formats/csv.ts';

/**
 * How the requested output fields map onto what each API can select.
 * - REST selects compound fields directly; Bulk cannot, so it selects their components and we rebuild.
 * - base64 fields are never selected: both APIs produce the same reference (the blob's REST URL).
 */
export interface ReadPlan {
  readonly object: SfObject;
  readonly output: readonly SfField[];
  /** Fields to put in the SOQL SELECT for this API (always includes Id). */
  readonly select: readonly SfField[];
}

export function planRead(object: SfObject, output: readonly SfField[], api: 'REST_SYNC' | 'BULKV2'): ReadPlan {
  const select: SfField[] = [];
  const seen = new Set<string>();
  const add = (f: SfField): void => {
    if (!seen.has(f.name)) {
      seen.add(f.name);
      select.push(f);
    }
  };
  const id = object.field('Id');
  if (id) add(id);
  for (const f of output) {
    if (f.type === 'base64') continue;
    if (api === 'BULKV2' && object.isCompound(f)) {
      for (const c of object.components(f)) add(c);
      continue;
    }
    add(f);
  }
  return { object, output, select };
}

/** One output column, compiled once per read: its value for a source record (REST JSON or Bulk CSV cells). */
type Column<T> = (source: T) => FieldValue;

function base64Column<T>(plan: ReadPlan, version: string, f: SfField, id: (source: T) => FieldValue): Column<T> {
  return (src) => {
    const v = id(src);
    return v === null ? null : base64Reference(version, plan.object.name, String(v), f.name);
  };
}

/** Rows of the plan's output fields, in order: built from a template so they are fast, same-shaped objects. */
function rowBuilder<T>(plan: ReadPlan, columns: ReadonlyArray<Column<T>>): (source: T) => Row {
  const names = plan.output.map((f) => f.name);
  const template = rowTemplate(names);
  const n = names.length;
  return (source) => {
    const row = rowFrom(template);
    for (let i = 0; i < n; i++) row[names[i] as string] = (columns[i] as Column<T>)(source);
    return row;
  };
}

/** Compile a REST record → canonical row function for a plan (once per read). */
export function restRowBuilder(plan: ReadPlan, version: string): (record: Readonly<Record<string, unknown>>) => Row {
  const columns: Array<Column<Readonly<Record<string, unknown>>>> = plan.output.map((f) => {
    if (f.type === 'base64') return base64Column(plan, version, f, (r) => (r['Id'] as FieldValue | undefined) ?? null);
    const name = f.name;
    // A name Object.prototype also has (only a hostile describe could send one) is read as the record's own key.
    if (isInheritedName(name)) return (r) => fromRest(f, ownValue(r, name));
    return (r) => fromRest(f, r[name]);
  });
  return rowBuilder(plan, columns);
}

/**
 * How a Bulk column becomes a canonical value, chosen once per results page header and applied in one loop with
 * a switch (no call per cell): what fromBulk does for the type, the common types inline. `other` columns
 * (compound, base64, time, a field missing from the header) keep a function of the whole record.
 */
const enum Cell {
  /** Text of every type not listed below: the cell as it is; an empty cell is null. */
  Text,
  Datetime,
  Boolean,
  Number,
  Other,
}

/**
 * A number cell that is already its value's text (`String(Number(cell)) === cell`), so a line copies it: plain
 * decimal, no leading or trailing zero, at most 15 characters (so at most 15 significant digits, which a double
 * keeps exactly and prints as written), not below 1e-6 (printed with an exponent), and not -0 (printed 0).
 */
const PLAIN_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d*[1-9])?$/;
function isCanonicalNumber(cell: string): boolean {
  return cell.length <= 15 && PLAIN_NUMBER.test(cell) && cell !== '-0' && !/^-?0\.0{6}/.test(cell);
}

/** What JSON.stringify escapes in a string (surrogates: only lone ones, so any sends the text through it). */
// eslint-disable-next-line no-control-regex -- control characters are among what JSON.stringify escapes
const JSON_ESCAPES = /["\\\u0000-\u001f\ud800-\udfff]/;
const CANONICAL_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function cellKind(f: SfField): Cell {
  switch (f.type) {
    case 'datetime':
      return Cell.Datetime;
    case 'boolean':
      return Cell.Boolean;
    case 'int':
    case 'long':
    case 'double':
    case 'currency':
    case 'percent':
      return Cell.Number;
    case 'time':
      return Cell.Other;
    default:
      return Cell.Text;
  }
}

/** The columns of a Bulk results page, compiled once per header: each output field's kind, cell position, function. */
interface BulkColumns {
  readonly names: readonly string[];
  readonly kinds: readonly Cell[];
  readonly positions: readonly number[];
  readonly others: ReadonlyArray<Column<readonly string[]> | undefined>;
}

function bulkColumns(plan: ReadPlan, version: string, header: readonly string[]): BulkColumns {
  const indexOf = new Map(header.map((h, i) => [h.toLowerCase(), i]));
  const idIndex = indexOf.get('id');
  const names = plan.output.map((f) => f.name);
  const kinds: Cell[] = [];
  const positions: number[] = [];
  const others: Array<Column<readonly string[]> | undefined> = [];
  for (const f of plan.output) {
    let kind = cellKind(f);
    let other: Column<readonly string[]> | undefined;
    const i = indexOf.get(f.name.toLowerCase());
    if (f.type === 'base64') {
      kind = Cell.Other;
      other = base64Column(plan, version, f, (cells) => (idIndex === undefined ? null : (cells[idIndex] ?? null) || null));
    } else if (plan.object.isCompound(f)) {
      kind = Cell.Other;
      const type = f.type === 'location' ? 'location' : 'address';
      const parts = plan.object
        .components(f)
        .map((c) => ({ field: c, key: componentKey(f, c), index: indexOf.get(c.name.toLowerCase()) }))
        .filter((p): p is { field: SfField; key: string; index: number } => p.key !== undefined && p.index !== undefined);
      other = (cells) => {
        // Every component empty (most records have no address or location): null, as canonicalCompound says.
        if (parts.every((p) => cells[p.index] === undefined || cells[p.index] === '')) return null;
        const raw: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
        for (const p of parts) raw[p.key] = fromBulk(p.field, cells[p.index]);
        return canonicalCompound(type, raw);
      };
    } else if (i === undefined) {
      kind = Cell.Other;
      other = () => null;
    } else if (kind === Cell.Other) {
      other = (cells) => fromBulk(f, cells[i]);
    }
    kinds.push(kind);
    positions.push(i ?? -1);
    others.push(other);
  }
  return { names, kinds, positions, others };
}

/**
 * Compile a Bulk CSV row (cells by header position) → canonical row function, once per results page header.
 * The values are fromBulk's (test/connectors/salesforce-read-canonical.test.ts holds Bulk and REST reads of every
 * type to the same records); a type-coded loop instead of two calls per cell costs about 7% less CPU on the Bulk
 * export benchmark's rows (issue 13).
 */
export function bulkRowBuilder(plan: ReadPlan, version: string, header: readonly string[]): (cells: readonly string[]) => Row {
  const { names, kinds, positions, others } = bulkColumns(plan, version, header);
  const n = names.length;
  const template = rowTemplate(names);
  return (cells) => {
    const row = rowFrom(template);
    for (let k = 0; k < n; k++) {
      const kind = kinds[k] as Cell;
      let value: FieldValue = null;
      if (kind === Cell.Other) value = (others[k] as Column<readonly string[]>)(cells);
      else {
        const cell = cells[positions[k] as number];
        if (cell !== undefined && cell !== '') {
          switch (kind) {
            case Cell.Text:
              value = cell;
              break;
            case Cell.Datetime:
              value = CANONICAL_DATETIME.test(cell) ? cell : canonicalDatetime(cell);
              break;
            case Cell.Boolean:
              value = cell === 'true';
              break;
            default: {
              const number = Number(cell);
              value = Number.isFinite(number) ? number : null;
            }
          }
        }
      }
      row[names[k] as string] = value;
    }
    return row;
  };
}

/**
 * Compile a Bulk CSV row → one line of an output file (CSV or JSON lines, without its line end), the same text the
 * file's encoder writes for the row {@link bulkRowBuilder} builds (issue 13: a Map_all export to a file writes
 * Bulk's cells without building rows). Each cell gets the builder's value rule, then the encoder's text rule:
 * CSV as CsvEncoder (src/formats/csv.ts: null an empty cell, strings quoted when they need it), JSON lines as
 * JsonLinesEncoder (`JSON.stringify` of the row, key by key). test/connectors/salesforce-bulk-lines.test.ts holds
 * both to the encoders' bytes on every field type and tricky cells.
 */
export function bulkLineBuilder(plan: ReadPlan, version: string, header: readonly string[], format: 'CSV' | 'JSON'): (cells: readonly string[]) => string {
  const { names, kinds, positions, others } = bulkColumns(plan, version, header);
  const n = names.length;
  if (format === 'CSV') {
    return (cells) => {
      let line = '';
      for (let k = 0; k < n; k++) {
        if (k > 0) line += ',';
        const kind = kinds[k] as Cell;
        if (kind === Cell.Other) {
          line += csvCell((others[k] as Column<readonly string[]>)(cells));
          continue;
        }
        const cell = cells[positions[k] as number];
        if (cell === undefined || cell === '') continue;
        switch (kind) {
          case Cell.Text:
            line += csvText(cell);
            break;
          case Cell.Datetime:
            line += CANONICAL_DATETIME.test(cell) ? cell : csvText(canonicalDatetime(cell));
            break;
          case Cell.Boolean:
            line += cell === 'true' ? 'true' : 'false';
            break;
          default: {
            if (isCanonicalNumber(cell)) line += cell;
            else {
              const number = Number(cell);
              if (Number.isFinite(number)) line += String(number);
            }
          }
        }
      }
      return line;
    };
  }
  // The key of each value, with what goes before it: `{"Id":`, `,"Name":`, ... (JSON.stringify's own escaping).
  const keys = names.map((name, k) => `${k === 0 ? '{' : ','}${JSON.stringify(name)}:`);
  return (cells) => {
    let line = n === 0 ? '{' : '';
    for (let k = 0; k < n; k++) {
      line += keys[k] as string;
      const kind = kinds[k] as Cell;
      if (kind === Cell.Other) {
        line += JSON.stringify((others[k] as Column<readonly string[]>)(cells));
        continue;
      }
      const cell = cells[positions[k] as number];
      if (cell === undefined || cell === '') {
        line += 'null';
        continue;
      }
      switch (kind) {
        case Cell.Text:
          // Text JSON.stringify would copy unchanged (no quote, backslash, control character or surrogate) is quoted as it is.
          line += JSON_ESCAPES.test(cell) ? JSON.stringify(cell) : `"${cell}"`;
          break;
        case Cell.Datetime:
          line += CANONICAL_DATETIME.test(cell) ? `"${cell}"` : JSON.stringify(canonicalDatetime(cell));
          break;
        case Cell.Boolean:
          line += cell === 'true' ? 'true' : 'false';
          break;
        default: {
          if (isCanonicalNumber(cell)) line += cell;
          else {
            const number = Number(cell);
            line += Number.isFinite(number) ? String(number) : 'null';
          }
        }
      }
    }
    return `${line}}`;
  };
}
