/**
 * SOQL literal values: string escapes, LIKE patterns, date/datetime literals and the relative date
 * literals (TODAY, LAST_N_DAYS:n, ...) evaluated in UTC against the org's clock.
 */

const DAY = 86_400_000;

/** The value of a quoted SOQL string literal (`'a\'b'` → `a'b`). With `forLike`, `\%` and `\_` stay escaped. */
export function unquote(raw: string, forLike = false): string | undefined {
  if (raw.length < 2 || !raw.startsWith("'") || !raw.endsWith("'")) return undefined;
  const body = raw.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = body[++i];
    switch (n) {
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case "'": case '"': case '\\': out += forLike && n === '\\' ? '\\\\' : n; break;
      case '%': case '_': out += forLike ? `\\${n}` : n; break;
      case 'u': {
        const hex = body.slice(i + 1, i + 5);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) return undefined;
        out += String.fromCharCode(parseInt(hex, 16));
        i += 4;
        break;
      }
      default:
        return undefined;
    }
  }
  return out;
}

/** A case-insensitive matcher for a LIKE pattern (already unquoted with `forLike`). */
export function likeMatcher(pattern: string): (value: string) => boolean {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\' && i + 1 < pattern.length) {
      source += escapeRegex(pattern[++i] as string);
    } else if (c === '%') source += '[\\s\\S]*';
    else if (c === '_') source += '[\\s\\S]';
    else source += escapeRegex(c);
  }
  const re = new RegExp(`^${source}$`, 'i');
  return (value) => re.test(value);
}

function escapeRegex(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Epoch ms of a SOQL date literal `YYYY-MM-DD` (midnight UTC), or undefined. */
export function parseDateLiteral(raw: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(raw);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  const d = new Date(ms);
  if (d.getUTCDate() !== Number(m[3]) || d.getUTCMonth() !== Number(m[2]) - 1) return undefined;
  return ms;
}

/** Epoch ms of a SOQL datetime literal (`2024-01-31T10:00:00Z`, `...+01:00`, `...-0500`, fractions allowed). */
export function parseDateTimeLiteral(raw: string): number | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$/.exec(raw);
  if (!m) return undefined;
  const day = parseDateLiteral(m[1] as string);
  if (day === undefined) return undefined;
  const h = Number(m[2]);
  const min = Number(m[3]);
  const s = Number(m[4]);
  if (h > 23 || min > 59 || s > 59) return undefined;
  const frac = m[5] ? Math.floor(Number(`0${m[5]}`) * 1000) : 0;
  let offset = 0;
  const tz = m[6] as string;
  if (tz !== 'Z') {
    const sign = tz.startsWith('-') ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    offset = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  return day + ((h * 60 + min) * 60 + s) * 1000 + frac - offset;
}

/** A half-open range [start, end) of epoch ms. */
export interface DateRange {
  readonly start: number;
  readonly end: number;
}

function startOfDay(ms: number): number {
  return Math.floor(ms / DAY) * DAY;
}

/** Week start is Sunday, as in the default (en_US) locale. */
function startOfWeek(ms: number): number {
  const d = startOfDay(ms);
  return d - new Date(d).getUTCDay() * DAY;
}

function monthStart(year: number, month: number): number {
  return Date.UTC(year, month, 1);
}

function quarterStart(year: number, quarter: number): number {
  return Date.UTC(year, quarter * 3, 1);
}

/**
 * The range a relative date literal denotes at `now`, or undefined for an unknown literal.
 * `n` is the number of a `_N_` literal. Fiscal literals use the calendar year (the default fiscal year).
 */
export function dateLiteralRange(name: string, now: number, n = 0): DateRange | undefined {
  const today = startOfDay(now);
  const d = new Date(now);
  const y = d.getUTCFullYear();
  const mo = d.getUTCMonth();
  const q = Math.floor(mo / 3);
  const week = startOfWeek(now);
  const key = name.toUpperCase().replace(/FISCAL_/g, '');
  switch (key) {
    case 'YESTERDAY': return { start: today - DAY, end: today };
    case 'TODAY': return { start: today, end: today + DAY };
    case 'TOMORROW': return { start: today + DAY, end: today + 2 * DAY };
    case 'LAST_WEEK': return { start: week - 7 * DAY, end: week };
    case 'THIS_WEEK': return { start: week, end: week + 7 * DAY };
    case 'NEXT_WEEK': return { start: week + 7 * DAY, end: week + 14 * DAY };
    case 'LAST_MONTH': return { start: monthStart(y, mo - 1), end: monthStart(y, mo) };
    case 'THIS_MONTH': return { start: monthStart(y, mo), end: monthStart(y, mo + 1) };
    case 'NEXT_MONTH': return { start: monthStart(y, mo + 1), end: monthStart(y, mo + 2) };
    case 'LAST_90_DAYS': return { start: today - 90 * DAY, end: today + DAY };
    case 'NEXT_90_DAYS': return { start: today + DAY, end: today + 91 * DAY };
    case 'LAST_QUARTER': return { start: quarterStart(y, q - 1), end: quarterStart(y, q) };
    case 'THIS_QUARTER': return { start: quarterStart(y, q), end: quarterStart(y, q + 1) };
    case 'NEXT_QUARTER': return { start: quarterStart(y, q + 1), end: quarterStart(y, q + 2) };
    case 'LAST_YEAR': return { start: Date.UTC(y - 1, 0, 1), end: Date.UTC(y, 0, 1) };
    case 'THIS_YEAR': return { start: Date.UTC(y, 0, 1), end: Date.UTC(y + 1, 0, 1) };
    case 'NEXT_YEAR': return { start: Date.UTC(y + 1, 0, 1), end: Date.UTC(y + 2, 0, 1) };
    // Relative literals with a number: LAST_N_DAYS:n includes today; NEXT_N_DAYS:n starts tomorrow.
    case 'LAST_N_DAYS': return { start: today - n * DAY, end: today + DAY };
    case 'NEXT_N_DAYS': return { start: today + DAY, end: today + (n + 1) * DAY };
    case 'N_DAYS_AGO': return { start: today - n * DAY, end: today - (n - 1) * DAY };
    case 'LAST_N_WEEKS': return { start: week - 7 * n * DAY, end: week };
    case 'NEXT_N_WEEKS': return { start: week + 7 * DAY, end: week + 7 * (n + 1) * DAY };
    case 'N_WEEKS_AGO': return { start: week - 7 * n * DAY, end: week - 7 * (n - 1) * DAY };
    case 'LAST_N_MONTHS': return { start: monthStart(y, mo - n), end: monthStart(y, mo) };
    case 'NEXT_N_MONTHS': return { start: monthStart(y, mo + 1), end: monthStart(y, mo + 1 + n) };
    case 'N_MONTHS_AGO': return { start: monthStart(y, mo - n), end: monthStart(y, mo - n + 1) };
    case 'LAST_N_QUARTERS': return { start: quarterStart(y, q - n), end: quarterStart(y, q) };
    case 'NEXT_N_QUARTERS': return { start: quarterStart(y, q + 1), end: quarterStart(y, q + 1 + n) };
    case 'N_QUARTERS_AGO': return { start: quarterStart(y, q - n), end: quarterStart(y, q - n + 1) };
    case 'LAST_N_YEARS': return { start: Date.UTC(y - n, 0, 1), end: Date.UTC(y, 0, 1) };
    case 'NEXT_N_YEARS': return { start: Date.UTC(y + 1, 0, 1), end: Date.UTC(y + 1 + n, 0, 1) };
    case 'N_YEARS_AGO': return { start: Date.UTC(y - n, 0, 1), end: Date.UTC(y - n + 1, 0, 1) };
    default: return undefined;
  }
}

/** Epoch ms of a stored date (`YYYY-MM-DD`) or datetime (ISO) value. */
export function storedMs(value: string): number {
  return value.length === 10 ? Date.parse(`${value}T00:00:00.000Z`) : Date.parse(value);
}

/** A SOQL date function usable in WHERE: whether it needs a dateTime field, and its value of an epoch-ms value. */
export interface DateFunction {
  readonly datetimeOnly: boolean;
  readonly value: (ms: number) => number;
}

const dayOfYear = (ms: number): number => Math.floor((startOfDay(ms) - Date.UTC(new Date(ms).getUTCFullYear(), 0, 1)) / DAY) + 1;
const month = (ms: number): number => new Date(ms).getUTCMonth() + 1;
const quarter = (ms: number): number => Math.floor(new Date(ms).getUTCMonth() / 3) + 1;
const year = (ms: number): number => new Date(ms).getUTCFullYear();

/**
 * SOQL date functions usable in WHERE, evaluated in UTC (Salesforce's default without convertTimezone()).
 * DAY_ONLY gives the epoch ms of the day; the others a number (DAY_IN_WEEK: 1 = Sunday; WEEK_IN_MONTH and
 * WEEK_IN_YEAR count whole 7-day runs from the 1st; fiscal functions use the default fiscal year, which
 * starts in January). Looked up once per query, so rows only pay for the one function they use.
 */
export const DATE_FUNCTIONS: ReadonlyMap<string, DateFunction> = new Map<string, DateFunction>([
  ['CALENDAR_MONTH', { datetimeOnly: false, value: month }],
  ['CALENDAR_QUARTER', { datetimeOnly: false, value: quarter }],
  ['CALENDAR_YEAR', { datetimeOnly: false, value: year }],
  ['DAY_IN_MONTH', { datetimeOnly: false, value: (ms) => new Date(ms).getUTCDate() }],
  ['DAY_IN_WEEK', { datetimeOnly: false, value: (ms) => new Date(ms).getUTCDay() + 1 }],
  ['DAY_IN_YEAR', { datetimeOnly: false, value: dayOfYear }],
  ['DAY_ONLY', { datetimeOnly: true, value: startOfDay }],
  ['FISCAL_MONTH', { datetimeOnly: false, value: month }],
  ['FISCAL_QUARTER', { datetimeOnly: false, value: quarter }],
  ['FISCAL_YEAR', { datetimeOnly: false, value: year }],
  ['HOUR_IN_DAY', { datetimeOnly: true, value: (ms) => new Date(ms).getUTCHours() }],
  ['WEEK_IN_MONTH', { datetimeOnly: false, value: (ms) => Math.floor((new Date(ms).getUTCDate() - 1) / 7) + 1 }],
  ['WEEK_IN_YEAR', { datetimeOnly: false, value: (ms) => Math.floor((dayOfYear(ms) - 1) / 7) + 1 }],
]);
