import { describe, expect, it } from 'vitest';
import type { Row } from '../../src/core/types.ts';
import { apply, filter, map, problemsOf, projection, task } from './helpers.ts';

/**
 * Every task kind on fields named like Object.prototype's properties: the transform reads and writes them as
 * ordinary keys (a plain-object work row or output row would turn __proto__ into {} and read toString as a function).
 */
const row = (json: string): Row => Object.setPrototypeOf(JSON.parse(json), null) as Row;

describe('tasks on fields named __proto__, constructor, toString, valueOf ...', () => {
  it('Filter, Validate, Mask, Truncate, Merge, Arithmetic and Map all see the values', () => {
    const rows = [
      row('{"__proto__":"keep","constructor":"secret","toString":"t1","hasOwnProperty":"abcdef","valueOf":2,"isPrototypeOf":3}'),
      row('{"__proto__":"keep","constructor":"secret","toString":null,"hasOwnProperty":"x","valueOf":1,"isPrototypeOf":1}'),
      row('{"__proto__":"drop","constructor":"secret","toString":"t3","hasOwnProperty":"x","valueOf":1,"isPrototypeOf":1}'),
    ];
    const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'];
    const result = apply([
      projection(...names),
      filter('__proto__', 'EQUAL_TO', { DATA_TYPE: 'string', VALUE: 'keep' }),
      task('Validate', ['toString'], 'VALIDATE_NON_NULL', { VALIDATION_ACTION: 'DropRecord' }),
      task('Mask', ['constructor'], 'MASK_ALL', { MASK_VALUE: '#' }),
      task('Truncate', ['hasOwnProperty'], 'NO_OP', { TRUNCATE_LENGTH: '2' }),
      task('Merge', ['__proto__', 'toString'], 'NO_OP', { CONCAT_FORMAT: '${__proto__}/${toString}' }, '__defineGetter__'),
      task('Arithmetic', ['valueOf', 'isPrototypeOf'], 'ADDITION', {}, '__lookupGetter__'),
      ...names.map((n) => map(n, n)),
    ], rows);
    expect(result.filtered).toBe(1);
    expect(result.dropped).toBe(1);
    expect(result.batch.schema.fields.map((f) => f.name)).toEqual(['__defineGetter__', '__lookupGetter__', ...names]); // task order: Merge and Arithmetic come first
    expect(result.batch.rows).toHaveLength(1);
    const out = result.batch.rows[0] as Row;
    expect(Object.getPrototypeOf(out)).toBeNull();
    expect(JSON.stringify(out)).toBe('{"__defineGetter__":"keep/t1","__lookupGetter__":5,"__proto__":"keep","constructor":"######","toString":"t1","hasOwnProperty":"ab","valueOf":2,"isPrototypeOf":3}');
  });

  it('a data type or validation action spelled like an Object.prototype name is refused, not taken as a function', () => {
    const problems = problemsOf([
      projection('A'),
      map('A', 'B', { DESTINATION_DATA_TYPE: 'constructor' }),
      task('Validate', ['A'], 'VALIDATE_NON_NULL', { VALIDATION_ACTION: 'toString' }),
    ]);
    expect(problems.map((p) => p.path)).toEqual(expect.arrayContaining(['tasks[1].taskProperties.DESTINATION_DATA_TYPE', 'tasks[2].taskProperties.VALIDATION_ACTION']));
  });
});
