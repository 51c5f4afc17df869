/**
 * The data model shared by every stage of a run.
 *
 * Records move between stages as {@link RecordBatch}es inside an `AsyncIterable`. Values are the
 * canonical record format: whichever API or file a record came from, the same value looks the same.
 * - datetime: ISO-8601 UTC with milliseconds and `Z` (`2024-04-16T19:00:00.000Z`)
 * - date: `YYYY-MM-DD`; time: `HH:mm:ss.SSSZ`
 * - boolean, int, double, currency, percent: JSON booleans and numbers (no float noise)
 * - null is distinct from the empty string
 * - compound address and location fields: plain objects
 */
import type { SalesforceFieldType } from '../salesforce-wire/field-types.ts';

export type ScalarValue = string | number | boolean | null;
export type CompoundValue = { readonly [key: string]: ScalarValue };
export type FieldValue = ScalarValue | CompoundValue;
export type Row = Record<string, FieldValue>;

/**
 * Salesforce field types as describe reports them (src/salesforce-wire/field-types.ts); the types our file
 * sources infer are among them.
 */
export type FieldType = SalesforceFieldType;

export interface FieldSchema {
  readonly name: string;
  readonly type: FieldType;
  readonly label?: string;
  readonly nillable?: boolean;
  /** For components of a compound field: the compound's name (describe's compoundFieldName). */
  readonly compoundFieldName?: string | null;
}

export interface EntitySchema {
  readonly entity: string;
  readonly fields: readonly FieldSchema[];
}

export interface RecordBatch {
  readonly rows: readonly Row[];
  readonly schema: EntitySchema;
  /**
   * The batch as lines of an output file, encoded by the source while it read them (issue 13): only when the
   * read asked for them (ReadRequest.encodeAs), and then `rows` is empty: count with batchSize (src/core/batches.ts).
   */
  readonly encoded?: EncodedLines;
}

/** Complete lines of a CSV (without its header) or JSON lines file, each ending in `\n`: the bytes the file type's encoder writes for `count` rows. */
export interface EncodedLines {
  readonly fileType: 'CSV' | 'JSON';
  readonly bytes: Uint8Array;
  readonly count: number;
  /**
   * Called by the consumer once nothing reads `bytes` any more (written to the file or copied into an upload's
   * part): the source may then write a later batch into the same memory (src/core/buffer-pool.ts). A consumer
   * that never calls it costs an allocation per batch, nothing else; one that reads `bytes` after calling it
   * reads another batch.
   */
  readonly release?: () => void;
}

/** The API a Salesforce side of a run used. */
export type TransferApi = 'REST_SYNC' | 'BULKV2';
export type ApiPreference = 'AUTOMATIC' | 'BULKV2' | 'REST_SYNC';
