import { describe, expect, it } from 'vitest';
import type { EntitySchema, Row } from '../../src/core/types.ts';
import { hasExactKeys, rowTemplate } from '../../src/formats/rows.ts';
import { map, plan, task } from './helpers.ts';

const schema: EntitySchema = { entity: 'Account', fields: [{ name: 'Id', type: 'id' }, { name: 'Name', type: 'string' }, { name: 'Amount', type: 'double' }] };
const mapAll = task('Map_all', [], 'NO_OP');

describe('Map_all alone passes rows on without copying them', () => {
  it('returns the same row objects when each row has exactly the schema keys in order', () => {
    const rows: Row[] = [{ Id: '1', Name: 'Acme', Amount: 1.5 }, { Id: '2', Name: null, Amount: null }];
    const out = plan([mapAll]).transform({ rows, schema });
    expect(out.batch.rows[0]).toBe(rows[0]);
    expect(out.batch.rows[1]).toBe(rows[1]);
    expect(out.batch.schema.fields.map((f) => f.name)).toEqual(['Id', 'Name', 'Amount']);
  });

  it('copies a row that lacks a key (null), has keys in another order, or has extra keys', () => {
    const rows: Row[] = [{ Id: '1', Name: 'Acme' }, { Amount: 2, Name: 'B', Id: '2' }, { Id: '3', Name: 'C', Amount: 3, Extra: 'x' }];
    const out = plan([mapAll]).transform({ rows, schema });
    out.batch.rows.forEach((r, i) => expect(r).not.toBe(rows[i]));
    expect(out.batch.rows.map((r) => Object.keys(r))).toEqual([['Id', 'Name', 'Amount'], ['Id', 'Name', 'Amount'], ['Id', 'Name', 'Amount']]);
    expect(out.batch.rows[0]).toEqual({ Id: '1', Name: 'Acme', Amount: null });
    expect(out.batch.rows[2]).toEqual({ Id: '3', Name: 'C', Amount: 3 });
  });

  it('still copies when another task changes the record (Map with a type, exclusions)', () => {
    const rows: Row[] = [{ Id: '1', Name: 'Acme', Amount: 1.5 }];
    const converted = plan([mapAll, map('Amount', 'Amount', { DESTINATION_DATA_TYPE: 'string' })]).transform({ rows, schema });
    expect(converted.batch.rows[0]).not.toBe(rows[0]);
    expect(converted.batch.rows[0]).toEqual({ Id: '1', Name: 'Acme', Amount: '1.5' });
    const excluded = plan([task('Map_all', [], 'NO_OP', { EXCLUDE_SOURCE_FIELDS_LIST: '["Name"]' })]).transform({ rows, schema });
    expect(excluded.batch.rows[0]).toEqual({ Id: '1', Amount: 1.5 });
  });
});

describe('row templates', () => {
  it('give rows with every key in order, and hasExactKeys tells such rows apart', () => {
    const names = ['Id', 'Name', 'Amount'];
    const row: Row = { ...rowTemplate(names) };
    expect(Object.keys(row)).toEqual(names);
    expect(hasExactKeys(row, names)).toBe(true);
    expect(hasExactKeys({ Id: '1', Name: null }, names)).toBe(false);
    expect(hasExactKeys({ Name: null, Id: '1', Amount: 1 }, names)).toBe(false);
    expect(hasExactKeys({ Id: '1', Name: null, Amount: 1, X: 2 }, names)).toBe(false);
    expect(hasExactKeys({ Id: '1', Name: undefined as unknown as null, Amount: 1 }, names)).toBe(false);
  });
});
