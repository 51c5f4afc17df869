import { describe, expect, it } from 'vitest';
import { createSchedule, nextFireTimes, parseScheduleExpression, parseTimezone } from '../../src/flows/schedule.ts';
import type { ScheduleInput } from '../../src/flows/schedule.ts';

const iso = (d: Date): string => d.toISOString();
/** The next `count` fire times after `after`, as ISO strings. */
function fires(input: ScheduleInput, after: string, count = 3): string[] {
  return nextFireTimes(createSchedule(input), { after: new Date(after), count }).map(iso);
}
function refusal(expression: string): string {
  const r = parseScheduleExpression(expression);
  if (r.ok) throw new Error(`${expression} was accepted`);
  return r.message;
}

describe('rate() expressions', () => {
  it.each([
    ['rate(5minutes)', 300], ['rate(1minutes)', 60], ['rate(1 minute)', 60], ['rate(12hours)', 43_200], ['rate(1 hour)', 3600],
    ['rate(2 days)', 172_800], ['rate( 3 days )', 259_200],
  ])('%s is a period of %i seconds', (text, seconds) => {
    const r = parseScheduleExpression(text);
    expect(r.ok && r.value.kind === 'rate' ? r.value.periodSeconds : undefined).toBe(seconds);
  });

  it('refuses periods under a minute, zero, fractions and unknown units, saying what to write', () => {
    expect(refusal('rate(30 seconds)')).toMatch(/at most once a minute.*at least one minute/);
    expect(refusal('rate(0minutes)')).toMatch(/zero.*Use a positive number/);
    expect(refusal('rate(1.5hours)')).toMatch(/"1\.5", which is not a whole number/);
    expect(refusal('rate(2 weeks)')).toMatch(/unit "weeks".*rate\(<n>minutes\)/);
    expect(refusal('RATE(5minutes)')).toMatch(/lower case/);
    expect(refusal('every 5 minutes')).toMatch(/expected rate\(<n>minutes\|hours\|days\)/);
  });

  it('fires at scheduleStartTime and then every period, before scheduleEndTime', () => {
    const input = { expression: 'rate(6hours)', startTime: new Date('2025-01-01T00:00:00Z'), endTime: new Date('2025-01-02T00:00:00Z') };
    expect(fires(input, '2024-12-01T00:00:00Z', 10)).toEqual(['2025-01-01T00:00:00.000Z', '2025-01-01T06:00:00.000Z', '2025-01-01T12:00:00.000Z', '2025-01-01T18:00:00.000Z']);
    // Strictly after `after`: a fire exactly at `after` is not repeated.
    expect(fires(input, '2025-01-01T06:00:00Z', 1)).toEqual(['2025-01-01T12:00:00.000Z']);
  });

  it('without a start time, counts from the activation anchor', () => {
    const schedule = createSchedule({ expression: 'rate(15minutes)' });
    const anchor = new Date('2025-05-05T10:07:00Z');
    expect(nextFireTimes(schedule, { after: new Date('2025-05-05T10:30:00Z'), anchor, count: 2 }).map(iso)).toEqual(['2025-05-05T10:37:00.000Z', '2025-05-05T10:52:00.000Z']);
  });
});

describe('cron() expressions (EventBridge six fields)', () => {
  it('reads day-of-week 1-7 as Sunday-Saturday, and names', () => {
    expect(fires({ expression: 'cron(0 12 ? * 1 *)' }, '2025-01-01T00:00:00Z', 1)).toEqual(['2025-01-05T12:00:00.000Z']); // a Sunday
    expect(fires({ expression: 'cron(0 12 ? * 7 *)' }, '2025-01-01T00:00:00Z', 1)).toEqual(['2025-01-04T12:00:00.000Z']); // a Saturday
    expect(fires({ expression: 'cron(0 12 ? * mon *)' }, '2025-01-01T00:00:00Z', 1)).toEqual(['2025-01-06T12:00:00.000Z']);
    expect(fires({ expression: 'cron(15 8 ? JAN,JUL MON-FRI *)' }, '2025-01-30T00:00:00Z', 4)).toEqual([
      '2025-01-30T08:15:00.000Z', '2025-01-31T08:15:00.000Z', '2025-07-01T08:15:00.000Z', '2025-07-02T08:15:00.000Z',
    ]);
  });

  it('L in day-of-month is the last day (leap years too); LW the last weekday', () => {
    expect(fires({ expression: 'cron(0 12 L * ? *)' }, '2025-01-01T00:00:00Z')).toEqual(['2025-01-31T12:00:00.000Z', '2025-02-28T12:00:00.000Z', '2025-03-31T12:00:00.000Z']);
    expect(fires({ expression: 'cron(0 12 L 2 ? *)' }, '2027-03-01T00:00:00Z', 1)).toEqual(['2028-02-29T12:00:00.000Z']);
    // May 2025 ends on a Saturday: the last weekday is Friday the 30th.
    expect(fires({ expression: 'cron(0 12 LW 5 ? 2025)' }, '2025-01-01T00:00:00Z', 1)).toEqual(['2025-05-30T12:00:00.000Z']);
  });

  it('L in day-of-week alone is Saturday; 6L is the last Friday of the month', () => {
    expect(fires({ expression: 'cron(0 12 ? * L *)' }, '2025-01-01T00:00:00Z', 1)).toEqual(['2025-01-04T12:00:00.000Z']);
    expect(fires({ expression: 'cron(0 12 ? * 6L *)' }, '2025-01-01T00:00:00Z')).toEqual(['2025-01-31T12:00:00.000Z', '2025-02-28T12:00:00.000Z', '2025-03-28T12:00:00.000Z']);
  });

  it('W is the weekday nearest the day, within the month', () => {
    // 2025-02-15 is a Saturday (-> Friday 14th), 2025-06-15 a Sunday (-> Monday 16th).
    expect(fires({ expression: 'cron(0 9 15W 2,6 ? 2025)' }, '2025-01-01T00:00:00Z', 2)).toEqual(['2025-02-14T09:00:00.000Z', '2025-06-16T09:00:00.000Z']);
    // 2025-03-01 is a Saturday: 1W does not go back into February, it is Monday the 3rd.
    expect(fires({ expression: 'cron(0 9 1W 3 ? 2025)' }, '2025-01-01T00:00:00Z', 1)).toEqual(['2025-03-03T09:00:00.000Z']);
  });

  it('# is the nth week day of the month', () => {
    expect(fires({ expression: 'cron(0 12 ? * 3#2 *)' }, '2025-01-01T00:00:00Z', 2)).toEqual(['2025-01-14T12:00:00.000Z', '2025-02-11T12:00:00.000Z']); // second Tuesdays
    expect(fires({ expression: 'cron(0 12 ? * MON#5 *)' }, '2025-01-01T00:00:00Z', 2)).toEqual(['2025-03-31T12:00:00.000Z', '2025-06-30T12:00:00.000Z']); // months with five Mondays
  });

  it('? in day-of-month leaves the choice to day-of-week, and the other way round', () => {
    expect(fires({ expression: 'cron(0 0 1,15 * ? *)' }, '2025-01-01T00:00:00Z')).toEqual(['2025-01-15T00:00:00.000Z', '2025-02-01T00:00:00.000Z', '2025-02-15T00:00:00.000Z']);
    expect(fires({ expression: 'cron(0 0 ? * SAT,SUN *)' }, '2025-01-01T00:00:00Z', 2)).toEqual(['2025-01-04T00:00:00.000Z', '2025-01-05T00:00:00.000Z']);
  });

  it('takes a year field, ranges, lists and a/n steps', () => {
    expect(fires({ expression: 'cron(0 0 1 1 ? 2027)' }, '2025-01-01T00:00:00Z', 3)).toEqual(['2027-01-01T00:00:00.000Z']);
    expect(fires({ expression: 'cron(0 0 1 1 ? 2026-2027,2030)' }, '2025-01-01T00:00:00Z', 5)).toEqual(['2026-01-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z', '2030-01-01T00:00:00.000Z']);
    expect(fires({ expression: 'cron(5/20 * * * ? *)' }, '2025-01-01T00:00:00Z')).toEqual(['2025-01-01T00:05:00.000Z', '2025-01-01T00:25:00.000Z', '2025-01-01T00:45:00.000Z']);
    expect(fires({ expression: 'cron(0 8-10/2 * * ? *)' }, '2025-01-01T00:00:00Z')).toEqual(['2025-01-01T08:00:00.000Z', '2025-01-01T10:00:00.000Z', '2025-01-02T08:00:00.000Z']);
  });

  it("reads the fields in the flow time zone, with EventBridge Scheduler's daylight-saving rules", () => {
    // Europe/Paris springs forward on 2025-03-30 (02:00 CET -> 03:00 CEST): 02:30 does not exist that day,
    // and EventBridge skips the invocation (croner alone would fire at 03:00).
    expect(fires({ expression: 'cron(30 2 * * ? *)', timezone: 'Europe/Paris' }, '2025-03-29T00:00:00Z')).toEqual([
      '2025-03-29T01:30:00.000Z', '2025-03-31T00:30:00.000Z', '2025-04-01T00:30:00.000Z',
    ]);
    // Every 30 minutes through the gap: 01:30 CET, then 03:00 CEST (02:00 and 02:30 do not exist).
    expect(fires({ expression: 'cron(0/30 * * * ? *)', timezone: 'Europe/Paris' }, '2025-03-30T00:00:00Z', 3)).toEqual([
      '2025-03-30T00:30:00.000Z', '2025-03-30T01:00:00.000Z', '2025-03-30T01:30:00.000Z',
    ]);
    // It falls back on 2025-10-26 (03:00 CEST -> 02:00 CET): 02:30 happens twice, and fires once, at the first.
    expect(fires({ expression: 'cron(30 2 * * ? *)', timezone: 'Europe/Paris' }, '2025-10-25T00:00:00Z')).toEqual([
      '2025-10-25T00:30:00.000Z', '2025-10-26T00:30:00.000Z', '2025-10-27T01:30:00.000Z',
    ]);
    // An expression every 30 minutes does not repeat the hour either: 02:00 and 02:30 CEST fire, their CET
    // repeats (01:00Z, 01:30Z) do not, then 03:00 CET (02:00Z).
    expect(fires({ expression: 'cron(0/30 * * * ? *)', timezone: 'Europe/Paris' }, '2025-10-25T23:45:00Z', 5)).toEqual([
      '2025-10-26T00:00:00.000Z', '2025-10-26T00:30:00.000Z', '2025-10-26T02:00:00.000Z', '2025-10-26T02:30:00.000Z', '2025-10-26T03:00:00.000Z',
    ]);
    // 09:00 in New York is 14:00Z in winter and 13:00Z once DST starts (2025-03-09).
    expect(fires({ expression: 'cron(0 9 * * ? *)', timezone: 'America/New_York' }, '2025-03-08T00:00:00Z', 2)).toEqual(['2025-03-08T14:00:00.000Z', '2025-03-09T13:00:00.000Z']);
    // Without a time zone, UTC.
    expect(fires({ expression: 'cron(0 9 * * ? *)' }, '2025-03-08T00:00:00Z', 1)).toEqual(['2025-03-08T09:00:00.000Z']);
    // A rate is a fixed period whatever the zone's clock does.
    expect(fires({ expression: 'rate(1hours)', timezone: 'Europe/Paris', startTime: new Date('2025-10-26T00:00:00Z') }, '2025-10-25T00:00:00Z', 3)).toEqual([
      '2025-10-26T00:00:00.000Z', '2025-10-26T01:00:00.000Z', '2025-10-26T02:00:00.000Z',
    ]);
  });

  it('keeps to [scheduleStartTime, scheduleEndTime): a fire at the start counts, one at the end does not', () => {
    const input = { expression: 'cron(0 0 * * ? *)', startTime: new Date('2025-02-01T00:00:00Z'), endTime: new Date('2025-02-04T00:00:00Z') };
    expect(fires(input, '2025-01-01T00:00:00Z', 10)).toEqual(['2025-02-01T00:00:00.000Z', '2025-02-02T00:00:00.000Z', '2025-02-03T00:00:00.000Z']);
    expect(fires(input, '2025-03-01T00:00:00Z', 10)).toEqual([]);
  });

  it('ends when the year field runs out, and finds nothing for a date that never exists', () => {
    expect(fires({ expression: 'cron(0 0 31 12 ? 2199)' }, '2199-12-31T00:00:00Z', 2)).toEqual([]);
    expect(fires({ expression: 'cron(0 12 30 2 ? *)' }, '2025-01-01T00:00:00Z', 1)).toEqual([]);
  });
});

describe('cron() refusals name the field and say what it takes', () => {
  it.each([
    ['cron(a b c d e f)', /minutes field "a".*takes 0-59/],
    ['cron(0 12 * *)', /has 4 fields, but cron\(\) takes six/],
    ['cron(0 12 * * ? * *)', /has 7 fields/],
    ['cron(0 12 * * MON *)', /day-of-month is "\*" and day-of-week is "MON".*One of the two must be \?/],
    ['cron(0 12 1 * 2 *)', /One of the two must be \?/],
    ['cron(0 12 ? * ? *)', /both day-of-month and day-of-week are \?/],
    ['cron(60 12 * * ? *)', /minutes field "60": 60 is outside 0-59/],
    ['cron(0 24 * * ? *)', /hours field "24"/],
    ['cron(0 12 32 * ? *)', /day-of-month field "32"/],
    ['cron(0 12 ? 13 MON *)', /month field "13"/],
    ['cron(0 12 ? * 0 *)', /day-of-week field "0": 0 is outside 1-7.*1 is Sunday/],
    ['cron(0 12 ? * 8 *)', /day-of-week field "8"/],
    ['cron(0 12 ? * 2/2 *)', /uses \/, which day-of-week does not take/],
    ['cron(0 12 ? * 2#1,3#2 *)', /2 # expressions; EventBridge allows one per field/],
    ['cron(0 12 ? * 2#6 *)', /at most 5/],
    ['cron(0 12 L-3 * ? *)', /not a form of L or W/],
    ['cron(? 12 * * ? *)', /uses \?, which only day-of-month and day-of-week take/],
    ['cron(0 12 * * ? 1969)', /year field "1969": 1969 is outside 1970-2199/],
    ['cron(0 12 * * ? 2200)', /year field "2200"/],
    ['cron(0 12-8 * * ? *)', /range "12-8" ends before it starts/],
    ['cron(0 12 * FOO ? *)', /month field "FOO": "FOO" is not a number or a name \(JAN-DEC\)/],
    ['cron(0/0 * * * ? *)', /step "0"/],
  ])('%s', (expression, message) => {
    const m = refusal(expression);
    expect(m).toMatch(message);
    // A sentence with what to do (the corpus rule): ends with a full stop and has more than one sentence.
    expect(m).toMatch(/\.$/);
    expect(m.split('. ').length).toBeGreaterThan(1);
  });
});

describe('time zones', () => {
  it('takes IANA names (canonicalised) and refuses anything else', () => {
    expect(parseTimezone('America/New_York')).toEqual({ ok: true, value: 'America/New_York' });
    expect(parseTimezone('europe/paris')).toEqual({ ok: true, value: 'Europe/Paris' });
    expect(parseTimezone('UTC')).toEqual({ ok: true, value: 'UTC' });
    const mars = parseTimezone('Mars/Olympus');
    expect(mars.ok ? '' : mars.message).toMatch(/not a known IANA time zone. Use a name such as "America\/New_York"/);
    const offset = parseTimezone('+05:00');
    expect(offset.ok ? '' : offset.message).toMatch(/not an IANA time zone name.*offset belongs in the timestamps/);
  });

  it('createSchedule refuses what validation refuses', () => {
    expect(() => createSchedule({ expression: 'cron(0 12 * * * *)' })).toThrow(RangeError);
    expect(() => createSchedule({ expression: 'rate(1hours)', timezone: 'Nowhere/Town' })).toThrow(/timezone/);
    expect(() => createSchedule({ expression: 'rate(1hours)', startTime: new Date('2025-02-01T00:00:00Z'), endTime: new Date('2025-01-01T00:00:00Z') })).toThrow(/not after/);
  });
});
