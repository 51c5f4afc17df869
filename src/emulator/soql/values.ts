/**
 * How the SOQL engine compares stored values and reaches a row's parent records: shared by the compiler's
 * predicates, execution and REST output.
 */
import type { DescribeField } from '../org/schema.ts';
import type { OrgStore, StoredRecord, StoredValue, Table } from '../org/store.ts';
import { storedMs } from './literals.ts';
import type { Norm, QueryRow, RelationshipStep, ValueKind } from './types.ts';

/** The parents of rows that reach none (shared, never written). */
export const EMPTY_PARENTS: ReadonlyMap<string, StoredRecord | null> = new Map();

export function kindOf(field: DescribeField): ValueKind {
  switch (field.type) {
    case 'string': case 'textarea': case 'picklist': case 'combobox': case 'phone': case 'url': case 'email': case 'encryptedstring':
      return 'text';
    case 'id': case 'reference': return 'id';
    case 'int': case 'long': case 'double': case 'currency': case 'percent': return 'number';
    case 'boolean': return 'boolean';
    case 'date': return 'date';
    case 'datetime': return 'datetime';
    case 'time': return 'time';
    case 'multipicklist': return 'multipicklist';
    default: return 'other';
  }
}

export function normalize(kind: ValueKind, value: StoredValue): Norm {
  if (value === null) return null;
  switch (kind) {
    case 'text': case 'multipicklist': return String(value).toLowerCase();
    case 'date': case 'datetime': return typeof value === 'string' ? storedMs(value) : Number(value);
    default: return value;
  }
}

export function compareNorm(a: Norm, b: Norm): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A row's parent record along `steps` (null when a lookup on the way is empty). */
export function resolveParent(store: OrgStore, row: QueryRow, steps: readonly RelationshipStep[], includeDeleted: boolean): StoredRecord | null {
  let current: StoredRecord | null = row.record;
  const cache = row.parents as Map<string, StoredRecord | null>;
  for (const step of steps) {
    if (cache.has(step.path)) {
      current = cache.get(step.path) ?? null;
    } else {
      const id: StoredValue = current ? (current[step.field.name] ?? null) : null;
      let parent: StoredRecord | null = null;
      if (typeof id === 'string' && id !== '') {
        const table: Table | undefined = step.table ?? store.tableForId(id);
        parent = table?.get(id, includeDeleted) ?? null;
      }
      if (cache !== EMPTY_PARENTS) cache.set(step.path, parent);
      current = parent;
    }
    if (current === null) return null;
  }
  return current;
}
