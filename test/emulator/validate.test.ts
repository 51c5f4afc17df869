import { describe, expect, it } from 'vitest';
import { checkValue, parseDate, parseDateTime, parseTime } from '../../src/emulator/org/validate.ts';
import type { DescribeField } from '../../src/emulator/org/schema.ts';

describe('write value parsing (canonical text takes a fast path; the answers are the general rules)', () => {
  it('dates: real calendar days only, leap years by the Gregorian rule, years before 100 refused', () => {
    expect(parseDate('2024-02-29', true, false)).toBe('2024-02-29');
    expect(parseDate('2023-02-29', true, false)).toBeUndefined();
    expect(parseDate('1900-02-29', true, false)).toBeUndefined();
    expect(parseDate('2000-02-29', true, false)).toBe('2000-02-29');
    expect(parseDate('2024-04-31', true, false)).toBeUndefined();
    expect(parseDate('2024-00-10', true, false)).toBeUndefined();
    expect(parseDate('2024-13-01', true, false)).toBeUndefined();
    expect(parseDate('0050-01-01', true, false)).toBeUndefined();
    expect(parseDate('0999-12-31', true, false)).toBe('0999-12-31');
    expect(parseDate('2024-01-05Z', true, false)).toBe('2024-01-05');
    expect(parseDate('2024-1-05', true, false)).toBeUndefined();
  });

  it('datetimes: canonical ISO text is kept, other forms are normalised to it, out-of-range parts refused', () => {
    expect(parseDateTime('2024-02-29T23:59:59.999Z')).toBe('2024-02-29T23:59:59.999Z');
    expect(parseDateTime('2023-02-29T10:00:00.000Z')).toBeUndefined();
    expect(parseDateTime('2024-03-01T24:00:00.000Z')).toBeUndefined();
    expect(parseDateTime('2024-03-01T10:60:00.000Z')).toBeUndefined();
    expect(parseDateTime('2024-03-01T10:00:60.000Z')).toBeUndefined();
    expect(parseDateTime('2024-03-01T10:00:00Z')).toBe('2024-03-01T10:00:00.000Z');
    expect(parseDateTime('2024-03-01T10:00:00.000+02:00')).toBe('2024-03-01T08:00:00.000Z');
    expect(parseDateTime('2024-03-01')).toBe('2024-03-01T00:00:00.000Z');
    expect(parseDateTime('2024-03-01T1a:00:00.000Z')).toBeUndefined();
  });

  it('times: HH:mm:ss.SSSZ kept, shorter forms completed, out-of-range refused', () => {
    expect(parseTime('23:59:59.999Z')).toBe('23:59:59.999Z');
    expect(parseTime('24:00:00.000Z')).toBeUndefined();
    expect(parseTime('10:11')).toBe('10:11:00.000Z');
    expect(parseTime('10:11:12.5')).toBe('10:11:12.500Z');
  });

  it('text length counts code points: an emoji is one character, a lone surrogate one', () => {
    const f = { name: 'T__c', label: 'T', type: 'string', length: 3 } as unknown as DescribeField;
    expect(checkValue(f, 'a🙂b')).toEqual({ ok: true, value: 'a🙂b' });
    expect(checkValue(f, 'a\ud800bc').ok).toBe(false);
    expect(checkValue(f, '🙂🙂🙂')).toEqual({ ok: true, value: '🙂🙂🙂' });
    expect(checkValue(f, '🙂🙂🙂🙂').ok).toBe(false);
  });
});
