import { describe, expect, it } from 'vitest';
import { clean, convertValue, parseDataType, toEpochMillis, toNumber } from '../../src/mapping/convert.ts';
import type { FieldType, FieldValue } from '../../src/core/types.ts';

describe('convertValue', () => {
  const cases: [FieldValue | undefined, FieldType, FieldValue][] = [
    [null, 'string', null],
    [undefined, 'double', null],
    [42, 'string', '42'],
    [12.5, 'string', '12.5'],
    [1e21, 'string', '1e+21'],
    [true, 'string', 'true'],
    [{ city: 'Paris', street: null }, 'string', '{"city":"Paris","street":null}'],
    ['', 'string', ''],
    ['', 'double', null],
    ['', 'boolean', null],
    ['12.5', 'double', 12.5],
    [' -3e2 ', 'double', -300],
    ['12abc', 'double', null],
    ['NaN', 'double', null],
    ['Infinity', 'currency', null],
    ['1,000', 'double', null],
    [12.7, 'int', 12],
    [-12.7, 'int', -12],
    ['-0.4', 'int', 0],
    ['99', 'long', 99],
    [2147483647, 'int', 2147483647],
    [3e9, 'int', null],
    [-2147483649, 'int', null],
    [3e9, 'long', 3e9],
    [1e20, 'long', null],
    [true, 'int', 1],
    [false, 'double', 0],
    ['TRUE', 'boolean', true],
    ['no', 'boolean', false],
    ['0', 'boolean', false],
    [3, 'boolean', true],
    ['maybe', 'boolean', null],
    ['2024-04-16T19:00:00.000+0000', 'datetime', '2024-04-16T19:00:00.000Z'],
    ['2024-04-16T21:00:00+02:00', 'datetime', '2024-04-16T19:00:00.000Z'],
    ['2024-04-16', 'datetime', '2024-04-16T00:00:00.000Z'],
    [1713294000000, 'datetime', '2024-04-16T19:00:00.000Z'],
    ['1713294000000', 'datetime', '2024-04-16T19:00:00.000Z'],
    ['2024-04-16T23:30:00.000Z', 'date', '2024-04-16'],
    ['2024-04-16', 'date', '2024-04-16'],
    ['not a date', 'date', null],
    ['13:05', 'time', '13:05:00.000Z'],
    ['13:05:09.5Z', 'time', '13:05:09.500Z'],
    ['{"latitude":1.5,"longitude":2}', 'location', { latitude: 1.5, longitude: 2 }],
    ['oops', 'address', null],
    ['ünïcødé 😀', 'textarea', 'ünïcødé 😀'],
  ];
  it.each(cases)('%j -> %s = %j', (value, type, expected) => {
    expect(convertValue(value, type)).toEqual(expected);
  });
});

describe('helpers', () => {
  it('parses data type names case-insensitively with aliases', () => {
    expect(parseDataType('String')).toBe('string');
    expect(parseDataType('integer')).toBe('int');
    expect(parseDataType('TIMESTAMP')).toBe('datetime');
    expect(parseDataType('strnig')).toBeUndefined();
  });
  it('reads numbers only from numbers and numeric text', () => {
    expect(toNumber('  7 ')).toBe(7);
    expect(toNumber('.5')).toBe(0.5);
    expect(toNumber('')).toBeUndefined();
    expect(toNumber(true)).toBeUndefined();
    expect(toNumber(null)).toBeUndefined();
  });
  it('removes floating-point noise but keeps integers', () => {
    expect(clean(1.1 * 3)).toBe(3.3);
    expect(clean(2 ** 53)).toBe(2 ** 53);
  });
  it('reads epoch milliseconds from Salesforce and ISO forms', () => {
    expect(toEpochMillis('2024-01-01T00:00:00.000+0000')).toBe(1704067200000);
    expect(toEpochMillis('1704067200000')).toBe(1704067200000);
    expect(toEpochMillis('')).toBeUndefined();
  });
});

describe('convertValue: odd date and time text', () => {
  it('reads a datetime without a zone as UTC, whatever the machine time zone', () => {
    const saved = process.env.TZ;
    try {
      process.env.TZ = 'America/New_York';
      expect(convertValue('2024-04-16T19:00:00', 'datetime')).toBe('2024-04-16T19:00:00.000Z');
      expect(convertValue('2024-04-16 19:00:00', 'datetime')).toBe('2024-04-16T19:00:00.000Z');
      expect(convertValue('2024-04-16T23:30', 'date')).toBe('2024-04-16');
      expect(toEpochMillis('2024-04-16T19:00:00.5')).toBe(Date.UTC(2024, 3, 16, 19, 0, 0, 500));
    } finally {
      if (saved === undefined) delete process.env.TZ; else process.env.TZ = saved;
    }
  });

  it('gives null for text that is not an ISO date, not whatever Date.parse guesses', () => {
    for (const s of ['March 7', 'Tue Apr 16 2024', '2024-02-30', '2024-13-01', '2024-04-16T25:00:00Z', '16/04/2024']) {
      expect(convertValue(s, 'datetime'), s).toBeNull();
      expect(convertValue(s, 'date'), s).toBeNull();
    }
  });

  it('keeps microseconds to milliseconds and rejects impossible times', () => {
    expect(convertValue('12:30:00.123456Z', 'time')).toBe('12:30:00.123Z');
    expect(convertValue('25:99', 'time')).toBeNull();
    expect(convertValue('2024-04-16T19:00:00.123456Z', 'datetime')).toBe('2024-04-16T19:00:00.123Z');
  });
});
