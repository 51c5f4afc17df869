const BYTE_UNITS: Readonly<Record<string, number>> = {
  '': 1, b: 1,
  kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12,
  k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tib: 1024 ** 4,
};

/**
 * A byte size ≥ 1: digits, optionally followed by a unit (`500MB`, `15GiB`, `2g`; KB/MB/GB are powers of
 * 1000, KiB/MiB/GiB and K/M/G powers of 1024). Undefined for zero, negatives, exponents, fractions of a byte
 * and anything else (`--max-bytes`, the `forceflow:bulkParallelMinBytes` tag).
 */
export function parseByteSize(value: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  const unit = m?.[2]?.toLowerCase() ?? '';
  const factor = BYTE_UNITS[unit];
  const digits = m?.[1];
  // A fraction needs a unit larger than a byte (1.5GiB yes, 1.5 no).
  const n = digits !== undefined && factor !== undefined && (factor > 1 || !digits.includes('.')) ? Math.round(Number(digits) * factor) : Number.NaN;
  return Number.isSafeInteger(n) && n >= 1 ? n : undefined;
}
