import { emptyRow } from '../../formats/rows.ts';
import type { RecordFailure } from '../../core/connector.ts';
import type { EntitySchema, FieldValue, Row } from '../../core/types.ts';
import { CsvEncoder } from '../../formats/csv.ts';
import { toFieldValue } from '../../formats/values.ts';
import { escapePathPart } from './layout.ts';
import type { BlobStore, StagedWrite } from './store.ts';

/**
 * The store the error file goes to (the runner builds it: an S3 bucket store with the flow's kmsArn, or a
 * folder store with its own staging folder, so that publishing does not sweep away another writer's staged
 * files of the same run).
 */
export type ErrorSinkTarget = BlobStore;

export interface ErrorSinkDeps {
  readonly flowName: string;
  readonly executionId: string;
  /** The input's field names, in order: the leading columns of the file. */
  readonly fields?: readonly string[];
}

export interface ErrorSink {
  add(failures: readonly RecordFailure[]): Promise<void>;
  /** Publishes the file; `key` is its `s3://…` URI or path, null when no record failed. */
  finish(): Promise<{ key: string | null; count: number }>;
  /** Drops what was staged (a run that ends without publishing its error file). */
  abort(): Promise<void>;
}

export const ERROR_COLUMNS = ['errorCode', 'errorMessage', 'errorFields'] as const;

/**
 * Where a Salesforce destination writes the records it could not write (AppFlow's
 * `errorHandlingConfig.bucketName/bucketPrefix`, or a local folder), through the store that holds it:
 *
 *   <bucketPrefix>/<flowName>/<executionId>/errors.csv    (an S3 bucket store)
 *   <localDir>/<flowName>/<executionId>/errors.csv         (a folder store)
 *
 * One CSV file (forceflow's CSV rules, see src/formats/csv.ts): the record's original fields (`fields`, or the
 * first failed record's keys, in order), then `errorCode`, `errorMessage` and `errorFields` (the fields
 * Salesforce named, `;`-separated). Keys a later record has beyond those columns are not written.
 * Rows are streamed as they are added; the file appears under its final name only on `finish()` (staged like
 * a file destination's files), and not at all when no record failed. The same code path for every store.
 */
export function createErrorSink(store: ErrorSinkTarget, deps: ErrorSinkDeps): ErrorSink {
  const key = `${escapePathPart(deps.flowName)}/${escapePathPart(deps.executionId)}/errors.csv`;
  let write: StagedWrite | undefined;
  let encoder: CsvEncoder | undefined;
  let columns: readonly string[] = [];
  let count = 0;

  return {
    async add(failures: readonly RecordFailure[]): Promise<void> {
      if (failures.length === 0) return;
      if (encoder === undefined) {
        columns = deps.fields ?? Object.keys(failures[0]?.record ?? {});
        const schema: EntitySchema = { entity: 'errors', fields: [...columns, ...ERROR_COLUMNS].map((name) => ({ name, type: 'string' as const })) };
        encoder = new CsvEncoder(schema);
        write = store.create(key, 'text/csv; charset=utf-8');
      }
      const rows = failures.map((f) => {
        const row: Row = emptyRow();
        for (const c of columns) {
          const v: FieldValue = Object.prototype.hasOwnProperty.call(f.record, c) ? toFieldValue(f.record[c]) : null;
          row[c] = v;
        }
        row['errorCode'] = f.errorCode;
        row['errorMessage'] = f.message;
        row['errorFields'] = f.fields === undefined || f.fields.length === 0 ? null : f.fields.join(';');
        return row;
      });
      const bytes = encoder.encode(rows);
      if (bytes !== undefined) await (write as StagedWrite).write(bytes);
      count += failures.length;
    },
    async finish(): Promise<{ key: string | null; count: number }> {
      if (write === undefined) return { key: null, count: 0 };
      const staged = await write.close();
      write = undefined;
      const [published] = await store.publish([staged]);
      return { key: published ?? null, count };
    },
    async abort(): Promise<void> {
      if (write !== undefined) await write.abort();
      write = undefined;
    },
  };
}
