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
      const listed = await store.list();
      const windowed = request.window ? await fileWindow(listed, request.window, store.location, ctx) : undefined;
      const files = windowed?.files ?? listed;
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
      return {
        schema: project({ rows: [], schema: rawSchema }).schema, batches: batches(), bytesRead: () => bytes, invalidUtf8Replacements: () => replaced,
        ...(windowed?.window ? { window: windowed.window } : {}),
      };
    },
  };
}

/**
 * An incremental read of files (S3 objects, local files): the files written since the last successful run,
 * by their LastModified (mtime). From `window.from` inclusive, minus what the ledger says earlier runs
 * delivered (so a file stamped exactly at the boundary, or inside the lookback, is read once); up to
 * `window.to`, or when the runner leaves it open, up to now − offsetSeconds when an offset is set, else up to
 * the newest file listed. The window's end is that newest file's time, not the local clock: a file written
 * after the listing is stamped later than every listed one (S3's clock, whatever this machine's says), so the
 * next run reads it. The files read are staged in the ledger (those within the lookback of the end).
 */
async function fileWindow(
  listed: readonly StoredFile[],
  window: NonNullable<ReadRequest['window']>,
  location: string,
  ctx: RunContext,
): Promise<{ files: StoredFile[]; window?: { from?: string; to: string; deduplicated: boolean } }> {
  const from = window.from === undefined ? undefined : Date.parse(window.from);
  const offsetMs = (window.offsetSeconds ?? 0) * 1000;
  const upper = window.to !== undefined ? Date.parse(window.to) : offsetMs > 0 ? ctx.now().getTime() - offsetMs : Infinity;
  const stamped = listed.map((f) => {
    if (f.lastModified === undefined) {
      throw new ForceflowError('S3_ERROR', `${location} did not give the time ${f.key} was last modified, which an incremental read needs. Set dataPullMode to Complete.`, { details: { file: f.key } });
    }
    return { file: f, at: f.lastModified };
  });
  let candidates = stamped.filter((s) => (from === undefined || s.at >= from) && s.at <= upper);
  const ledger = window.ledger;
  if (ledger && candidates.length > 0) {
    const seen = await ledger.delivered(candidates.map((c) => ({ id: c.file.key, at: c.at })));
    const skipped = seen.filter(Boolean).length;
    if (skipped > 0) ctx.log.info({ skipped }, 'files an earlier run delivered are not read again');
    candidates = candidates.filter((_, i) => seen[i] !== true);
  }
  // Never before the previous end: files re-read inside the lookback must not move the window back.
  const floor = window.previousEnd === undefined ? -Infinity : Date.parse(window.previousEnd);
  const end = window.to !== undefined ? upper : candidates.reduce((max, c) => Math.max(max, c.at), floor);
  ctx.log.debug({ listed: listed.length, read: candidates.length, from: window.from ?? null }, 'incremental file window');
  if (!Number.isFinite(end)) return { files: [] };
  const keys = candidates.map((c) => ({ id: c.file.key, at: c.at }));
  await ledger?.stage(keys, end);
  return { files: candidates.map((c) => c.file), window: { ...(window.from === undefined ? {} : { from: window.from }), to: new Date(end).toISOString(), deduplicated: ledger !== undefined } };
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
