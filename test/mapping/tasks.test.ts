import { describe, expect, it } from 'vitest';
import { isForceflowError } from '../../src/core/errors.ts';
import type { Row } from '../../src/core/types.ts';
import { createRegistry } from '../../src/connectors/registry.ts';
import { localFileConnector } from '../../src/connectors/local-file/index.ts';
import { s3Connector } from '../../src/connectors/s3/index.ts';
import { salesforceConnector } from '../../src/connectors/salesforce/index.ts';
import { checkFlow } from '../../src/flows/validate.ts';
import { apply, flowWith, map, plan, problemsOf, projection, schemaOf, task } from './helpers.ts';

const one = (tasks: Record<string, unknown>[], row: Row, types = {}): Row | undefined => apply(tasks, [row], types).batch.rows[0];

describe('Map', () => {
  it('renames and converts to DESTINATION_DATA_TYPE', () => {
    const out = one([
      projection('Id', 'Amount', 'Count', 'When', 'Flag'),
      map('Id', 'AccountId', { SOURCE_DATA_TYPE: 'id', DESTINATION_DATA_TYPE: 'string' }),
      map('Amount', 'AmountText', { SOURCE_DATA_TYPE: 'double', DESTINATION_DATA_TYPE: 'string' }),
      map('Count', 'Count', { SOURCE_DATA_TYPE: 'string', DESTINATION_DATA_TYPE: 'int' }),
      map('When', 'WhenDay', { SOURCE_DATA_TYPE: 'datetime', DESTINATION_DATA_TYPE: 'date' }),
      map('Flag', 'Flag', { SOURCE_DATA_TYPE: 'string', DESTINATION_DATA_TYPE: 'boolean' }),
    ], { Id: '001', Amount: 12.5, Count: '7.9', When: '2024-05-01T23:00:00.000Z', Flag: 'true' });
    expect(out).toEqual({ AccountId: '001', AmountText: '12.5', Count: 7, WhenDay: '2024-05-01', Flag: true });
  });

  it('writes only mapped fields, in task order, and keeps source types without a conversion', () => {
    const p = plan([projection('A', 'B', 'C'), map('C'), map('A', 'Alpha')]);
    const r = p.transform({ rows: [{ A: 1, B: 2, C: 'x' }], schema: schemaOf([{ A: 1, B: 2, C: 'x' }]) });
    expect(r.batch.rows).toEqual([{ C: 'x', Alpha: 1 }]);
    expect(Object.keys(r.batch.rows[0] ?? {})).toEqual(['C', 'Alpha']);
    expect(r.batch.schema.fields).toEqual([{ name: 'C', type: 'string' }, { name: 'Alpha', type: 'double' }]);
  });

  it('turns invalid numbers into null rather than failing', () => {
    expect(one([projection('N'), map('N', 'N', { DESTINATION_DATA_TYPE: 'double' })], { N: 'n/a' })).toEqual({ N: null });
  });

  it('matches field names case-insensitively when the source spells them differently', () => {
    expect(one([projection('name'), map('name', 'Name')], { Name: 'Acme' })).toEqual({ Name: 'Acme' });
  });

  it('fails with FIELD_NOT_FOUND when the source has no such field', () => {
    const p = plan([projection('Id', 'Nope'), map('Nope')]);
    let caught: unknown;
    try { p.transform({ rows: [{ Id: '1' }], schema: schemaOf([{ Id: '1' }]) }); } catch (e) { caught = e; }
    expect(isForceflowError(caught, 'FIELD_NOT_FOUND')).toBe(true);
    expect((caught as Error).message).toContain('"Nope"');
  });
});

describe('binding to the input schema', () => {
  it('binds task kinds in the order their steps run, so the first missing field named is the earliest step\'s', () => {
    // Arithmetic comes first in the array but runs after Mask; the Validate check runs before both.
    const tasks = [projection('Id', 'A', 'B', 'C', 'V'), task('Arithmetic', ['A', 'B'], 'ADDITION', undefined, 'Total'),
      task('Mask', ['C'], 'MASK_ALL'), map('Id'), map('Total')];
    const missing = (extra: Record<string, unknown>[]): string => {
      const p = plan([...tasks, ...extra]);
      let caught: unknown;
      try { p.transform({ rows: [{ Id: '1' }], schema: schemaOf([{ Id: '1' }]) }); } catch (e) { caught = e; }
      expect(isForceflowError(caught, 'FIELD_NOT_FOUND')).toBe(true);
      return (caught as Error).message;
    };
    expect(missing([])).toMatch(/^tasks\[2\] names the field "C"/);
    expect(missing([task('Truncate', ['V'], 'NO_OP', { TRUNCATE_LENGTH: '2' })])).toMatch(/^tasks\[2\] names the field "C"/);
    expect(missing([task('Filter', ['V'], 'EQUAL_TO', { DATA_TYPE: 'string', VALUE: 'x' })])).toMatch(/^tasks\[5\] names the field "V"/);
  });
});

describe('Map_all', () => {
  const row = { Id: '1', Name: 'Acme', Fax: '555', Phone: '123' };
  it('maps every field but the excluded ones, keeping source order and types', () => {
    const p = plan([task('Map_all', [], 'NO_OP', { EXCLUDE_SOURCE_FIELDS_LIST: '["Fax"]' })]);
    expect(p.read.fields).toBeUndefined();
    expect(p.read.excludeFields).toEqual(['Fax']);
    const r = p.transform({ rows: [row], schema: schemaOf([row]) });
    expect(r.batch.rows).toEqual([{ Id: '1', Name: 'Acme', Phone: '123' }]);
  });
  it('accepts the empty list, and lets an explicit Map override a field', () => {
    const out = one([task('Map_all', [], 'NO_OP', { EXCLUDE_SOURCE_FIELDS_LIST: '[]' }), map('Phone', 'Phone', { DESTINATION_DATA_TYPE: 'int' })], row);
    expect(out).toEqual({ Id: '1', Name: 'Acme', Fax: '555', Phone: 123 });
  });
  it('with a projection, maps only the projected fields', () => {
    expect(one([projection('Id', 'Name'), task('Map_all', [], 'NO_OP')], row)).toEqual({ Id: '1', Name: 'Acme' });
  });
  it('rejects sourceFields and a malformed exclusion list', () => {
    expect(problemsOf([task('Map_all', ['Id'], 'NO_OP')]).map((p) => p.path)).toContain('tasks[0].sourceFields');
    expect(problemsOf([task('Map_all', [], 'NO_OP', { EXCLUDE_SOURCE_FIELDS_LIST: '["Fax"' })]).map((p) => p.path)).toContain('tasks[0].taskProperties.EXCLUDE_SOURCE_FIELDS_LIST');
  });
});

describe('Merge', () => {
  const tasks = (format?: string, dest?: string) => [
    projection('First', 'Last'),
    task('Merge', ['First', 'Last'], 'NO_OP', format === undefined ? undefined : { CONCAT_FORMAT: format }, dest),
  ];
  const table: [string | undefined, Row, Row][] = [
    ['${Last}, ${First}', { First: 'Ada', Last: 'Lovelace' }, { 'First,Last': 'Lovelace, Ada' }],
    ['{First} {Last}', { First: 'Zoë', Last: '😀' }, { 'First,Last': 'Zoë 😀' }],
    [undefined, { First: 'A', Last: 'B' }, { 'First,Last': 'AB' }],
    ['${First}-${Last}', { First: null, Last: 'B' }, { 'First,Last': '-B' }],
    ['${First}-${Last}', { First: null, Last: null }, { 'First,Last': null }],
    ['${First}#${Last}', { First: 1.5, Last: true }, { 'First,Last': '1.5#true' }],
  ];
  it.each(table)('%s on %j', (format, row, expected) => {
    expect(one(tasks(format), row)).toEqual(expected);
  });
  it('works with the temporary field pattern: Merge into "F1,F2" then Map to the real field', () => {
    const out = one([
      projection('First', 'Last'),
      task('Merge', ['First', 'Last'], 'NO_OP', { CONCAT_FORMAT: '${First} ${Last}' }, 'First,Last'),
      map('First,Last', 'FullName', { SOURCE_DATA_TYPE: 'string', DESTINATION_DATA_TYPE: 'string' }),
    ], { First: 'Ada', Last: 'Lovelace' });
    expect(out).toEqual({ FullName: 'Ada Lovelace' });
  });
  it('rejects a placeholder that is not a source field', () => {
    const [p] = problemsOf(tasks('${First} ${Middle}'));
    expect(p?.path).toBe('tasks[1].taskProperties.CONCAT_FORMAT');
    expect(p?.message).toContain('"Middle"');
  });
});

describe('Arithmetic', () => {
  const calc = (op: string, a: unknown, b: unknown, order?: string) => one([
    projection('A', 'B'),
    task('Arithmetic', ['A', 'B'], op, order ? { MATH_OPERATION_FIELDS_ORDER: order } : undefined, 'A,B'),
    map('A,B', 'R', { SOURCE_DATA_TYPE: 'string', DESTINATION_DATA_TYPE: 'double' }),
  ], { A: a as number, B: b as number })?.R;
  const table: [string, unknown, unknown, string | undefined, unknown][] = [
    ['ADDITION', 0.1, 0.2, undefined, 0.3],
    ['SUBTRACTION', 10, 4, undefined, 6],
    ['SUBTRACTION', 10, 4, 'B,A', -6],
    ['MULTIPLICATION', '2.5', 4, undefined, 10],
    ['DIVISION', 1, 3, undefined, 0.333333333333333],
    ['DIVISION', 1, 0, undefined, null],
    ['DIVISION', 0, 5, undefined, 0],
    ['ADDITION', null, 1, undefined, null],
    ['ADDITION', 'abc', 1, undefined, null],
    ['ADDITION', '', 1, undefined, null],
  ];
  it.each(table)('%s %j %j (order %s) = %j', (op, a, b, order, expected) => {
    expect(calc(op, a, b, order)).toBe(expected);
  });
  it('writes an unconsumed destination straight to the output as a double', () => {
    const p = plan([projection('A', 'B'), task('Arithmetic', ['A', 'B'], 'ADDITION', undefined, 'Total')]);
    const r = p.transform({ rows: [{ A: 1, B: 2 }], schema: schemaOf([{ A: 1, B: 2 }]) });
    expect(r.batch.rows).toEqual([{ Total: 3 }]);
    expect(r.batch.schema.fields).toEqual([{ name: 'Total', type: 'double' }]);
  });
  it('rejects a field order that does not name the source fields, and one operand', () => {
    expect(problemsOf([projection('A', 'B'), task('Arithmetic', ['A', 'B'], 'ADDITION', { MATH_OPERATION_FIELDS_ORDER: 'A,C' }, 'X')])[0]?.path).toBe('tasks[1].taskProperties.MATH_OPERATION_FIELDS_ORDER');
    expect(problemsOf([projection('A'), task('Arithmetic', ['A'], 'ADDITION', undefined, 'X')])[0]?.path).toBe('tasks[1].sourceFields');
  });
});

describe('Mask', () => {
  const masked = (op: string, value: unknown, props: Record<string, string>) =>
    one([projection('P'), task('Mask', ['P'], op, props), map('P')], { P: value as string })?.P;
  const table: [string, unknown, Record<string, string>, unknown][] = [
    ['MASK_ALL', 'secret', { MASK_LENGTH: '5', MASK_VALUE: '*' }, '******'],
    ['MASK_ALL', 'abc', {}, '***'],
    ['MASK_FIRST_N', '4111111111111111', { MASK_LENGTH: '12', MASK_VALUE: 'X' }, 'XXXXXXXXXXXX1111'],
    ['MASK_LAST_N', '555-1234', { MASK_LENGTH: '5', MASK_VALUE: '*' }, '555*****'],
    ['MASK_LAST_N', 'ab', { MASK_LENGTH: '5' }, '**'],
    ['MASK_FIRST_N', 'Zoë😀x', { MASK_LENGTH: '4', MASK_VALUE: '#' }, '####x'],
    ['MASK_ALL', '😀😀', { MASK_VALUE: '•' }, '••'],
    ['MASK_ALL', '', {}, ''],
    ['MASK_ALL', null, {}, null],
    ['MASK_LAST_N', 12345, { MASK_LENGTH: '2' }, '123**'],
  ];
  it.each(table)('%s %j %j = %j', (op, value, props, expected) => {
    expect(masked(op, value, props)).toBe(expected);
  });
  it('rejects a bad MASK_LENGTH and a multi-character MASK_VALUE', () => {
    const [p] = problemsOf([projection('P'), map('P'), task('Mask', ['P'], 'MASK_FIRST_N', { MASK_LENGTH: 'x' })]);
    expect(`${p?.path}: ${p?.message}`).toBe('tasks[2].taskProperties.MASK_LENGTH: expected a positive integer, got "x". Set it to the number of characters to mask.');
    expect(problemsOf([projection('P'), map('P'), task('Mask', ['P'], 'MASK_ALL', { MASK_VALUE: '**' })])[0]?.path).toBe('tasks[2].taskProperties.MASK_VALUE');
  });
  it('masks before Merge, so a merged value never shows the masked characters', () => {
    const out = one([
      projection('Name', 'Phone'),
      task('Mask', ['Phone'], 'MASK_LAST_N', { MASK_LENGTH: '4' }),
      task('Merge', ['Name', 'Phone'], 'NO_OP', { CONCAT_FORMAT: '${Name}: ${Phone}' }, 'Contact'),
    ], { Name: 'Ada', Phone: '555-1234' });
    expect(out).toEqual({ Contact: 'Ada: 555-****' });
  });
});

describe('Truncate', () => {
  const cut = (value: unknown, n: string) => one([projection('T'), task('Truncate', ['T'], 'NO_OP', { TRUNCATE_LENGTH: n }), map('T')], { T: value as string })?.T;
  const table: [unknown, string, unknown][] = [
    ['Hello world', '5', 'Hello'],
    ['Hi', '5', 'Hi'],
    ['😀😀😀', '2', '😀😀'],
    ['', '3', ''],
    [null, '3', null],
    [123456, '3', '123'],
    [12, '3', 12],
  ];
  it.each(table)('%j to %s = %j', (value, n, expected) => {
    expect(cut(value, n)).toBe(expected);
  });
  it('rejects a zero or non-numeric TRUNCATE_LENGTH', () => {
    expect(problemsOf([projection('T'), map('T'), task('Truncate', ['T'], 'NO_OP', { TRUNCATE_LENGTH: '0' })])[0]?.path).toBe('tasks[2].taskProperties.TRUNCATE_LENGTH');
    expect(problemsOf([projection('T'), map('T'), task('Truncate', ['T'], 'NO_OP')])[0]?.message).toContain('TRUNCATE_LENGTH is missing');
  });
});

describe('Validate', () => {
  const rows: Row[] = [{ Id: '1', N: 5 }, { Id: '2', N: null }, { Id: '3', N: 0 }, { Id: '4', N: -2 }, { Id: '5', N: 'abc' }, { Id: '6', N: '' }, { Id: '7', N: '-0.5' }];
  const kept = (op: string) => apply([projection('Id', 'N'), map('Id'), task('Validate', ['N'], op, { VALIDATION_ACTION: 'DropRecord' })], rows);
  const table: [string, string[]][] = [
    ['VALIDATE_NON_NULL', ['1', '3', '4', '5', '6', '7']],
    ['VALIDATE_NON_ZERO', ['1', '2', '4', '5', '6', '7']],
    ['VALIDATE_NON_NEGATIVE', ['1', '2', '3', '5', '6']],
    ['VALIDATE_NUMERIC', ['1', '2', '3', '4', '7']],
  ];
  it.each(table)('%s with DropRecord keeps %j', (op, ids) => {
    const r = kept(op);
    expect(r.batch.rows.map((x) => x.Id)).toEqual(ids);
    expect(r.dropped).toBe(rows.length - ids.length);
    expect(r.filtered).toBe(0);
  });
  it.each(['TerminateFlow', 'DropDataset'])('%s ends the run naming the record position and field', (action) => {
    const p = plan([projection('Id', 'N'), map('Id'), task('Validate', ['N'], 'VALIDATE_NON_NULL', { VALIDATION_ACTION: action })]);
    let caught: unknown;
    try { p.transform({ rows, schema: schemaOf(rows) }, { firstIndex: 1000 }); } catch (e) { caught = e; }
    expect(isForceflowError(caught, 'RECORD_VALIDATION_FAILED')).toBe(true);
    const err = caught as Error & { details: Record<string, unknown> };
    expect(err.message).toContain('record 1002 of the run (index 1001)');
    expect(err.message).toContain('field "N"');
    expect(err.details).toMatchObject({ index: 1001, field: 'N', task: 2 });
  });
  it('validates a computed field after Merge/Arithmetic', () => {
    const r = apply([
      projection('A', 'B'),
      task('Arithmetic', ['A', 'B'], 'SUBTRACTION', undefined, 'A,B'),
      task('Validate', ['A,B'], 'VALIDATE_NON_NEGATIVE', { VALIDATION_ACTION: 'DropRecord' }),
      map('A,B', 'Diff', { DESTINATION_DATA_TYPE: 'double' }),
    ], [{ A: 5, B: 3 }, { A: 1, B: 3 }]);
    expect(r.batch.rows).toEqual([{ Diff: 2 }]);
    expect(r.dropped).toBe(1);
  });
  it('rejects a missing or unknown VALIDATION_ACTION', () => {
    expect(problemsOf([projection('Id'), map('Id'), task('Validate', ['Id'], 'VALIDATE_NON_NULL')])[0]?.message).toContain('VALIDATION_ACTION is missing');
    expect(problemsOf([projection('Id'), map('Id'), task('Validate', ['Id'], 'VALIDATE_NON_NULL', { VALIDATION_ACTION: 'Skip' })])[0]?.path).toBe('tasks[2].taskProperties.VALIDATION_ACTION');
  });
});

describe('Passthrough', () => {
  it('copies the value unchanged, even with data types', () => {
    const out = one([projection('A'), task('Passthrough', ['A'], undefined, { DESTINATION_DATA_TYPE: 'int' }, 'B')], { A: '12.7' });
    expect(out).toEqual({ B: '12.7' });
  });
  it('keeps the source name by default', () => {
    expect(one([projection('A'), task('Passthrough', ['A'], 'NO_OP')], { A: 1 })).toEqual({ A: 1 });
  });
});

describe('Partition', () => {
  it('exposes ordered keys and leaves records alone', () => {
    const p = plan([projection('Id', 'Industry', 'Rating'), map('Id'), map('Industry'), map('Rating'), task('Partition', [], undefined, { ORDERED_PARTITION_KEYS_LIST: '["Industry","Rating"]' })]);
    expect(p.partitionKeys).toEqual(['Industry', 'Rating']);
    const r = p.transform({ rows: [{ Id: '1', Industry: null, Rating: 'Hot' }], schema: schemaOf([{ Id: '1', Industry: 'x', Rating: 'Hot' }]) });
    expect(r.batch.rows).toEqual([{ Id: '1', Industry: null, Rating: 'Hot' }]);
  });
  it('accepts a comma-separated list and rejects unmapped keys', () => {
    expect(plan([projection('Id'), map('Id'), task('Partition', [], undefined, { ORDERED_PARTITION_KEYS_LIST: 'Id' })]).partitionKeys).toEqual(['Id']);
    const [p] = problemsOf([projection('Id'), map('Id'), task('Partition', [], undefined, { ORDERED_PARTITION_KEYS_LIST: '["Industry"]' })]);
    expect(p?.message).toContain('"Industry" is not a destination field');
  });
  it('is rejected for a Salesforce destination', () => {
    const problems = problemsOf([projection('Id'), map('Id'), task('Partition', ['Id'], undefined)], 'LocalFile', 'Salesforce');
    expect(problems.map((p) => p.message).join('\n')).toContain('Partition tasks only apply to file destinations');
  });
});

describe('order and purity', () => {
  it('gives the same records whatever the order of the tasks array (only column order follows it)', () => {
    const tasks = [
      projection('Name', 'Phone', 'Amount'),
      task('Truncate', ['Name'], 'NO_OP', { TRUNCATE_LENGTH: '3' }),
      map('Name'), map('Phone'),
      task('Mask', ['Phone'], 'MASK_FIRST_N', { MASK_LENGTH: '3' }),
      task('Validate', ['Amount'], 'VALIDATE_NON_NEGATIVE', { VALIDATION_ACTION: 'DropRecord' }),
    ];
    const rows: Row[] = [{ Name: 'Alexandra', Phone: '555-1234', Amount: 5 }, { Name: 'Bo', Phone: '1', Amount: -1 }];
    const a = apply(tasks, rows);
    const b = apply([...tasks].reverse(), rows);
    expect(a.batch.rows).toEqual(b.batch.rows);
    expect([a.filtered, a.dropped]).toEqual([b.filtered, b.dropped]);
    expect(b.batch.schema.fields.map((f) => f.name)).toEqual(['Phone', 'Name']);
    expect(a.batch.rows).toEqual([{ Name: 'Ale', Phone: '***-1234' }]);
  });
  it('never modifies the input rows', () => {
    const rows: Row[] = [{ P: 'secret' }];
    apply([projection('P'), task('Mask', ['P'], 'MASK_ALL'), map('P')], rows);
    expect(rows).toEqual([{ P: 'secret' }]);
  });
});

describe('connectorOperator keys', () => {
  const filter = (key: string): Record<string, unknown> => ({ taskType: 'Filter', sourceFields: ['A'], connectorOperator: { [key]: 'PROJECTION' } });

  it('are the source connector’s operatorKeys in the registry: LocalFile takes its own and S3’s, Salesforce only its own', () => {
    expect(problemsOf([filter('LocalFile'), map('A')])).toEqual([]);
    expect(problemsOf([filter('S3'), map('A')])).toEqual([]);
    expect(problemsOf([filter('Salesforce'), map('A')]).map((p) => p.path)).toEqual(['tasks[0].connectorOperator.Salesforce']);
    expect(problemsOf([filter('S3'), map('A')], 'Salesforce').map((p) => p.path)).toContain('tasks[0].connectorOperator.S3');
  });

  it('follow a registered connector’s operatorKeys (a LocalFile registered without S3’s key refuses it)', () => {
    const registry = createRegistry([salesforceConnector(), s3Connector(), { ...localFileConnector(), operatorKeys: ['LocalFile'] }]);
    const problems = checkFlow(flowWith([filter('S3'), map('A')]), { registry }).problems;
    expect(problems.map((p) => p.path)).toEqual(['tasks[0].connectorOperator.S3']);
    expect(checkFlow(flowWith([filter('LocalFile'), map('A')]), { registry }).problems).toEqual([]);
  });
});
