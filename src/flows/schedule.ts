import { Cron } from 'croner';

/**
 * Schedule expressions of Scheduled flows: AppFlow's `rate(...)` and EventBridge's `cron(...)`, parsed once
 * into a validated form, and the fire times they give in the flow's time zone between scheduleStartTime and
 * scheduleEndTime. `forceflow validate` uses the parser (every refusal is a sentence saying what to do);
 * the scheduler uses {@link nextFireTimes}. docs/flows.md ("Schedules") documents the choices.
 *
 * rate(N unit): N a positive integer; unit minute(s), hour(s) or day(s), with or without a space (AppFlow
 * writes `rate(5minutes)`, EventBridge `rate(5 minutes)`). AppFlow's shortest period, and the most often a
 * flow with a Salesforce source may run, is once a minute: anything shorter (seconds) is refused.
 * A rate fires at its anchor (scheduleStartTime, or the moment the flow was activated) and then every period.
 *
 * cron(Minutes Hours Day-of-month Month Day-of-week Year), EventBridge's six fields
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html):
 *
 *   Minutes 0-59 and Hours 0-23: `, - * /`
 *   Day-of-month 1-31: `, - * ? / L W` (`L` last day, `15W` the weekday nearest the 15th, `LW` last weekday)
 *   Month 1-12 or JAN-DEC: `, - * /`
 *   Day-of-week 1-7 or SUN-SAT (1 = Sunday): `, - * ? L #` (`L` alone is Saturday, the last day of the week;
 *     `6L` the last Friday of the month; `3#2` the second Tuesday; one `#` at most)
 *   Year 1970-2199: `, - * /`
 *
 * One of day-of-month and day-of-week must be `?` (and only one): a value or `*` in one needs `?` in the other.
 * `a/n` means a, a+n, a+2n, ... up to the field's maximum.
 *
 * Evaluation is delegated to croner (seconds fixed at 0, year as the seventh field, Quartz weekday
 * numbering, day-of-month AND day-of-week, which is exact here because one of them is always `*`).
 * Fields are read as wall-clock time in the flow's `timezone` (an IANA name, default UTC). Around a
 * daylight-saving change forceflow follows EventBridge Scheduler ("When the time shifts forward in Spring,
 * your schedule invocation gets skipped if the cron expression falls on a non-existent date and time. When
 * the time shifts back in the Fall, your schedule runs only once and doesn't repeat its invocation"): a
 * wall-clock time inside the spring-forward gap does not fire, and one that occurs twice in the fall-back
 * hour fires once, at its first occurrence. (croner alone follows Vixie cron, which moves a fixed time out
 * of the gap and runs interval expressions twice through the repeated hour; both are filtered out here.)
 */

export type RateUnit = 'minutes' | 'hours' | 'days';

export interface RateExpression {
  readonly kind: 'rate';
  /** The expression as written. */
  readonly text: string;
  readonly value: number;
  readonly unit: RateUnit;
  readonly periodSeconds: number;
}

export interface CronFields {
  readonly minutes: string;
  readonly hours: string;
  readonly dayOfMonth: string;
  readonly month: string;
  readonly dayOfWeek: string;
  readonly year: string;
}

export interface CronExpression {
  readonly kind: 'cron';
  /** The expression as written. */
  readonly text: string;
  /** The six EventBridge fields, as written. */
  readonly fields: CronFields;
  /** The same schedule in croner's seven-field syntax (seconds first, year last, Quartz weekdays). */
  readonly pattern: string;
}

export type ScheduleExpression = RateExpression | CronExpression;

export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

/** AppFlow's shortest schedule period (and the most often a flow with a Salesforce source may run). */
export const MIN_PERIOD_SECONDS = 60;

const UNIT_SECONDS: Readonly<Record<RateUnit, number>> = { minutes: 60, hours: 3600, days: 86400 };
const CRON_EXAMPLE = 'such as "cron(0 12 * * ? *)" (12:00 every day)';
const RATE_EXAMPLE = 'such as "rate(1hours)" or "rate(5 minutes)"';

// ---------------------------------------------------------------------------------------------------
// rate(...)

function parseRate(text: string, inner: string): ParseResult<RateExpression> {
  const m = /^\s*(\S*?)\s*([A-Za-z]*)\s*$/.exec(inner);
  const amount = m?.[1] ?? '';
  const unitText = (m?.[2] ?? '').toLowerCase();
  if (/^(?:second|seconds|sec|secs|s)$/.test(unitText)) {
    return { ok: false, message: `is ${JSON.stringify(text)}, but AppFlow runs a flow at most once a minute (the limit for a Salesforce source). Use a period of at least one minute, such as "rate(1minutes)".` };
  }
  const unit = (['minute', 'minutes', 'hour', 'hours', 'day', 'days'].includes(unitText) ? `${unitText.replace(/s$/, '')}s` : undefined) as RateUnit | undefined;
  if (unit === undefined) {
    return { ok: false, message: `has the unit ${JSON.stringify(m?.[2] ?? inner.trim())}, which rate() does not take. Write rate(<n>minutes), rate(<n>hours) or rate(<n>days), ${RATE_EXAMPLE}.` };
  }
  if (!/^\d+$/.test(amount)) {
    return { ok: false, message: `has the amount ${JSON.stringify(amount)}, which is not a whole number. Write a positive whole number before the unit, ${RATE_EXAMPLE}.` };
  }
  const value = Number(amount);
  if (value < 1) {
    return { ok: false, message: `is ${JSON.stringify(text)}: a period of zero would run the flow without pause, and AppFlow runs a flow at most once a minute. Use a positive number, ${RATE_EXAMPLE}.` };
  }
  const periodSeconds = value * UNIT_SECONDS[unit];
  if (!Number.isSafeInteger(periodSeconds) || periodSeconds > 100 * 366 * 86400) {
    return { ok: false, message: `is ${JSON.stringify(text)}, a period of more than a hundred years. Use a shorter period, or an OnDemand flow.` };
  }
  return { ok: true, value: { kind: 'rate', text, value, unit, periodSeconds } };
}

// ---------------------------------------------------------------------------------------------------
// cron(...)

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Names for the values min, min+1, ... (months, week days). */
  readonly names?: readonly string[];
  readonly step: boolean;
  readonly question: boolean;
  readonly allowed: string;
}

const SPECS: readonly FieldSpec[] = [
  { name: 'minutes', min: 0, max: 59, step: true, question: false, allowed: '0-59 with , - * /' },
  { name: 'hours', min: 0, max: 23, step: true, question: false, allowed: '0-23 with , - * /' },
  { name: 'day-of-month', min: 1, max: 31, step: true, question: true, allowed: '1-31 with , - * ? / L W' },
  { name: 'month', min: 1, max: 12, names: MONTHS, step: true, question: false, allowed: '1-12 or JAN-DEC with , - * /' },
  { name: 'day-of-week', min: 1, max: 7, names: DAYS, step: false, question: true, allowed: '1-7 (1 is Sunday) or SUN-SAT with , - * ? L #' },
  { name: 'year', min: 1970, max: 2199, step: true, question: false, allowed: '1970-2199 with , - * /' },
];

class FieldError extends Error {}

function valueOf(spec: FieldSpec, token: string): number {
  if (spec.names) {
    const i = spec.names.indexOf(token.toUpperCase());
    if (i >= 0) return spec.min + i;
  }
  if (!/^\d+$/.test(token)) {
    const names = spec.names ? ` or a name (${spec.names[0]}-${spec.names[spec.names.length - 1]})` : '';
    throw new FieldError(`"${token}" is not a number${names}`);
  }
  const n = Number(token);
  if (n < spec.min || n > spec.max) throw new FieldError(`${token} is outside ${spec.min}-${spec.max}`);
  return n;
}

/** Validates one list element and returns it in croner's syntax. */
function element(spec: FieldSpec, raw: string, hashes: { count: number }): string {
  if (raw === '') throw new FieldError('has an empty list element');
  // Names and L, W are case-insensitive (as in EventBridge); messages quote the text as written.
  const el = raw.toUpperCase();
  if (el === '*') return '*';
  if (spec.name === 'day-of-month') {
    if (el === 'L' || el === 'LW') return el;
    const w = /^(\d+)W$/.exec(el);
    if (w) return `${valueOf(spec, w[1] as string)}W`;
    if (el.includes('L') || el.includes('W')) throw new FieldError(`"${raw}" is not a form of L or W (use L, LW or a day such as 15W)`);
  }
  if (spec.name === 'day-of-week') {
    if (el === 'L') return '7';
    const last = /^([A-Z0-9]+)L$/.exec(el);
    if (last) return `${valueOf(spec, last[1] as string)}#L`;
    const nth = /^([A-Z0-9]+)#(\d+)$/.exec(el);
    if (nth) {
      hashes.count += 1;
      const k = Number(nth[2]);
      if (k < 1 || k > 5) throw new FieldError(`"${raw}" asks for occurrence ${nth[2]}, but a month has at most 5 of a week day (use 1-5)`);
      return `${valueOf(spec, nth[1] as string)}#${k}`;
    }
    if (el.includes('#') || el.includes('L')) throw new FieldError(`"${raw}" is not a form of L or # (use L, 6L or 3#2)`);
  }
  const slash = raw.split('/');
  if (slash.length > 2) throw new FieldError(`"${raw}" has more than one /`);
  const [base = '', stepText] = slash;
  if (stepText !== undefined) {
    if (!spec.step) throw new FieldError(`"${raw}" uses /, which ${spec.name} does not take`);
    if (!/^\d+$/.test(stepText) || Number(stepText) < 1) throw new FieldError(`"${raw}" has the step "${stepText}" (use a positive whole number)`);
  }
  let range: string;
  if (base === '*') {
    range = '*';
  } else {
    const ends = base.split('-');
    if (ends.length > 2) throw new FieldError(`"${raw}" is not a value or a range a-b`);
    const from = valueOf(spec, ends[0] as string);
    if (ends.length === 2) {
      const to = valueOf(spec, ends[1] as string);
      if (to < from) throw new FieldError(`the range "${base}" ends before it starts`);
      range = `${from}-${to}`;
    } else {
      // a/n means a, a+n, ... up to the field's maximum (croner only takes */n and a-b/n).
      range = stepText === undefined ? String(from) : `${from}-${spec.max}`;
    }
  }
  if (stepText !== undefined) {
    const step = Number(stepText);
    return `${range}/${step}`;
  }
  return range;
}

function field(spec: FieldSpec, raw: string): string {
  if (raw === '?') {
    if (!spec.question) throw new FieldError(`uses ?, which only day-of-month and day-of-week take`);
    return '*';
  }
  if (raw.includes('?')) throw new FieldError('uses ? inside a list or range; ? stands alone');
  const hashes = { count: 0 };
  const out = raw.split(',').map((el) => element(spec, el, hashes));
  if (hashes.count > 1) throw new FieldError(`has ${hashes.count} # expressions; EventBridge allows one per field`);
  return out.join(',');
}

function parseCron(text: string, inner: string): ParseResult<CronExpression> {
  const parts = inner.trim().split(/\s+/).filter((p) => p !== '');
  if (parts.length !== 6) {
    return { ok: false, message: `has ${parts.length} field${parts.length === 1 ? '' : 's'}, but cron() takes six: minutes, hours, day-of-month, month, day-of-week and year, ${CRON_EXAMPLE}. Write all six.` };
  }
  const [minutes, hours, dayOfMonth, month, dayOfWeek, year] = parts as [string, string, string, string, string, string];
  const out: string[] = [];
  for (let i = 0; i < 6; i += 1) {
    const spec = SPECS[i] as FieldSpec;
    try {
      out.push(field(spec, parts[i] as string));
    } catch (error) {
      if (!(error instanceof FieldError)) throw error;
      return { ok: false, message: `has the ${spec.name} field "${parts[i]}": ${error.message}. The ${spec.name} field takes ${spec.allowed}, ${CRON_EXAMPLE}.` };
    }
  }
  if ((dayOfMonth === '?') === (dayOfWeek === '?')) {
    const what = dayOfMonth === '?' ? 'both day-of-month and day-of-week are ?' : `day-of-month is "${parts[2]}" and day-of-week is "${parts[4]}"`;
    return { ok: false, message: `is ${JSON.stringify(text)}, but ${what}. One of the two must be ? and the other not, as EventBridge requires: write ? in day-of-week to choose days of the month ("cron(0 12 1 * ? *)"), or in day-of-month to choose week days ("cron(0 12 ? * MON-FRI *)").` };
  }
  const pattern = `0 ${out.join(' ')}`;
  try {
    // croner checks what this module does not (and would reject a combination it cannot evaluate).
    new Cron(pattern, cronOptions('UTC'));
  } catch (error) {
    return { ok: false, message: `is ${JSON.stringify(text)}, which cannot be evaluated (${(error as Error).message}). Fix the expression, ${CRON_EXAMPLE}.` };
  }
  return { ok: true, value: { kind: 'cron', text, fields: { minutes, hours, dayOfMonth, month, dayOfWeek, year }, pattern } };
}

function cronOptions(timezone: string): ConstructorParameters<typeof Cron>[1] {
  return { mode: '7-part', alternativeWeekdays: true, domAndDow: true, timezone, paused: true };
}

/**
 * Parses a scheduleExpression. On failure `message` is a sentence (to follow the field's JSON path) that
 * says what is wrong and what to write instead.
 */
export function parseScheduleExpression(text: string): ParseResult<ScheduleExpression> {
  const m = /^\s*(rate|cron)\s*\((.*)\)\s*$/is.exec(text);
  const kind = m?.[1]?.toLowerCase();
  if (!m || kind === undefined) {
    return { ok: false, message: `expected rate(<n>minutes|hours|days) ${RATE_EXAMPLE}, or cron(<6 fields>) ${CRON_EXAMPLE}, got ${JSON.stringify(text)}. Write one of those forms.` };
  }
  if (m[1] !== kind) {
    return { ok: false, message: `is ${JSON.stringify(text)}; write "${kind}(" in lower case, as AppFlow does.` };
  }
  const inner = m[2] ?? '';
  return kind === 'rate' ? parseRate(text, inner) : parseCron(text, inner);
}

// ---------------------------------------------------------------------------------------------------
// time zones

/**
 * The canonical IANA name of a time zone (`Europe/paris` -> `Europe/Paris`), or a sentence saying why it is
 * not one.
 */
export function parseTimezone(name: string): ParseResult<string> {
  const example = 'such as "America/New_York", "Europe/Paris" or "UTC"';
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(name)) {
    return { ok: false, message: `is ${JSON.stringify(name)}, which is not an IANA time zone name. Use a name ${example} (an offset belongs in the timestamps, not here).` };
  }
  try {
    return { ok: true, value: new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone };
  } catch {
    return { ok: false, message: `is ${JSON.stringify(name)}, which is not a known IANA time zone. Use a name ${example}.` };
  }
}

// ---------------------------------------------------------------------------------------------------
// fire times

export interface Schedule {
  readonly expression: ScheduleExpression;
  /** Canonical IANA name; cron fields are read in it. */
  readonly timezone: string;
  /** No fire before this instant (inclusive). */
  readonly startTime?: Date;
  /** No fire at or after this instant. */
  readonly endTime?: Date;
}

export interface ScheduleInput {
  readonly expression: string;
  /** IANA name; UTC when absent. */
  readonly timezone?: string;
  readonly startTime?: Date;
  readonly endTime?: Date;
}

/** Builds a {@link Schedule}; throws a RangeError naming the problem (validateFlow reports the same problems as FLOW_INVALID first). */
export function createSchedule(input: ScheduleInput): Schedule {
  const expression = parseScheduleExpression(input.expression);
  if (!expression.ok) throw new RangeError(`scheduleExpression ${expression.message}`);
  const tz = parseTimezone(input.timezone ?? 'UTC');
  if (!tz.ok) throw new RangeError(`timezone ${tz.message}`);
  if (input.startTime && input.endTime && input.endTime.getTime() <= input.startTime.getTime()) {
    throw new RangeError('scheduleEndTime is not after scheduleStartTime.');
  }
  return {
    expression: expression.value,
    timezone: tz.value,
    ...(input.startTime ? { startTime: input.startTime } : {}),
    ...(input.endTime ? { endTime: input.endTime } : {}),
  };
}

export interface NextFireOptions {
  /** Fires strictly after this instant. */
  readonly after: Date;
  /** At most this many (default 1). */
  readonly count?: number;
  /**
   * rate() only: the instant the rate counts from when the schedule has no startTime (the moment the flow
   * was activated). With neither, the first fire is `after` + one period.
   */
  readonly anchor?: Date;
}

/**
 * The next fire times of a schedule, in order: strictly after `after`, not before `startTime`, before
 * `endTime`. Fewer than `count` (or none) when the schedule ends first.
 */
export function nextFireTimes(schedule: Schedule, options: NextFireOptions): Date[] {
  const count = options.count ?? 1;
  const end = schedule.endTime?.getTime() ?? Number.POSITIVE_INFINITY;
  const out: Date[] = [];
  if (count <= 0) return out;
  const expr = schedule.expression;
  if (expr.kind === 'rate') {
    const period = expr.periodSeconds * 1000;
    const anchor = (schedule.startTime ?? options.anchor ?? options.after).getTime();
    const after = options.after.getTime();
    // The first k with anchor + k·period > after (k ≥ 0; the anchor itself fires unless `after` is at or past it).
    let k = after < anchor ? 0 : Math.floor((after - anchor) / period) + 1;
    while (out.length < count) {
      const t = anchor + k * period;
      if (t >= end) break;
      out.push(new Date(t));
      k += 1;
    }
    return out;
  }
  const cron = new Cron(expr.pattern, cronOptions(schedule.timezone));
  const clock = wallClock(schedule.timezone);
  // croner's nextRun is exclusive: start one millisecond early so a fire exactly at startTime counts.
  const startFrom = schedule.startTime ? schedule.startTime.getTime() - 1 : Number.NEGATIVE_INFINITY;
  let from = new Date(Math.max(options.after.getTime(), startFrom));
  while (out.length < count) {
    const next = cron.nextRun(from);
    if (next === null || next.getTime() >= end) break;
    from = next;
    // EventBridge's daylight-saving rules: a time moved out of the spring-forward gap no longer matches the
    // fields (skip it); the second pass through a repeated wall-clock time is not a new fire (skip it).
    if (!cron.match(next) || clock.isRepeat(next.getTime())) continue;
    out.push(next);
  }
  return out;
}

/** Wall-clock arithmetic in one time zone, for the daylight-saving rules. */
function wallClock(timeZone: string): { isRepeat(t: number): boolean } {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
  });
  /** The wall-clock time at instant t, as milliseconds of a UTC date with the same fields. */
  const local = (t: number): number => {
    const f: Record<string, number> = {};
    for (const p of format.formatToParts(new Date(t))) if (p.type !== 'literal') f[p.type] = Number(p.value);
    return Date.UTC(f['year'] ?? 1970, (f['month'] ?? 1) - 1, f['day'] ?? 1, f['hour'] ?? 0, f['minute'] ?? 0, f['second'] ?? 0);
  };
  const offset = (t: number): number => local(t) - Math.floor(t / 1000) * 1000;
  return {
    // After a fall-back of d ms the same wall-clock time was already shown d ms earlier.
    isRepeat(t: number): boolean {
      const drop = offset(t - 6 * 3600_000) - offset(t);
      return drop > 0 && local(t - drop) === local(t);
    },
  };
}

/** The next fire time, or undefined when the schedule has ended. */
export function nextFireTime(schedule: Schedule, after: Date, anchor?: Date): Date | undefined {
  return nextFireTimes(schedule, { after, count: 1, ...(anchor ? { anchor } : {}) })[0];
}
