import { parseByteSize } from '../../core/byte-size.ts';

/**
 * The flow tags of parallel Bulk reads (docs/flows.md, "Parallel Bulk reads"): tags AppFlow stores and ignores,
 * so the definition stays AppFlow's. `forceflow run --bulk-parallel-jobs` overrides the jobs tag for one run.
 */

/** Query jobs a big Bulk read runs at once (1 to 16; 1 never splits). */
export const BULK_PARALLEL_JOBS_TAG = 'forceflow:bulkParallelJobs';
/** Split only reads of at least this many records (default 1,000,000)… */
export const BULK_PARALLEL_MIN_RECORDS_TAG = 'forceflow:bulkParallelMinRecords';
/** …or estimated at this many bytes or more (COUNT × the record width from describe; default 2 GiB, bulk-split.ts). */
export const BULK_PARALLEL_MIN_BYTES_TAG = 'forceflow:bulkParallelMinBytes';
export const MAX_BULK_PARALLEL_JOBS = 16;

function wholeNumber(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

export function parseBulkParallelJobs(value: unknown): number | undefined {
  const n = wholeNumber(value);
  return n !== undefined && n >= 1 && n <= MAX_BULK_PARALLEL_JOBS ? n : undefined;
}

export function parseBulkParallelMinRecords(value: unknown): number | undefined {
  return wholeNumber(value);
}

/** A number of bytes ≥ 1: digits, or with a unit (core/byte-size.ts, as `--max-bytes` takes them). */
export function parseBulkParallelMinBytes(value: unknown): number | undefined {
  return typeof value === 'string' ? parseByteSize(value) : typeof value === 'number' ? parseByteSize(String(value)) : undefined;
}

/** The flow's parallel-read settings from its tags (a tag left out or invalid is absent: rules.ts reports it). */
export function bulkParallelOfTags(tags: Readonly<Record<string, string>> | undefined): { jobs?: number; minRecords?: number; minBytes?: number } {
  const jobs = parseBulkParallelJobs(tags?.[BULK_PARALLEL_JOBS_TAG]);
  const minRecords = parseBulkParallelMinRecords(tags?.[BULK_PARALLEL_MIN_RECORDS_TAG]);
  const minBytes = parseBulkParallelMinBytes(tags?.[BULK_PARALLEL_MIN_BYTES_TAG]);
  return { ...(jobs === undefined ? {} : { jobs }), ...(minRecords === undefined ? {} : { minRecords }), ...(minBytes === undefined ? {} : { minBytes }) };
}

/** Problems of the three tags, when present, as [path, message] pairs. */
export function bulkParallelTagProblems(tags: Readonly<Record<string, string>> | undefined): Array<{ path: string; message: string }> {
  const out: Array<{ path: string; message: string }> = [];
  const jobs = tags?.[BULK_PARALLEL_JOBS_TAG];
  if (jobs !== undefined && parseBulkParallelJobs(jobs) === undefined) {
    out.push({ path: `tags.${BULK_PARALLEL_JOBS_TAG}`, message: `is ${JSON.stringify(jobs)}, not a whole number of jobs from 1 to ${MAX_BULK_PARALLEL_JOBS}. Write for example "4", or remove the tag.` });
  }
  const min = tags?.[BULK_PARALLEL_MIN_RECORDS_TAG];
  if (min !== undefined && parseBulkParallelMinRecords(min) === undefined) {
    out.push({ path: `tags.${BULK_PARALLEL_MIN_RECORDS_TAG}`, message: `is ${JSON.stringify(min)}, not a whole number of records. Write for example "2000000", or remove the tag.` });
  }
  const minBytes = tags?.[BULK_PARALLEL_MIN_BYTES_TAG];
  if (minBytes !== undefined && parseBulkParallelMinBytes(minBytes) === undefined) {
    out.push({ path: `tags.${BULK_PARALLEL_MIN_BYTES_TAG}`, message: `is ${JSON.stringify(minBytes)}, not a number of bytes. Write for example "5GB" or "2147483648", or remove the tag.` });
  }
  return out;
}
