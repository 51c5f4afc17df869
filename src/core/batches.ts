import type { RecordBatch } from './types.ts';

/** The number of records of a batch, whether it carries rows or lines a source encoded (RecordBatch.encoded). */
export function batchSize(batch: RecordBatch): number {
  return batch.encoded === undefined ? batch.rows.length : batch.encoded.count;
}
