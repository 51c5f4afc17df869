import { describe, expect, it } from 'vitest';
import type { Row } from '../../src/core/types.ts';
import { apply, filter, flowWith, map, plan, problemsOf, projection } from './helpers.ts';
import { checkFlow } from '../../src/flows/validate.ts';
import { compileFlow } from '../../src/flows/compile.ts';

const rows: Row[] = [
  { Id: 'a', Name: 'Acme', Revenue: 100, Rating: 'Hot', Active: true, Closed: '2024-01-01T00:00:00.000Z', Day: '2024-01-01' },
  { Id: 'b', Name: 'Globex', Revenue: 250.5, Rating: 'Warm', Active: false, Closed: '2024-01-02T12:00:00.000Z', Day: '2024-01-02' },
  { Id: 'c', Name: 'Ünïcørn 😀', Revenue: null, Rating: null, Active: null, Closed: null, Day: null },
  { Id: 'd', Name: '', Revenue: '300', Rating: 'Cold', Active: 'true', Closed: '2024-01-03T00:00:00.000+0000', Day: '2024-01-03' },
];
const ids = (tasks: Record<string, unknown>[]): string[] =>
  apply([projection('Id', 'Name', 'Revenue', 'Rating', 'Active', 'Closed', 'Day'), map('Id'), ...tasks], rows).batch.rows.map((r) => String(r.Id));

const JAN1 = String(Date.UTC(2024, 0, 1));
const JAN2 = String(Date.UTC(2024, 0, 2));
const JAN3 = String(Date.UTC(2024, 0, 3));

describe('Filter operators in the engine', () => {
  const table: [string, string, Record<string, string>, string[]][] = [
    ['Name', 'EQUAL_TO', { DATA_TYPE: 'string', VALUE: 'Acme' }, ['a']],
    ['Name', 'EQUAL_TO', { DATA_TYPE: 'string', VALUE: 'acme' }, []],
    ['Name', 'EQUAL_TO', { DATA_TYPE: 'string', VALUES: 'Acme,Globex' }, ['a', 'b']],
    ['Name', 'EQUAL_TO', { DATA_TYPE: 'string', VALUES: '["Ünïcørn 😀","x,y"]' }, ['c']],
    ['Rating', 'NOT_EQUAL_TO', { DATA_TYPE: 'picklist', VALUE: 'Hot' }, ['b', 'c', 'd']],
    ['Rating', 'NOT_EQUAL_TO', { DATA_TYPE: 'picklist', VALUES: 'Hot,Cold' }, ['b', 'c']],
    ['Name', 'CONTAINS', { DATA_TYPE: 'string', VALUE: 'cør' }, ['c']],
    ['Name', 'CONTAINS', { DATA_TYPE: 'string', VALUES: 'Ac,lob' }, ['a', 'b']],
    ['Revenue', 'GREATER_THAN', { DATA_TYPE: 'double', VALUE: '100' }, ['b', 'd']],
    ['Revenue', 'GREATER_THAN_OR_EQUAL_TO', { DATA_TYPE: 'double', VALUE: '100' }, ['a', 'b', 'd']],
    ['Revenue', 'LESS_THAN', { DATA_TYPE: 'currency', VALUE: '250.5' }, ['a']],
    ['Revenue', 'LESS_THAN_OR_EQUAL_TO', { DATA_TYPE: 'currency', VALUE: '250.5' }, ['a', 'b']],
    ['Revenue', 'EQUAL_TO', { DATA_TYPE: 'int', VALUE: '300' }, ['d']],
    ['Revenue', 'BETWEEN', { DATA_TYPE: 'double', LOWER_BOUND: '100', UPPER_BOUND: '300' }, ['b']],
    ['Active', 'EQUAL_TO', { DATA_TYPE: 'boolean', VALUE: 'true' }, ['a', 'd']],
    ['Active', 'NOT_EQUAL_TO', { DATA_TYPE: 'boolean', VALUE: 'TRUE' }, ['b', 'c']],
    ['Closed', 'GREATER_THAN', { DATA_TYPE: 'datetime', VALUE: JAN1 }, ['b', 'd']],
    ['Closed', 'LESS_THAN_OR_EQUAL_TO', { DATA_TYPE: 'datetime', VALUE: JAN1 }, ['a']],
    ['Closed', 'EQUAL_TO', { DATA_TYPE: 'datetime', VALUE: JAN3 }, ['d']],
    ['Closed', 'BETWEEN', { DATA_TYPE: 'datetime', LOWER_BOUND: JAN1, UPPER_BOUND: JAN3 }, ['b']],
    ['Closed', 'GREATER_THAN', { DATA_TYPE: 'datetime', VALUE: '2024-01-02T00:00:00Z' }, ['b', 'd']],
    ['Day', 'EQUAL_TO', { DATA_TYPE: 'date', VALUE: JAN2 }, ['b']],
    ['Day', 'GREATER_THAN', { DATA_TYPE: 'date', VALUE: JAN1 }, ['b', 'd']],
  ];
  it.each(table)('%s %s %j -> %j', (field, op, props, expected) => {
    expect(ids([filter(field, op, props)])).toEqual(expected);
  });

  it('ANDs separate Filter tasks and ORs the values of one', () => {
    expect(ids([
      filter('Rating', 'EQUAL_TO', { DATA_TYPE: 'string', VALUES: 'Hot,Warm,Cold' }),
      filter('Revenue', 'GREATER_THAN', { DATA_TYPE: 'double', VALUE: '150' }),
    ])).toEqual(['b', 'd']);
  });

  it('counts filtered records', () => {
    const r = apply([projection('Id', 'Rating'), map('Id'), filter('Rating', 'EQUAL_TO', { DATA_TYPE: 'string', VALUE: 'Hot' })], rows);
    expect(r.filtered).toBe(3);
    expect(r.dropped).toBe(0);
    expect(r.batch.rows).toEqual([{ Id: 'a' }]);
  });

  it('treats numbers written as text like numbers and skips non-numeric text', () => {
    const r = apply([projection('Id', 'N'), map('Id'), filter('N', 'GREATER_THAN', { DATA_TYPE: 'double', VALUE: '9' })],
      [{ Id: 'x', N: '10' }, { Id: 'y', N: 'ten' }, { Id: 'z', N: '9.0' }]);
    expect(r.batch.rows.map((x) => x.Id)).toEqual(['x']);
  });
});

describe('Filter pushdown', () => {
  const sf = (tasks: Record<string, unknown>[]) => {
    const fixed = tasks.map((t) => ({ ...t, connectorOperator: { Salesforce: Object.values(t.connectorOperator as object)[0] } }));
    const r = checkFlow(flowWith(fixed, 'Salesforce'));
    if (!r.ok || !r.flow) throw new Error(JSON.stringify(r.problems));
    return compileFlow(r.flow);
  };

  it('pushes every predicate down for a Salesforce source, typed, with BETWEEN as two exclusive comparisons', () => {
    const p = sf([
      projection('Id', 'CloseDate'), map('Id'),
      filter('CloseDate', 'BETWEEN', { DATA_TYPE: 'datetime', LOWER_BOUND: JAN1, UPPER_BOUND: JAN3 }),
      filter('Amount', 'GREATER_THAN_OR_EQUAL_TO', { DATA_TYPE: 'currency', VALUE: '10.5' }),
      filter('Stage', 'EQUAL_TO', { DATA_TYPE: 'picklist', VALUES: 'Won,Lost' }),
      filter('Stage', 'NOT_EQUAL_TO', { DATA_TYPE: 'picklist', VALUES: 'A,B' }),
      filter('IsClosed', 'EQUAL_TO', { DATA_TYPE: 'boolean', VALUE: 'false' }),
      filter('Day__c', 'LESS_THAN', { DATA_TYPE: 'date', VALUE: JAN2 }),
      filter('Name', 'CONTAINS', { DATA_TYPE: 'string', VALUE: "O'Brien" }),
    ]);
    expect(p.read.filters).toEqual([
      { field: 'CloseDate', operator: 'GREATER_THAN', values: ['2024-01-01T00:00:00.000Z'] },
      { field: 'CloseDate', operator: 'LESS_THAN', values: ['2024-01-03T00:00:00.000Z'] },
      { field: 'Amount', operator: 'GREATER_THAN_OR_EQUAL_TO', values: [10.5] },
      { field: 'Stage', operator: 'EQUAL_TO', values: ['Won', 'Lost'] },
      { field: 'Stage', operator: 'NOT_EQUAL_TO', values: ['A'] },
      { field: 'Stage', operator: 'NOT_EQUAL_TO', values: ['B'] },
      { field: 'IsClosed', operator: 'EQUAL_TO', values: [false] },
      { field: 'Day__c', operator: 'LESS_THAN', values: ['2024-01-02'] },
      { field: 'Name', operator: 'CONTAINS', values: ["O'Brien"] },
    ]);
    expect(p.engineFilterCount).toBe(0);
    // Filtered at the source: the engine keeps every record it is given.
    const out = p.transform({ rows: [{ Id: '1', CloseDate: null }], schema: { entity: 'Account', fields: [{ name: 'Id', type: 'id' }, { name: 'CloseDate', type: 'datetime' }] } });
    expect(out.batch.rows).toEqual([{ Id: '1' }]);
  });

  it('pushes nothing down for a file source and reads the filter fields', () => {
    const p = plan([projection('Id'), map('Id'), filter('Rating', 'EQUAL_TO', { DATA_TYPE: 'string', VALUE: 'Hot' })]);
    expect(p.read.filters).toBeUndefined();
    expect(p.engineFilterCount).toBe(1);
    expect(p.read.fields).toEqual(['Id', 'Rating']);
  });
});

describe('Filter definition errors', () => {
  const table: [Record<string, string>, string, string][] = [
    [{ DATA_TYPE: 'double', VALUE: 'abc' }, 'GREATER_THAN', 'tasks[2].taskProperties.VALUE'],
    [{ DATA_TYPE: 'datetime', VALUE: 'yesterday' }, 'GREATER_THAN', 'tasks[2].taskProperties.VALUE'],
    [{ DATA_TYPE: 'boolean', VALUE: 'yes' }, 'EQUAL_TO', 'tasks[2].taskProperties.VALUE'],
    [{ VALUE: 'x' }, 'EQUAL_TO', 'tasks[2].taskProperties'],
    [{ DATA_TYPE: 'string', VALUE: '' }, 'EQUAL_TO', 'tasks[2].taskProperties.VALUE'],
    [{ DATA_TYPE: 'strng', VALUE: 'x' }, 'EQUAL_TO', 'tasks[2].taskProperties.DATA_TYPE'],
    [{ DATA_TYPE: 'string' }, 'EQUAL_TO', 'tasks[2].taskProperties'],
    [{ DATA_TYPE: 'double', LOWER_BOUND: '5' }, 'BETWEEN', 'tasks[2].taskProperties'],
    [{ DATA_TYPE: 'double', LOWER_BOUND: '5', UPPER_BOUND: '5' }, 'BETWEEN', 'tasks[2].taskProperties'],
    [{ DATA_TYPE: 'double', VALUE: '5' }, 'CONTAINS', 'tasks[2].connectorOperator'],
    [{ DATA_TYPE: 'string', VALUE: 'x' }, 'NO_OP', 'tasks[2].connectorOperator'],
    [{ DATA_TYPE: 'string', VALUE: 'x' }, 'ADDITION', 'tasks[2].connectorOperator'],
  ];
  it.each(table)('%j with %s is reported at %s', (props, op, path) => {
    const problems = problemsOf([projection('Id'), map('Id'), filter('X', op, props)]);
    expect(problems.map((p) => p.path)).toContain(path);
    for (const p of problems) expect(p.message).toMatch(/\.\s*[A-Z].*\.$/);
  });

  it("uses AppFlow's message for NO_OP", () => {
    const [p] = problemsOf([projection('Id'), map('Id'), filter('X', 'NO_OP', {})]);
    expect(p?.message).toContain('The operator NO_OP is not valid for filtering tasks');
  });
});
