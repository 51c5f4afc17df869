import type { ApiPreference, TransferApi } from '../core/types.ts';

/** AUTOMATIC reads through Bulk API 2.0 from this many records on (AppFlow's documented threshold). */
export const SOURCE_BULK_THRESHOLD = 1_000_000;
/** AUTOMATIC writes through Bulk API 2.0 from this many records on (AppFlow's documented threshold). */
export const DESTINATION_BULK_THRESHOLD = 1_000;

export type Direction = 'source' | 'destination';

/** What the object and the query allow, from describe and the built query. */
export interface ApiCapabilities {
  /** False for objects Bulk API 2.0 does not serve. Default true. */
  readonly bulk?: boolean;
  /** False when REST cannot serve the read in one query (the SOQL would exceed the URI limit). Default true. */
  readonly restSingleQuery?: boolean;
  /** False when REST cannot serve the read at all: the WHERE alone (long filter values, a long IN list) makes
   *  even a one-field query exceed the URI limit. Bulk API 2.0 takes the SOQL in a request body. Default true. */
  readonly rest?: boolean;
}

export interface SelectInput {
  readonly direction: Direction;
  readonly preference: ApiPreference;
  /** Records to move: a COUNT() with the run's WHERE for a source, the records seen so far for a destination. */
  readonly recordCount: number;
  readonly capabilities?: ApiCapabilities;
}

export interface Selection {
  readonly api: TransferApi;
  /** One sentence for the run record and logs. */
  readonly reason: string;
}

const fmt = (n: number): string => n.toLocaleString('en-US');

/**
 * Choose the Salesforce API for one side of a run. Pure: the same input gives the same answer.
 *
 * @example
 * select({ direction: 'source', preference: 'AUTOMATIC', recordCount: 1_000_000 })
 * // { api: 'BULKV2', reason: 'AUTOMATIC: 1,000,000 records is at or above the source threshold of 1,000,000' }
 */
export function select(input: SelectInput): Selection {
  const bulkAllowed = input.capabilities?.bulk ?? true;
  const restSingle = input.capabilities?.restSingleQuery ?? true;
  const restAllowed = input.capabilities?.rest ?? true;
  const threshold = input.direction === 'source' ? SOURCE_BULK_THRESHOLD : DESTINATION_BULK_THRESHOLD;
  const count = fmt(input.recordCount);

  if (input.preference === 'BULKV2') {
    if (!bulkAllowed) return { api: 'REST_SYNC', reason: 'BULKV2 requested, but Bulk API 2.0 does not support this object; REST used instead' };
    return { api: 'BULKV2', reason: 'BULKV2 requested by the flow' };
  }
  if (!restAllowed && bulkAllowed && input.direction === 'source') {
    return {
      api: 'BULKV2',
      reason: `${input.preference === 'REST_SYNC' ? 'REST_SYNC requested, but' : 'AUTOMATIC:'} the query's filters alone exceed the REST URI limit (even split into field groups), so Bulk API 2.0 is used${input.preference === 'REST_SYNC' ? ' instead' : ' (no record count taken)'}`,
    };
  }
  if (input.preference === 'REST_SYNC') {
    return {
      api: 'REST_SYNC',
      reason: restSingle ? 'REST_SYNC requested by the flow' : 'REST_SYNC requested by the flow; the fields are read as several queries joined by Id because one query would exceed the URI limit',
    };
  }
  if (input.recordCount >= threshold) {
    if (!bulkAllowed) return { api: 'REST_SYNC', reason: `AUTOMATIC: ${count} records would use Bulk API 2.0, but it does not support this object` };
    return { api: 'BULKV2', reason: `AUTOMATIC: ${count} records is at or above the ${input.direction} threshold of ${fmt(threshold)}` };
  }
  if (input.direction === 'source' && !restSingle && bulkAllowed) {
    return { api: 'BULKV2', reason: `AUTOMATIC: ${count} records is below the source threshold of ${fmt(threshold)}, but the query would exceed the REST URI limit, so Bulk API 2.0 is used` };
  }
  return {
    api: 'REST_SYNC',
    reason: `AUTOMATIC: ${count} records is below the ${input.direction} threshold of ${fmt(threshold)}${!restSingle ? '; the fields are read as several queries joined by Id because one query would exceed the URI limit' : ''}`,
  };
}
