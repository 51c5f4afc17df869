import { ForceflowError } from '../core/errors.ts';

/**
 * `forceflow run` options for reading input files (docs/flows.md "Input limits"). A bad value is a
 * CONFIG_INVALID naming the option, so the CLI exits 2 before anything runs.
 */
export function parseInvalidUtf8(option: string): (value: string) => 'error' | 'replace' {
  return (value) => {
    if (value === 'error' || value === 'replace') return value;
    throw new ForceflowError('CONFIG_INVALID', `${option} takes "error" (refuse a file that is not UTF-8, the default) or "replace" (read U+FFFD and count it), got ${JSON.stringify(value)}.`, { details: { option } });
  };
}

const UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, kb: 1e3, mb: 1e6, gb: 1e9 };

/** A size in bytes: a whole number, optionally with a unit (KiB, MiB, GiB, KB, MB, GB), at least 1. */
export function parseByteSize(option: string): (value: string) => number {
  return (value) => {
    const m = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(value);
    const unit = m?.[2]?.toLowerCase() ?? '';
    const factor = m !== null && Object.prototype.hasOwnProperty.call(UNITS, unit) ? UNITS[unit] : undefined;
    const n = m === null || factor === undefined ? Number.NaN : Number(m[1]) * factor;
    if (!Number.isSafeInteger(n) || n < 1) {
      throw new ForceflowError('CONFIG_INVALID', `${option} takes a size in bytes, at least 1, such as 67108864 or 64MiB; got ${JSON.stringify(value)}.`, { details: { option } });
    }
    return n;
  };
}
