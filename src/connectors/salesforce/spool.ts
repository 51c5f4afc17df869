import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Row } from '../../core/types.ts';
import { RowFingerprint } from './journal.ts';
import { ingestLine } from '../../salesforce-wire/bulk-csv.ts';
import { readBulkCsv } from '../../salesforce-wire/csv-reader.ts';

/**
 * The Bulk write path's disk spool: records go to CSV files (Bulk API 2.0's upload format, header first) as
 * they arrive, never held in memory. A file rolls over before it would pass `maxBytes` (100 MB: Salesforce's
 * recommended raw size per job, well under its 150 MB upload limit), so each file is exactly one job's upload.
 *
 * Each file keeps the input index of every row it holds, in file order (a row's position in its file is its
 * "position"): results are reconciled by position (reconcile.ts) and failures reported by input index.
 *
 * With `originals`, each row's record as it came (before conversion to Bulk text) is kept beside the CSV, one
 * JSON line per position (`<file>.rows.jsonl`), so the error file lists a failed record's original values,
 * as the REST path does, without holding them in memory.
 */
export const DEFAULT_JOB_BYTES = 100 * 1024 * 1024;
/** The first job's size when jobs start while the input is still read (spool files then ramp up to 100 MB). */
export const DEFAULT_FIRST_JOB_BYTES = 16 * 1024 * 1024;
const FLUSH_BYTES = 1024 * 1024;

export interface SpoolFile {
  readonly path: string;
  readonly header: readonly string[];
  /** Input index of the row at each position. */
  readonly indexes: readonly number[];
  readonly bytes: number;
  /** The original records, one JSON line per position (when the spool keeps them). */
  readonly originals?: string;
  /** Fingerprint of the rows as sent (input index and CSV line of each), for the write journal. */
  readonly fingerprint: string;
  /**
   * The rows keyed as they were added (the spool's `index` option), so the job's result-matching index needs
   * no second read and parse of the file. Taken once by the job's ledger (reconcile.ts), which clears it, so
   * the list of finished files does not keep it alive.
   */
  index?: RowIndex;
}

/** Keys each row of one spool file as it is added (position in the file, cells as sent). */
export interface RowIndex {
  add(position: number, cells: readonly string[]): void;
}

/**
 * Text appended to a file through one reused buffer: each flush writes the buffer's bytes and waits for the write,
 * so no string is concatenated per flush and no new Buffer is made per write (both were garbage: about twice the
 * spooled bytes per run, held until the next collection).
 */
class FileAppender {
  private readonly buffer = Buffer.allocUnsafe(FLUSH_BYTES);
  private used = 0;
  handle: FileHandle | undefined;

  /** Append `text` (`bytes`: its UTF-8 length). */
  async append(text: string, bytes: number): Promise<void> {
    if (this.used + bytes > this.buffer.length) await this.flush();
    if (bytes > this.buffer.length) {
      await this.handle?.write(text);
      return;
    }
    this.used += this.buffer.write(text, this.used, 'utf8');
  }

  async flush(): Promise<void> {
    if (this.used === 0 || this.handle === undefined) return;
    const used = this.used;
    this.used = 0;
    await this.handle.write(this.buffer, 0, used);
  }

  /** Flush and close; the buffer is kept for the next file. */
  async close(): Promise<void> {
    await this.flush();
    const h = this.handle;
    this.handle = undefined;
    await h?.close();
  }

  /** Close without writing what is buffered. */
  async discard(): Promise<void> {
    this.used = 0;
    const h = this.handle;
    this.handle = undefined;
    await h?.close().catch(() => undefined);
  }
}

export class CsvSpool {
  private readonly dir: string;
  private readonly header: readonly string[];
  private readonly headerLine: string;
  private readonly maxBytes: number;
  private readonly prefix: string;
  private readonly done: SpoolFile[] = [];
  private readonly out = new FileAppender();
  private path = '';
  private indexes: number[] = [];
  private bytes = 0;
  private readonly keepOriginals: boolean;
  private originalsOut: FileAppender | undefined;
  private seq = 0;
  private fingerprint = new RowFingerprint();
  private readonly newIndex: (() => RowIndex) | undefined;
  private rowIndex: RowIndex | undefined;
  /** Rows added over all files. */
  rows = 0;

  /** Called with each file as soon as it is closed (the next one is still being written). */
  private readonly onFile: ((file: SpoolFile) => void) | undefined;

  /** The first file's limit when files ramp up (see the constructor); each next file's limit doubles. */
  private readonly firstMaxBytes: number;

  /**
   * `firstMaxBytes`: when set (below `maxBytes`), the first file rolls over at that size and each next one at
   * twice the one before, up to `maxBytes`. With `onFile` sending each file to its job as it closes, a small
   * first job starts Salesforce working early while the larger ones are still being spooled.
   */
  constructor(dir: string, header: readonly string[], options: { maxBytes?: number; firstMaxBytes?: number; prefix?: string; originals?: boolean; onFile?: (file: SpoolFile) => void; index?: () => RowIndex } = {}) {
    this.onFile = options.onFile;
    this.newIndex = options.index;
    this.dir = dir;
    this.header = header;
    this.headerLine = ingestLine(header);
    this.maxBytes = options.maxBytes ?? DEFAULT_JOB_BYTES;
    this.firstMaxBytes = Math.min(this.maxBytes, options.firstMaxBytes ?? this.maxBytes);
    this.prefix = options.prefix ?? 'job';
    this.keepOriginals = options.originals ?? false;
  }

  /** Append one row (cells already converted to Bulk text; `original`: the record as it came). */
  async add(index: number, cells: readonly string[], original?: Row): Promise<void> {
    const line = ingestLine(cells);
    const size = Buffer.byteLength(line);
    if (this.out.handle !== undefined && this.indexes.length > 0 && this.bytes + size > this.limit()) await this.roll();
    if (this.out.handle === undefined) await this.openNext();
    await this.out.append(line, size);
    this.fingerprint.add(index, line);
    if (this.originalsOut !== undefined) {
      const json = `${JSON.stringify(original ?? null)}\n`;
      await this.originalsOut.append(json, Buffer.byteLength(json));
    }
    this.bytes += size;
    this.rowIndex?.add(this.indexes.length, cells);
    this.indexes.push(index);
    this.rows++;
  }

  /** The size the file being written rolls over at. */
  private limit(): number {
    return Math.min(this.maxBytes, this.firstMaxBytes * 2 ** Math.min(30, this.seq - 1));
  }

  /** Close the last file; the files in order. */
  async finish(): Promise<SpoolFile[]> {
    if (this.out.handle !== undefined) await this.roll();
    return this.done;
  }

  /** Close without keeping anything (on failure; the caller removes the folder). */
  async discard(): Promise<void> {
    await this.out.discard();
    await this.originalsOut?.discard();
  }

  private async openNext(): Promise<void> {
    this.seq++;
    this.path = join(this.dir, `${this.prefix}-${String(this.seq).padStart(4, '0')}.csv`);
    this.out.handle = await open(this.path, 'w');
    if (this.keepOriginals) {
      this.originalsOut ??= new FileAppender();
      this.originalsOut.handle = await open(`${this.path}.rows.jsonl`, 'w');
    }
    this.bytes = Buffer.byteLength(this.headerLine);
    await this.out.append(this.headerLine, this.bytes);
    this.indexes = [];
    this.fingerprint = new RowFingerprint();
    this.rowIndex = this.newIndex?.();
  }

  private async roll(): Promise<void> {
    await this.out.close();
    await this.originalsOut?.close();
    const file: SpoolFile = { path: this.path, header: this.header, indexes: this.indexes, bytes: this.bytes, fingerprint: this.fingerprint.digest(), ...(this.keepOriginals ? { originals: `${this.path}.rows.jsonl` } : {}), ...(this.rowIndex !== undefined ? { index: this.rowIndex } : {}) };
    this.rowIndex = undefined;
    this.done.push(file);
    this.onFile?.(file);
  }
}

/**
 * The rows of a spool file (header skipped), each with its position, streaming. Cells are the text sent:
 * `''` is an empty cell (a key the record did not have), `#N/A` is null.
 */
export async function* readSpoolRows(path: string): AsyncGenerator<{ position: number; cells: string[] }> {
  for await (const { from, rows } of readSpoolBatches(path)) {
    for (let i = 0; i < rows.length; i++) yield { position: from + i, cells: rows[i] as string[] };
  }
}

/** The rows of a spool file (header skipped) in groups, `from` the position of the first: for whole-file passes. */
export async function* readSpoolBatches(path: string): AsyncGenerator<{ from: number; rows: string[][] }> {
  const stream = createReadStream(path, { highWaterMark: 256 * 1024 });
  let position = -1;
  try {
    for await (const records of readBulkCsv(stream)) {
      const rows = position < 0 ? records.slice(1) : records;
      const from = Math.max(position, 0);
      position = from + rows.length;
      if (rows.length > 0) yield { from, rows };
    }
  } finally {
    stream.destroy();
  }
}

/** The original records of a spool file kept with `originals`, in position order (null where none was given). */
export async function* readSpoolOriginals(path: string): AsyncGenerator<Row | null> {
  const stream = createReadStream(path, { encoding: 'utf8' });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (line !== '') yield JSON.parse(line) as Row | null;
    }
  } finally {
    lines.close();
    stream.destroy();
  }
}
