import { InvalidArgumentError } from 'commander';
import { normalizeOrigin, policyProblem } from '../core/http-guard.ts';
import { parseByteSize } from '../core/byte-size.ts';

/**
 * Small, reusable option parsers for commander (`.option('--x <n>', 'help', positiveInteger('--x'))`).
 *
 * Each refuses anything that is not exactly what it names, with a sentence saying what was expected and
 * what was given; commander prefixes the option name ("option '--max-bytes <n>' argument 'abc' is
 * invalid.") and the CLI exits 2 (a wrong option is a configuration error). Never `Number(v)` alone:
 * `Number('abc')` is NaN, `Number('1e400')` is Infinity and `Number('')` is 0, each of which silently
 * switches a guard off.
 */
export type OptionParser<T> = (value: string, previous?: T) => T;

const DIGITS = /^\d+$/;

function integerOf(value: string): number | undefined {
  const v = value.trim();
  if (!DIGITS.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A whole number ≥ `min` (digits only; no sign, exponent, fraction or hex) and ≤ `max`. */
export function integerOption(options: { min?: number; max?: number; what?: string } = {}): OptionParser<number> {
  const min = options.min ?? 0;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  const what = options.what ?? (min === 0 ? 'a whole number ≥ 0' : `a whole number ≥ ${min}`);
  return (value) => {
    const n = integerOf(value);
    if (n === undefined || n < min || n > max) {
      throw new InvalidArgumentError(`Expected ${what}${max < Number.MAX_SAFE_INTEGER ? ` and ≤ ${max}` : ''}, got "${value}".`);
    }
    return n;
  };
}

/** A whole number ≥ 1. */
export const positiveInteger: OptionParser<number> = integerOption({ min: 1, what: 'a whole number ≥ 1' });

/** A whole number ≥ 0. */
export const nonNegativeInteger: OptionParser<number> = integerOption({ min: 0 });

/** A TCP port: 0 (pick a free one) to 65535. */
export const port: OptionParser<number> = integerOption({ min: 0, max: 65_535, what: 'a TCP port from 0 (any free port)' });

/** A positive, finite number (seconds, ratios): `1.5` yes, `0`, `-1`, `1e400`, `abc` no. */
export function positiveNumber(unit = ''): OptionParser<number> {
  return (value) => {
    const v = value.trim();
    const n = /^\d+(\.\d+)?$/.test(v) ? Number(v) : Number.NaN;
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`Expected a positive number${unit ? ` of ${unit}` : ''}, got "${value}".`);
    return n;
  };
}

/** A byte size ≥ 1 (core/byte-size.ts: digits, optionally with a unit such as 500MB or 15GiB). */
export const byteSize: OptionParser<number> = (value) => {
  const n = parseByteSize(value);
  if (n === undefined) {
    throw new InvalidArgumentError(`Expected a size in bytes ≥ 1, as digits with an optional unit (for example 16106127360, 500MB or 15GiB), got "${value}".`);
  }
  return n;
};

/** One of a fixed set of words (case-sensitive, as listed). */
export function oneOf<const T extends string>(choices: readonly T[]): OptionParser<T> {
  return (value) => {
    if ((choices as readonly string[]).includes(value)) return value as T;
    throw new InvalidArgumentError(`Expected one of ${choices.join(', ')}, got "${value}".`);
  };
}

/** pino's levels, as `--log-level` takes them. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const logLevel: OptionParser<LogLevel> = oneOf(LOG_LEVELS);

/** An S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens; starts and ends with a letter or digit). */
export const bucketName: OptionParser<string> = (value) => {
  if (/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(value) && !value.includes('..')) return value;
  throw new InvalidArgumentError(`Expected an S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens), got "${value}".`);
};

/** A web origin (scheme, host and port only), repeatable: `--allow-origin http://localhost:3000`. */
export const originList: OptionParser<string[]> = (value, previous = []) => {
  if (policyProblem({ host: '', allowOrigins: [value] }) !== undefined) {
    throw new InvalidArgumentError(`Expected an origin such as http://localhost:3000 (scheme, host and port only), got "${value}".`);
  }
  return [...previous, normalizeOrigin(value) ?? value];
};

/** A host name (no scheme, port or path), repeatable: `--allow-host host.docker.internal`. */
export const hostNameList: OptionParser<string[]> = (value, previous = []) => {
  if (policyProblem({ host: '', allowHosts: [value] }) !== undefined) {
    throw new InvalidArgumentError(`Expected a host name such as host.docker.internal (no scheme, port or path), got "${value}".`);
  }
  return [...previous, value.toLowerCase()];
};
