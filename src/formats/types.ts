import type { FileType } from './config.ts';
import type { EntitySchema, RecordBatch, Row } from '../core/types.ts';

export type { FileType };

/**
 * Turns rows into the bytes of one file. Encoders are synchronous and push-style: `encode` returns the
 * bytes that are ready (possibly none: the Parquet encoder holds up to one row group), `finish` returns
 * the rest. The caller writes the bytes wherever the file goes (S3 multipart upload, local file).
 */
export interface RecordEncoder {
  readonly fileType: FileType;
  /** The columns of the file, fixed when the encoder was created. */
  readonly schema: EntitySchema;
  /** Bytes returned so far plus an estimate of what is buffered (for targetFileSize roll-over). */
  readonly estimatedSize: number;
  encode(rows: readonly Row[]): Uint8Array | undefined;
  /**
   * CSV and JSON lines: `count` lines a source encoded for this file's columns and type (RecordBatch.encoded,
   * the same bytes `encode` gives for their rows), with what the file needs before them (CSV's header).
   */
  encodeLines?(lines: Uint8Array, count: number): Uint8Array | undefined;
  /**
   * CSV and JSON lines: the bytes the last `encode` returned are written and nothing reads them any more (the
   * store's write resolved): the next `encode` may write into the same memory instead of allocating
   * (src/core/buffer-pool.ts). Not calling it only costs an allocation per batch.
   */
  written?(): void;
  finish(): Uint8Array | undefined;
}

export interface EncoderOptions {
  /** Parquet only: typed columns from the schema (true) or every value as a string (false, AppFlow's default). */
  readonly preserveSourceDataTyping?: boolean;
  /**
   * Parquet only: the most rows in a row group (default 1,000,000) and the encoded bytes (SNAPPY pages, held until
   * the group is written) that also end one (default 8 MiB, ROW_GROUP_BYTES). Groups end at a page boundary.
   */
  readonly rowGroupRows?: number;
  readonly rowGroupBytes?: number;
}

/** A file a decoder reads: sequentially (CSV, JSON lines) or by ranges (Parquet). */
export interface InputFile {
  /** For messages: `s3://bucket/key` or a path. */
  readonly name: string;
  readonly size: number;
  stream(): AsyncIterable<Uint8Array>;
  /** Bytes [start, end). */
  read(start: number, end: number): Promise<Uint8Array>;
}

/**
 * Rows per batch read from a CSV file. A batch lives until the destination has taken all of its
 * rows; at 5,000 rows that spans about 30 MB of allocation by the parse and the writer (two young-generation
 * collections or more), so every row was promoted to the old generation and the heap grew between full
 * collections with the rate of rows (docs/benchmarks.md, the import's memory). At 1,000 rows most die young.
 * (JSON lines keep 5,000: a batch is also what their column types are learned from.)
 */
export const DEFAULT_CSV_BATCH_ROWS = 1000;

export interface DecodeOptions extends InputOptions {
  /** The entity name given to the schema. */
  readonly entity: string;
  /** Rows per batch (CSV: default {@link DEFAULT_CSV_BATCH_ROWS}; JSON lines and Parquet: 5,000, Parquet's row groups split to this size). */
  readonly batchSize?: number;
  /** The run's signal: a cancel ends the read of a CSV or JSON lines file at the next chunk (RUN_CANCELED). */
  readonly signal?: AbortSignal;
  /** JSON lines: the most distinct keys a file may have (default 5,000, MAX_JSONL_COLUMNS). */
  readonly maxColumns?: number;
  /** Called as invalid UTF-8 is replaced (invalidUtf8 'replace'), with the number of replacements just made. */
  readonly onInvalidUtf8Replaced?: (count: number) => void;
}

/** How CSV and JSON lines files are read (RunFlowOptions and `forceflow run` options; docs/flows.md "Input limits"). */
export interface InputOptions {
  /** Invalid UTF-8: 'error' (default) fails the run with INPUT_INVALID; 'replace' reads U+FFFD and counts it. */
  readonly invalidUtf8?: 'error' | 'replace';
  /** Longest JSON lines line in bytes (default 64 MiB). */
  readonly maxLineBytes?: number;
  /** Longest CSV record in bytes, quoted line breaks included (default 64 MiB). */
  readonly maxRecordBytes?: number;
}

/** An opened input file: its columns, known before the first row, then its rows. */
export interface DecodedFile {
  readonly schema: EntitySchema;
  readonly batches: AsyncIterable<RecordBatch>;
}
