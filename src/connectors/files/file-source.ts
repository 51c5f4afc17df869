import { ForceflowError } from '../../core/errors.ts';
import type { ReadRequest, RunContext, Source, SourceStream } from '../../core/connector.ts';
import type { EntitySchema, RecordBatch, Row } from '../../core/types.ts';
import { fileTypeFromName, openDecoder } from '../../formats/index.ts';
import type { DecodedFile, FileType, InputFile, InputOptions } from '../../formats/types.ts';
import { rowFrom, rowTemplate } from '../../formats/rows.ts';
import type { BlobStore, StoredFile } from './store.ts';
import { throwIfCanceled } from '../../core/cancel.ts';

/**
 * The source shared by S3 and LocalFile: every file under the root, in key order, one after the other,
 * each streamed (CSV and JSON lines sequentially, Parquet one row group at a time).
 *
 * - The file type is the configured one, or else each file's extension (.csv, .json/.jsonl/.ndjson, .parquet),
 *   or else CSV. Empty files and anything under a folder or name starting with `_` or `.` are skipped.
 * - The stream's schema is the first file's; each batch carries its own file's schema.
 * - `request.fields` keeps those fields only (FIELD_NOT_FOUND if the first file lacks one);
 *   `request.excludeFields` drops fields. Filters and incremental windows are not pushed down into files:
 *   the engine evaluates them.
 * - `bytesRead` counts the bytes read from the files (the run record's bytesProcessed and the size guard).
 */
export interface FileSourceOptions {
  readonly fileType?: FileType;
  readonly entity?: string;
  readonly batchSize?: number;
  /** Invalid UTF-8 handling and line / record ceilings for CSV and JSON lines files. */
  readonly input?: InputOptions;
}

export function createFileSource(store: BlobStore, options: FileSourceOptions = {}): Source {
  return {
    async open(request: ReadRequest, ctx: RunContext): Promise<SourceStream> {
      const files = await store.list();
      const entity = request.entity !== '' ? request.entity : options.entity ?? 'records';
      let bytes = 0;
      let replaced = 0;
      const decode = (file: StoredFile): Promise<DecodedFile> => {
        let warned = false;
        return openDecoder(options.fileType ?? fileTypeFromName(file.key) ?? 'CSV', counted(store.open(file), (n) => { bytes += n; }), {
          entity,
          ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
          ...options.input,
          signal: ctx.signal,
          onInvalidUtf8Replaced: (count) => {
            replaced += count;
            if (!warned) ctx.log.warn({ file: file.key }, 'invalid UTF-8 read as U+FFFD (the run record counts the replacements)');
            warned = true;
          },
        });
      };
      const first = files[0] === undefined ? undefined : await decode(files[0]);
      const rawSchema: EntitySchema = first?.schema ?? { entity, fields: [] };
      const project = projector(rawSchema, request, store.location);
      ctx.log.debug({ files: files.length, location: store.location }, 'file source opened');

      async function* batches(): AsyncGenerator<RecordBatch> {
        for (let i = 0; i < files.length; i += 1) {
          const decoded = i === 0 && first !== undefined ? first : await decode(files[i] as StoredFile);
          for await (const batch of decoded.batches) {
            throwIfCanceled(ctx.signal, 'The run was cancelled while reading files.');
            yield project(batch);
          }
        }
      }
      return { schema: project({ rows: [], schema: rawSchema }).schema, batches: batches(), bytesRead: () => bytes, invalidUtf8Replacements: () => replaced };
    },
  };
}

/** The file, reporting every byte read from it (streamed, or ranges such as Parquet's footer and row groups). */
function counted(file: InputFile, add: (n: number) => void): InputFile {
  return {
    name: file.name,
    size: file.size,
    async *stream() {
      for await (const chunk of file.stream()) {
        add(chunk.byteLength);
        yield chunk;
      }
    },
    async read(start: number, end: number): Promise<Uint8Array> {
      const chunk = await file.read(start, end);
      add(chunk.byteLength);
      return chunk;
    },
  };
}

function projector(schema: EntitySchema, request: ReadRequest, location: string): (batch: RecordBatch) => RecordBatch {
  const wanted = request.fields;
  const excluded = new Set(request.excludeFields ?? []);
  if (wanted === undefined && excluded.size === 0) return (b) => b;
  if (wanted !== undefined && schema.fields.length > 0) {
    const missing = wanted.filter((f) => !schema.fields.some((s) => s.name === f));
    if (missing.length > 0) {
      throw new ForceflowError('FIELD_NOT_FOUND', `The files in ${location} have no field ${missing.map((m) => `"${m}"`).join(', ')}; their fields are ${schema.fields.map((f) => f.name).join(', ')}.`, {
        details: { missing },
      });
    }
  }
  const cache = new WeakMap<EntitySchema, EntitySchema>();
  const templates = new WeakMap<EntitySchema, Row>();
  return (batch) => {
    let out = cache.get(batch.schema);
    if (out === undefined) {
      const fields = wanted === undefined
        ? batch.schema.fields.filter((f) => !excluded.has(f.name))
        : wanted.filter((w) => !excluded.has(w)).map((w) => batch.schema.fields.find((f) => f.name === w) ?? { name: w, type: 'string' as const, nillable: true });
      out = { entity: batch.schema.entity, fields };
      cache.set(batch.schema, out);
    }
    const names = out.fields.map((f) => f.name);
    const template = templates.get(out) ?? rowTemplate(names);
    templates.set(out, template);
    const rows = batch.rows.map((r) => {
      const row = rowFrom(template);
      for (const n of names) row[n] = r[n] ?? null;
      return row;
    });
    return { rows, schema: out };
  };
}
