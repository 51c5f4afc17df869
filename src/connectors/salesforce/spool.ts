import { createReadStream } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Row } from '../../core/types.ts';
import { ForceflowError } from '../../core/errors.ts';
import { RowFingerprint } from './journal.ts';
import { RowIndexes } from './row-indexes.ts';
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
 * as the REST path does, without holding them in memory. A row added without one (`null`) is its cells read
 * back (write-plan.ts recordFromCells): the writer passes none when that gives the record exactly.
 */
export const DEFAULT_JOB_BYTES = 100 * 1024 * 1024;
/** The smallest job when jobs start while the input is still read (see CsvSpool's `rollEarly`). */
export const DEFAULT_MIN_JOB_BYTES = 16 * 1024 * 1024;
const FLUSH_BYTES = 1024 * 1024;
const IDENTITY_FLUSH_BYTES = 256 * 1024;

/** Lines joined into one string before they are copied into a {@link FileBuffer} (one native call per group, not per line). */
const GROUP_LINES = 32;

/**
 * A file's pending lines, encoded (UTF-8) into one buffer that is reused after each write. Not a growing
 * string: a string holding a megabyte of lines lives across several young-generation collections, so it and
 * every line in it are promoted to the old generation, which then grows by the whole spool between full
 * collections. Lines are grouped by {@link GROUP_LINES} (a short-lived string) and the group copied in.
 */
class FileBuffer {
  private readonly buffer: Buffer;
  private length = 0;
  private group = '';
  /** At least the UTF-8 size of `group`. */
  private groupBytes = 0;
  private grouped = 0;

  constructor(size: number) {
    this.buffer = Buffer.allocUnsafe(size);
  }

  /** Appends `text` (`bytes`: its UTF-8 size, or more); true when a group is complete: the caller then calls {@link pack}. */
  add(text: string, bytes = text.length * 3): boolean {
    this.group += text;
    this.groupBytes += bytes;
    return ++this.grouped >= GROUP_LINES;
  }

  /** Copies the group into the buffer, first writing the buffer to `handle` when the group may not fit. */
  async pack(handle: FileHandle): Promise<void> {
    if (this.grouped === 0) return;
    const text = this.group;
    const bytes = this.groupBytes;
    this.group = '';
    this.groupBytes = 0;
    this.grouped = 0;
    if (this.length + bytes > this.buffer.length) await this.write(handle);
    if (bytes > this.buffer.length) await handle.write(text);
    else this.length += this.buffer.write(text, this.length);
  }

  /** Writes everything appended so far to `handle`. */
  async flush(handle: FileHandle): Promise<void> {
    await this.pack(handle);
    await this.write(handle);
  }

  /** Forgets what was appended (a new file). */
  clear(): void {
    this.length = 0;
    this.group = '';
    this.groupBytes = 0;
    this.grouped = 0;
  }

  private async write(handle: FileHandle): Promise<void> {
    let at = 0;
    while (at < this.length) at += (await handle.write(this.buffer, at, this.length - at)).bytesWritten;
    this.length = 0;
  }
}

export interface SpoolFile {
  readonly path: string;
  readonly header: readonly string[];
  /** Input index of the row at each position (runs of consecutive indexes: a few numbers per file, row-indexes.ts). */
  readonly indexes: RowIndexes;
  readonly bytes: number;
  /** The original records, one JSON line per position (when the spool keeps them). */
  readonly originals?: string;
  /** Fingerprint of the rows as sent (input index and CSV line of each), for the write journal. */
  readonly fingerprint: string;
  /** The identity column's cell of each row, one line per position (see {@link identityLine}), when the spool keeps them. */
  readonly identities?: string;
}

/**
 * A cell as one line of a spool's identities file: as it is, or as a JSON string when it holds a line break
 * or starts with a quote (see {@link forEachIdentity}).
 */
function identityLine(cell: string): string {
  return cell.includes('\n') || cell.includes('\r') || cell.charCodeAt(0) === 34 ? `${JSON.stringify(cell)}\n` : `${cell}\n`;
}

/**
 * Calls `each` with the cells of an identities file ({@link SpoolFile.identities}), in position order; returns how
 * many there were. No array of them: a job's cells (up to 500,000) would all live until the last is read, long
 * enough to be promoted to the old generation, where only a full collection frees them. Read in chunks of 64 KB,
 * not as one string: a job's file (about 6 MB at 500,000 rows) would be allocated straight in the old generation.
 */
export async function forEachIdentity(path: string, each: (position: number, cell: string) => void): Promise<number> {
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 64 * 1024 });
  let position = 0;
  let rest = '';
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      const text = rest === '' ? chunk : rest + chunk;
      let from = 0;
      for (let lf = text.indexOf('\n'); lf >= 0; lf = text.indexOf('\n', from)) {
        const line = text.slice(from, lf);
        each(position++, line.charCodeAt(0) === 34 ? (JSON.parse(line) as string) : line);
        from = lf + 1;
      }
      rest = text.slice(from);
    }
  } finally {
    stream.destroy();
  }
  if (rest !== '') throw new ForceflowError('INTERNAL', `The identities file ${path} ends without a line end.`);
  return position;
}

export class CsvSpool {
  private readonly dir: string;
  private readonly header: readonly string[];
  private readonly headerLine: string;
  private readonly maxBytes: number;
  private readonly prefix: string;
  /** The closed files, when no `onFile` takes them (one that does keeps nothing: a file's row indexes go with its job). */
  private readonly done: SpoolFile[] = [];
  private handle: FileHandle | undefined;
  private path = '';
  private indexes = new RowIndexes();
  private bytes = 0;
  /** Lines not written yet (of the CSV file, the originals, the identities). */
  private readonly pending = new FileBuffer(FLUSH_BYTES);
  private readonly keepOriginals: boolean;
  private originalsHandle: FileHandle | undefined;
  private readonly pendingOriginals: FileBuffer;
  /** The column whose cells go to the identities file (-1: none). */
  private readonly identity: number;
  private identitiesHandle: FileHandle | undefined;
  private readonly pendingIdentities: FileBuffer;
  private seq = 0;
  private fingerprint = new RowFingerprint();
  /** Files closed so far. */
  files = 0;
  /** Rows added over all files. */
  rows = 0;

  /** Called with each file as soon as it is closed (the next one is still being written). */
  private readonly onFile: ((file: SpoolFile) => void) | undefined;

  /** A file of at least `minBytes` rolls over as soon as `rollEarly` says so (see the constructor). */
  private readonly minBytes: number;
  private readonly rollEarly: (() => boolean) | undefined;

  /**
   * `rollEarly`: asked as rows are added, once the file holds at least `minBytes` (below `maxBytes`): true rolls
   * the file over then. With `onFile` sending each file to its job as it closes, and `rollEarly` saying that no
   * job waits behind the one Salesforce is processing, a job is as large as what was spooled while Salesforce
   * processed the one before it (up to `maxBytes`): the first starts early, and Salesforce is not left idle
   * waiting for a large file while the input is read at about the pace it writes.
   *
   * `identity`: a column whose cells are also written to a file of their own (SpoolFile.identities), so that
   * matching results (reconcile.ts) reads those instead of parsing the whole spool file again.
   */
  constructor(dir: string, header: readonly string[], options: { maxBytes?: number; minBytes?: number; rollEarly?: () => boolean; prefix?: string; originals?: boolean; identity?: number; onFile?: (file: SpoolFile) => void } = {}) {
    this.onFile = options.onFile;
    this.identity = options.identity ?? -1;
    this.dir = dir;
    this.header = header;
    this.headerLine = ingestLine(header);
    this.maxBytes = options.maxBytes ?? DEFAULT_JOB_BYTES;
    this.minBytes = Math.min(this.maxBytes, options.minBytes ?? this.maxBytes);
    this.rollEarly = options.rollEarly;
    this.prefix = options.prefix ?? 'job';
    this.keepOriginals = options.originals ?? false;
    this.pendingOriginals = new FileBuffer(this.keepOriginals ? FLUSH_BYTES : 0);
    this.pendingIdentities = new FileBuffer(this.identity >= 0 ? IDENTITY_FLUSH_BYTES : 0);
  }

  /** Append one row (cells already converted to Bulk text; `original`: the record as it came, when its cells do not give it back). */
  async add(index: number, cells: readonly string[], original?: Row): Promise<void> {
    const line = ingestLine(cells);
    const size = Buffer.byteLength(line);
    if (this.handle !== undefined && this.indexes.length > 0 && (this.bytes + size > this.maxBytes || (this.rollEarly !== undefined && this.bytes >= this.minBytes && this.rollEarly()))) await this.roll();
    if (this.handle === undefined) await this.openNext();
    this.fingerprint.add(index, line);
    if (this.pending.add(line, size)) await this.pending.pack(this.handle as FileHandle);
    if (this.keepOriginals && this.pendingOriginals.add(original === undefined ? 'null\n' : `${JSON.stringify(original)}\n`)) await this.pendingOriginals.pack(this.originalsHandle as FileHandle);
    if (this.identity >= 0 && this.pendingIdentities.add(identityLine(cells[this.identity] ?? ''))) await this.pendingIdentities.pack(this.identitiesHandle as FileHandle);
    this.bytes += size;
    this.indexes.push(index);
    this.rows++;
  }

  /** Close the last file; the files in order (none when `onFile` took each as it closed). */
  async finish(): Promise<SpoolFile[]> {
    if (this.handle !== undefined) await this.roll();
    return this.done;
  }

  /** Close without keeping anything (on failure; the caller removes the folder). */
  async discard(): Promise<void> {
    const h = this.handle;
    const o = this.originalsHandle;
    const i = this.identitiesHandle;
    this.handle = undefined;
    this.originalsHandle = undefined;
    this.identitiesHandle = undefined;
    await h?.close().catch(() => undefined);
    await o?.close().catch(() => undefined);
    await i?.close().catch(() => undefined);
  }

  private async openNext(): Promise<void> {
    this.seq++;
    this.path = join(this.dir, `${this.prefix}-${String(this.seq).padStart(4, '0')}.csv`);
    this.handle = await open(this.path, 'w');
    if (this.keepOriginals) this.originalsHandle = await open(`${this.path}.rows.jsonl`, 'w');
    if (this.identity >= 0) this.identitiesHandle = await open(`${this.path}.ids`, 'w');
    this.pending.clear();
    this.pendingOriginals.clear();
    this.pendingIdentities.clear();
    this.pending.add(this.headerLine, Buffer.byteLength(this.headerLine));
    this.bytes = Buffer.byteLength(this.headerLine);
    this.indexes = new RowIndexes();
    this.fingerprint = new RowFingerprint();
  }

  private async roll(): Promise<void> {
    if (this.handle !== undefined) await this.pending.flush(this.handle);
    if (this.originalsHandle !== undefined) await this.pendingOriginals.flush(this.originalsHandle);
    if (this.identitiesHandle !== undefined) await this.pendingIdentities.flush(this.identitiesHandle);
    await this.handle?.close();
    await this.originalsHandle?.close();
    await this.identitiesHandle?.close();
    this.handle = undefined;
    this.originalsHandle = undefined;
    this.identitiesHandle = undefined;
    const file: SpoolFile = {
      path: this.path, header: this.header, indexes: this.indexes, bytes: this.bytes, fingerprint: this.fingerprint.digest(),
      ...(this.keepOriginals ? { originals: `${this.path}.rows.jsonl` } : {}),
      ...(this.identity >= 0 ? { identities: `${this.path}.ids` } : {}),
    };
    this.files++;
    if (this.onFile !== undefined) this.onFile(file);
    else this.done.push(file);
  }
}

/** Removes a spool file and the files beside it (originals, identities); one already gone is no error. */
export async function removeSpoolFile(file: SpoolFile): Promise<void> {
  for (const path of [file.path, file.originals, file.identities]) {
    if (path !== undefined) await rm(path, { force: true }).catch(() => undefined);
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

/**
 * The rows of a spool file (header skipped) in groups, `from` the position of the first: for whole-file passes.
 * `transient`: the cells do not outlive the pass (they may keep a chunk of the file's text alive; readBulkCsv).
 */
export async function* readSpoolBatches(path: string, transient = false): AsyncGenerator<{ from: number; rows: string[][] }> {
  const stream = createReadStream(path, { highWaterMark: 256 * 1024 });
  let position = -1;
  try {
    for await (const records of readBulkCsv(stream, ',', { wholeAsciiChunks: transient })) {
      const rows = position < 0 ? records.slice(1) : records;
      const from = Math.max(position, 0);
      position = from + rows.length;
      if (rows.length > 0) yield { from, rows };
    }
  } finally {
    stream.destroy();
  }
}

/** The original records of a spool file kept with `originals`, in position order (null where none was given: the row's cells give it). */
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
