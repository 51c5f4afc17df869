import { ForceflowError, toForceflowError } from '../../core/errors.ts';
import type { RunContext, WriteResult } from '../../core/connector.ts';
import type { EntitySchema, RecordBatch, Row } from '../../core/types.ts';
import { CONTENT_TYPES, EXTENSIONS, createEncoder } from '../../formats/index.ts';
import { ROW_GROUP_BYTES } from '../../formats/parquet.ts';
import type { RecordEncoder } from '../../formats/types.ts';
import type { OutputFormatConfig } from '../../formats/config.ts';
import type { Layout } from './layout.ts';
import type { BlobStore, StagedFile, StagedWrite } from './store.ts';
import { canceled } from '../../core/cancel.ts';
import { batchSize } from '../../core/batches.ts';

/** What a run knows that a file destination's properties (S3's, LocalFile's) do not say. */
export interface FileDestinationDeps {
  readonly flowName: string;
  readonly executionId: string;
  /** The flow's schema version, for the `schemaVersion_N` folder (1 for a new flow). */
  readonly schemaVersion: number;
  /** The run's start, for date/time prefixes (UTC). */
  readonly startedAt: Date;
  /** The columns of every file (the mapped destination fields); the first batch's schema when absent. */
  readonly outputSchema?: EntitySchema;
  /** The Partition task's ORDERED_PARTITION_KEYS_LIST. */
  readonly partitionKeys?: readonly string[];
}

/**
 * The file writer shared by the S3 and LocalFile destinations: batches in, files out, laid out by a
 * {@link Layout} in a {@link BlobStore}.
 *
 * Aggregation (AppFlow's `aggregationConfig`):
 * - `targetFileSize` (MB) set: a file is closed once it reaches that size (checked every 1,000 rows, so
 *   files are close to the target, as AppFlow says "actual file sizes might differ"), whatever aggregationType.
 * - `SingleFile`: one file per partition (per run when there are no partition keys).
 * - `None` (the default): AppFlow writes one file per source page; forceflow groups pages so files are of a
 *   useful size: a file is closed at the first batch boundary after it holds 100,000 records or 64 MB.
 * A run with no records writes no file.
 *
 * Memory: one encoder and one staged upload per open file (Parquet: one page of values per column and a row group
 * of at most 8 MiB of encoded pages, 2 MiB when partitioned). At most {@link MAX_OPEN_FILES} files are open at
 * once; writing to one more partition closes the least recently used one (a later record for that partition
 * starts a new file, so SingleFile can give more than one file per partition only past 32 interleaved partitions).
 * A closed file's upload finishes (its last parts, then completing it) while the next file is written, with at
 * most two such closes under way; each holds at most its unsent parts.
 */
export const MAX_OPEN_FILES = 32;
export const NONE_MAX_RECORDS = 100_000;
export const NONE_MAX_BYTES = 64 * 1024 * 1024;
/** Files whose close (last parts, completing the upload) may be under way while the run goes on. */
const MAX_CLOSING = 2;
const SLICE = 1000;

export interface FileOutputOptions {
  readonly layout: Layout;
  readonly outputFormatConfig?: OutputFormatConfig;
  /** The Partition task's keys (destination field names), in order. */
  readonly partitionKeys?: readonly string[];
  /** The columns of every file; the first batch's schema when absent. */
  readonly outputSchema?: EntitySchema;
}

interface OpenFile {
  readonly folder: string;
  readonly encoder: RecordEncoder;
  readonly write: StagedWrite;
  records: number;
}

function writeCanceled(): ForceflowError {
  return canceled('The run was cancelled; no output was published.');
}

export async function writeFiles(
  store: BlobStore,
  batches: AsyncIterable<RecordBatch>,
  ctx: RunContext,
  options: FileOutputOptions,
): Promise<WriteResult> {
  const format = options.outputFormatConfig;
  // AppFlow's model gives fileType no default; its console preselects JSON, and so does the compiled plan
  // (src/flows/compile.ts): a flow without one writes JSON lines (docs/flows.md, docs/destinations.md).
  const fileType = format?.fileType ?? 'JSON';
  const extension = EXTENSIONS[fileType];
  const contentType = CONTENT_TYPES[fileType];
  const targetBytes = format?.aggregationConfig?.targetFileSize === undefined ? undefined : format.aggregationConfig.targetFileSize * 1024 * 1024;
  const single = format?.aggregationConfig?.aggregationType === 'SingleFile' && targetBytes === undefined;
  const keys = options.partitionKeys ?? [];
  const layout = options.layout;

  // Parquet holds a row group's encoded pages per open file: smaller groups when many partitions may be open at
  // once, and never larger than the target file size (so the size estimate is close when a file is closed).
  const rowGroupBytes = Math.min(keys.length > 0 ? 2 * 1024 * 1024 : ROW_GROUP_BYTES, targetBytes ?? Number.POSITIVE_INFINITY);
  const open = new Map<string, OpenFile>();
  // Closing a file (its last parts, then CompleteMultipartUpload on S3) goes on while the next file is written;
  // at most MAX_CLOSING closes are under way. In the order the files were closed.
  const closing: Promise<StagedFile>[] = [];
  let settled = 0;
  let sequence = 0;
  let written = 0;
  let schema = options.outputSchema;

  const openFile = (folder: string, fileSchema: EntitySchema): OpenFile => {
    const key = `${layout.folder}${folder}${layout.fileName(sequence, extension)}`;
    sequence += 1;
    const file: OpenFile = {
      folder,
      encoder: createEncoder(fileType, fileSchema, { preserveSourceDataTyping: format?.preserveSourceDataTyping === true, rowGroupBytes }),
      write: store.create(key, contentType),
      records: 0,
    };
    open.set(folder, file);
    return file;
  };
  const closeFile = async (file: OpenFile): Promise<void> => {
    open.delete(file.folder);
    const tail = file.encoder.finish();
    if (tail !== undefined) await file.write.write(tail);
    for (; closing.length - settled >= MAX_CLOSING; settled += 1) await closing[settled];
    const done = file.write.close();
    done.catch(() => undefined); // awaited later (a failure fails the run then)
    closing.push(done);
  };
  const fileFor = async (folder: string, fileSchema: EntitySchema): Promise<OpenFile> => {
    const existing = open.get(folder);
    if (existing !== undefined) {
      if (existing.encoder.schema === fileSchema) {
        // Most recently used last.
        open.delete(folder);
        open.set(folder, existing);
        return existing;
      }
      await closeFile(existing); // the columns changed: a file has one header
    }
    if (open.size >= MAX_OPEN_FILES) {
      const oldest = open.values().next().value;
      if (oldest !== undefined) await closeFile(oldest);
    }
    return openFile(folder, fileSchema);
  };

  try {
    for await (const batch of batches) {
      if (ctx.signal.aborted) throw writeCanceled();
      if (batchSize(batch) === 0) continue;
      if (schema === undefined || (options.outputSchema === undefined && batch.schema !== schema && !sameColumns(batch.schema, schema))) {
        schema = batch.schema;
      }
      const fileSchema = schema;
      if (batch.encoded !== undefined) {
        // Lines the source encoded (a Map_all flow to CSV or JSON lines, decided when it was compiled): written as they are.
        const { fileType: linesType, bytes: lines, count } = batch.encoded;
        if (keys.length > 0 || targetBytes !== undefined || linesType !== fileType || !sameColumns(batch.schema, fileSchema)) {
          throw new ForceflowError('INTERNAL', `Encoded ${linesType} lines reached a ${fileType} destination that cannot write them as they are.`);
        }
        const file = await fileFor('', fileSchema);
        if (file.encoder.encodeLines === undefined) throw new ForceflowError('INTERNAL', `The ${fileType} encoder cannot write encoded lines.`);
        const bytes = file.encoder.encodeLines(lines, count);
        if (bytes !== undefined) await file.write.write(bytes);
        // Written (StagedWrite.write resolves once the store holds no reference): the source may reuse the memory.
        batch.encoded.release?.();
        file.records += count;
        written += count;
        if (!single && (file.records >= NONE_MAX_RECORDS || file.encoder.estimatedSize >= NONE_MAX_BYTES)) await closeFile(file);
        continue;
      }
      const groups = keys.length === 0 ? new Map([['', batch.rows]]) : groupByPartition(batch.rows, keys, layout);
      const touched = new Set<OpenFile>();
      for (const [folder, rows] of groups) {
        const step = targetBytes === undefined ? rows.length : SLICE;
        for (let start = 0; start < rows.length; start += step) {
          const file = await fileFor(folder, fileSchema);
          const slice = step === rows.length ? rows : rows.slice(start, start + step);
          const bytes = file.encoder.encode(slice);
          if (bytes !== undefined) await file.write.write(bytes);
          file.encoder.written?.();
          file.records += slice.length;
          written += slice.length;
          touched.add(file);
          if (targetBytes !== undefined && file.encoder.estimatedSize >= targetBytes) await closeFile(file);
        }
      }
      if (!single && targetBytes === undefined) {
        for (const file of touched) {
          if (open.get(file.folder) === file && (file.records >= NONE_MAX_RECORDS || file.encoder.estimatedSize >= NONE_MAX_BYTES)) await closeFile(file);
        }
      }
    }
    if (ctx.signal.aborted) throw writeCanceled();
    for (const file of [...open.values()]) await closeFile(file);
    const staged = await Promise.all(closing);
    if (ctx.signal.aborted) throw writeCanceled();
    const outputs = await store.publish(staged);
    const bytesWritten = staged.reduce((sum, f) => sum + f.size, 0);
    ctx.log.debug({ files: outputs.length, records: written, bytesWritten }, 'files published');
    return { written, failed: [], bytesWritten, outputs };
  } catch (error) {
    await Promise.allSettled([...open.values()].map((f) => f.write.abort()));
    open.clear();
    const closed = await Promise.allSettled(closing);
    await store.discard(closed.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])));
    throw ctx.signal.aborted && !(error instanceof ForceflowError) ? writeCanceled() : toForceflowError(error, 'INTERNAL');
  }
}

function sameColumns(a: EntitySchema, b: EntitySchema): boolean {
  return a.fields.length === b.fields.length && a.fields.every((f, i) => f.name === b.fields[i]?.name && f.type === b.fields[i]?.type);
}

function groupByPartition(rows: readonly Row[], keys: readonly string[], layout: Layout): Map<string, Row[]> {
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const folder = layout.partitionFolder(keys.map((k) => [k, row[k]] as const));
    let group = groups.get(folder);
    if (group === undefined) {
      group = [];
      groups.set(folder, group);
    }
    group.push(row);
  }
  return groups;
}
