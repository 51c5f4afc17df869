import { isAscii, isUtf8 } from 'node:buffer';
import { CsvScanner, EMIT_ROOM, SCAN_FULL, SCAN_INCOMPLETE } from './csv-scan.ts';

export { EMIT_ROOM };
import { ForceflowError } from '../core/errors.ts';

/**
 * A streaming parser for Bulk API 2.0 result CSV (RFC 4180: quoted fields, `""` escapes, quoted
 * newlines, LF or CRLF record ends, one-character delimiter).
 *
 * Why not csv-parse: on the Bulk read path csv-parse was the bottleneck, about 10 MB/s and 28% of CPU in a
 * profile of a 200,000-record read. Salesforce quotes every value, so this parser jumps from quote to quote
 * with indexOf and slices whole values instead of visiting each character. It is forceflow's one CSV reader: Bulk query results, Bulk ingest results and the write spool
 * ({@link readBulkCsv}), and user CSV files in its strict mode ({@link BulkCsvOptions}, src/formats/csv.ts).
 * {@link BulkCsvRecords} (below) puts a byte scanner in front of it for the Bulk export to files: plain records as
 * bytes, everything else through this parser.
 */
const STREAM = { stream: true } as const;

/** The longest record a results page may hold before the read is refused (characters): see {@link BulkCsvParser}. */
export const MAX_BULK_RECORD_CHARS = 64 * 1024 * 1024;

/** Why a read was refused: a malformed record, or an unfinished one past the ceiling. */
export type CsvFailure = 'malformed' | 'too-long';

/**
 * How a {@link BulkCsvParser} reads (the defaults read Bulk API results as Salesforce writes them). The options
 * make it the reader of user CSV files too (src/formats/csv.ts), with what csv-parse did there: record ends
 * auto-detected, nulls, skipped empty lines, strict quotes and record lengths, errors naming the line.
 */
export interface BulkCsvOptions {
  /**
   * 'any' (default): CR, LF and CRLF each end a record. 'first': the first line break outside quotes (LF, CRLF
   * or CR) is the record end, and the other line break characters are ordinary characters of unquoted values.
   */
  readonly recordEnd?: 'any' | 'first';
  /** An empty unquoted cell is null (an empty quoted cell stays ''). */
  readonly nulls?: boolean;
  /** A line with nothing on it is no record. */
  readonly skipEmptyLines?: boolean;
  /** Every record must have as many cells as the first (else a 'malformed' failure). */
  readonly sameLength?: boolean;
  /** A quote inside an unquoted value is a 'malformed' failure. */
  readonly strictQuotes?: boolean;
  /**
   * Builds the error thrown for a failure; `line` is the line (from 1; LFs counted, or CRs in a CR file) where
   * the record starts.
   * With it, lines are counted; without it, failures throw SF_API_ERROR (too long) or a plain Error.
   */
  readonly fail?: (reason: CsvFailure, message: string, line: number) => Error;
  /**
   * A chunk that is all ASCII is decoded in one piece instead of line by line (see {@link BulkCsvParser.push}):
   * fewer decoder calls, but each value is then a slice of the whole chunk's text and keeps it alive as long as
   * the value lives. Only for readers whose values do not outlive the read (result matching).
   */
  readonly wholeAsciiChunks?: boolean;
}

/** A record end: none yet known ('first' mode), LF, CR, CRLF, or any of them. */
const EOL_UNKNOWN = 0;
const EOL_LF = 1;
const EOL_CR = 2;
const EOL_CRLF = 3;
const EOL_ANY = 4;

export class BulkCsvParser<Cell extends string | null = string> {
  private readonly delimiter: number;
  private readonly decoder = new TextDecoder('utf-8');
  private pending = '';
  private first = true;
  private readonly maxRecordChars: number;
  private eol: number;
  private readonly nulls: boolean;
  private readonly skipEmpty: boolean;
  private readonly sameLength: boolean;
  private readonly strictQuotes: boolean;
  private readonly fail: BulkCsvOptions['fail'];
  private readonly wholeAscii: boolean;
  private width = -1;
  /** A failure found after records this call returns: thrown by the next call. */
  private failed: Error | undefined;
  /** The line where `pending` starts (counted only with `fail`). */
  private line = 1;

  /**
   * `maxRecordChars` bounds the text held for one unfinished record: a Salesforce record is at most a few MB, so
   * a body that never ends a record (not Bulk CSV: a proxy's error page streamed forever, an unclosed quote) is
   * refused with SF_API_ERROR instead of growing one string until the process runs out of memory.
   */
  constructor(delimiter = ',', maxRecordChars = MAX_BULK_RECORD_CHARS, options: BulkCsvOptions = {}) {
    this.delimiter = delimiter.charCodeAt(0);
    this.maxRecordChars = maxRecordChars;
    this.eol = options.recordEnd === 'first' ? EOL_UNKNOWN : EOL_ANY;
    this.nulls = options.nulls ?? false;
    this.skipEmpty = options.skipEmptyLines ?? false;
    this.sameLength = options.sameLength ?? false;
    this.strictQuotes = options.strictQuotes ?? false;
    this.fail = options.fail;
    this.wholeAscii = options.wholeAsciiChunks ?? false;
  }

  /**
   * Parse a chunk; returns the complete records it finished (the header row included).
   *
   * The chunk is decoded line by line (at LF bytes, which never occur inside a multi-byte character) rather
   * than whole: V8 makes a two-byte string of any text holding one non-ASCII character, and every value sliced
   * from it is two-byte too (twice the memory, slower JSON.stringify and UTF-8 encoding downstream). Decoded by
   * line, only the records that hold such a character are two-byte. A quoted LF just leaves a record pending.
   */
  push(chunk: Uint8Array): Cell[][] {
    return this.collect((out) => this.decodeLines(chunk, out));
  }

  /**
   * The records `fill` finishes. When it throws after some, those come first (as a streaming parser gives them)
   * and the error with the next call; a failure found earlier is thrown at once.
   */
  private collect(fill: (out: Cell[][]) => void): Cell[][] {
    if (this.failed !== undefined) throw this.failed;
    const out: Cell[][] = [];
    try {
      fill(out);
    } catch (error) {
      if (out.length === 0) throw error;
      this.failed = error as Error;
    }
    return out;
  }

  private decodeLines(chunk: Uint8Array, out: Cell[][]): void {
    if (this.wholeAscii && !this.first && isAscii(chunk)) {
      // One-byte text either way; the decoder's state is the same as after decoding it line by line.
      const text = this.decoder.decode(chunk, STREAM);
      this.pending = this.pending.length === 0 ? text : this.pending + text;
      this.drain(false, out);
      return;
    }
    const n = chunk.byteLength;
    let from = 0;
    while (from < n) {
      const lf = chunk.indexOf(10, from);
      const to = lf < 0 ? n : lf + 1;
      let text = this.decoder.decode(chunk.subarray(from, to), STREAM);
      from = to;
      if (this.first && text.length > 0) {
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        this.first = false;
      }
      this.pending = this.pending.length === 0 ? text : this.pending + text;
      this.drain(false, out);
    }
  }

  /** Finish: the last record (which may lack a final newline). Throws on an unterminated quote. */
  end(): Cell[][] {
    return this.collect((out) => {
      this.pending += this.decoder.decode();
      this.drain(true, out);
    });
  }

  /**
   * No record started and no text held: the parser is where a fresh one would be after the header (used by
   * {@link BulkCsvRecords} to hand the bytes that follow to its byte scanner; only true right after a line end).
   */
  idle(): boolean {
    return this.pending.length === 0 && this.failed === undefined;
  }

  private error(reason: CsvFailure, message: string): Error {
    return this.fail === undefined ? new Error(message) : this.fail(reason, message, this.line);
  }

  /**
   * The length of the record end at `k` of `s` (0: none there; -1: cannot tell before more text comes). In
   * 'first' mode the first line break seen decides what a record end is.
   */
  private breakAt(s: string, k: number, final: boolean): number {
    const c = s.charCodeAt(k);
    if (c !== 10 && c !== 13) return 0;
    let eol = this.eol;
    if (c === 13 && (eol === EOL_ANY || eol === EOL_UNKNOWN || eol === EOL_CRLF)) {
      if (k + 1 >= s.length && !final) return -1;
      const crlf = s.charCodeAt(k + 1) === 10;
      if (eol === EOL_UNKNOWN) eol = this.eol = crlf ? EOL_CRLF : EOL_CR;
      if (eol === EOL_CRLF) return crlf ? 2 : 0;
      return crlf && eol === EOL_ANY ? 2 : 1;
    }
    if (eol === EOL_UNKNOWN) eol = this.eol = c === 10 ? EOL_LF : EOL_CR;
    if (eol === EOL_ANY) return 1;
    return (c === 10 && eol === EOL_LF) || (c === 13 && eol === EOL_CR) ? 1 : 0;
  }

  /** Lines counted past `s[from, to)`. */
  private advance(s: string, from: number, to: number): void {
    if (this.fail === undefined) return;
    // Lines end at LF, or at CR in a file whose records end with CR alone.
    const br = this.eol === EOL_CR ? '\r' : '\n';
    for (let i = s.indexOf(br, from); i >= 0 && i < to; i = s.indexOf(br, i + 1)) this.line++;
  }

  private drain(final: boolean, out: Cell[][]): void {
    const s = this.pending;
    const n = s.length;
    const delim = this.delimiter;
    const anyEol = this.eol === EOL_ANY;
    let start = 0;
    outer: while (start < n) {
      if (this.skipEmpty) {
        const len = this.breakAt(s, start, final);
        if (len < 0) break;
        if (len > 0) {
          this.advance(s, start, start + len);
          start += len;
          continue;
        }
      }
      const row: Cell[] = [];
      let pos = start;
      for (;;) {
        let value: string | null;
        if (s.charCodeAt(pos) === 34) {
          // Quoted: jump between quotes; a doubled quote is an escaped one.
          let j = pos + 1;
          let acc = '';
          for (;;) {
            const k = s.indexOf('"', j);
            if (k < 0) {
              if (final) throw this.error('malformed', this.fail === undefined ? 'unterminated quoted field at the end of the results' : 'a quote opened here is never closed (an unclosed quote makes one value of the rest of the file)');
              break outer;
            }
            if (k + 1 >= n && !final) break outer; // cannot tell "" from the closing quote yet
            if (s.charCodeAt(k + 1) === 34) {
              acc += s.slice(j, k + 1);
              j = k + 2;
              continue;
            }
            value = acc.length === 0 ? s.slice(j, k) : acc + s.slice(j, k);
            pos = k + 1;
            break;
          }
        } else {
          let k = pos;
          if (anyEol) {
            while (k < n) {
              const c = s.charCodeAt(k);
              if (c === delim || c === 10 || c === 13) break;
              if (c === 34 && this.strictQuotes) throw this.error('malformed', `a quote inside the unquoted value ${JSON.stringify(s.slice(pos, Math.min(k + 1, pos + 60)))} (a value with a quote must be quoted whole, its quotes doubled)`);
              k++;
            }
          } else {
            while (k < n) {
              const c = s.charCodeAt(k);
              if (c === delim) break;
              if (c === 10 || c === 13) {
                const len = this.breakAt(s, k, final);
                if (len < 0) break outer;
                if (len > 0) break;
              } else if (c === 34 && this.strictQuotes) {
                throw this.error('malformed', `a quote inside the unquoted value ${JSON.stringify(s.slice(pos, Math.min(k + 1, pos + 60)))} (a value with a quote must be quoted whole, its quotes doubled)`);
              }
              k++;
            }
          }
          if (k >= n && !final) break outer;
          value = k === pos && this.nulls ? null : s.slice(pos, k);
          pos = k;
        }
        row.push(value as Cell);
        if (pos >= n) {
          if (!final) break outer;
          this.record(row, out);
          this.advance(s, start, n);
          start = n;
          break;
        }
        if (s.charCodeAt(pos) === delim) {
          pos++;
          if (pos >= n && !final) break outer;
          continue;
        }
        const len = this.breakAt(s, pos, final);
        if (len < 0) break outer;
        if (len === 0) throw this.error('malformed', this.fail === undefined ? `unexpected character after a quoted field at offset ${pos}` : `a closing quote is followed by ${JSON.stringify(s.slice(pos, pos + 10))} instead of a delimiter or a line end (a quote inside a quoted value must be doubled)`);
        pos += len;
        this.record(row, out);
        this.advance(s, start, pos);
        start = pos;
        break;
      }
    }
    this.pending = start >= n ? '' : s.slice(start);
    if (this.pending.length > this.maxRecordChars) {
      if (this.fail !== undefined) throw this.fail('too-long', `a CSV record is longer than ${this.maxRecordChars} characters and still not finished`, this.line);
      throw new ForceflowError('SF_API_ERROR', `A Bulk API result record is longer than ${this.maxRecordChars} characters and still not finished: the results are not the CSV Salesforce sends (an unclosed quote, or a proxy answering with something else). Check the proxy between forceflow and Salesforce, and run again.`, {
        details: { limit: this.maxRecordChars },
      });
    }
  }

  private record(row: Cell[], out: Cell[][]): void {
    if (this.sameLength) {
      if (this.width < 0) this.width = row.length;
      else if (row.length !== this.width) throw this.error('malformed', `the record has ${row.length} cell(s) where the first row has ${this.width}`);
    }
    out.push(row);
  }
}

/**
 * The records of Bulk CSV in `source` (results, or a spool file), in groups as the chunks finish them; the header
 * row included, empty lines skipped, records of any length.
 */
export async function* readBulkCsv(source: AsyncIterable<Uint8Array>, delimiter = ',', options: { wholeAsciiChunks?: boolean } = {}): AsyncGenerator<string[][]> {
  const parser = new BulkCsvParser(delimiter, MAX_BULK_RECORD_CHARS, { skipEmptyLines: true, ...options });
  for await (const chunk of source) {
    const records = parser.push(chunk);
    if (records.length > 0) yield records;
  }
  const last = parser.end();
  if (last.length > 0) yield last;
  parser.end(); // throws a failure found after the last records
}

/** What {@link BulkCsvRecords.next} gives: no record (it needs the next chunk, or the results are read). */
export const NO_RECORD = 0;
/** A record as bytes: {@link BulkCsvRecords.buf} and the bounds of its cells. */
export const BYTES_RECORD = 1;
/** A record as the parser's cells: {@link BulkCsvRecords.cells}. */
export const CELLS_RECORD = 2;

/** Classes of the bytes of a cell's content, or-ed in {@link BulkCsvRecords.flags}: a byte ≥ 0x80. */
export const BYTE_NON_ASCII = 1;
/** A byte a CSV cell written with forceflow's encoder is quoted for: `,` `"` CR LF. */
export const BYTE_CSV_QUOTE = 2;
/** A byte JSON.stringify escapes: `"` `\` and controls below 0x20. */
export const BYTE_JSON_ESCAPE = 4;
/** An escaped quote (`""`) in the cell. */
export const BYTE_QUOTE = 8;

/** The bytes of one unfinished record held across chunks before the parser takes over (it scans them once; the byte scanner rescans a carried record with each chunk). */
const CARRY_LIMIT = 1 << 20;
const EMPTY = Buffer.alloc(0);

/**
 * The records of one Bulk results body, given as bytes where they are as Salesforce writes them, for a consumer
 * that copies bytes (the Bulk export to CSV or JSON lines files, issue 13), else as {@link BulkCsvParser}'s cells.
 *
 * A plain record, every cell quoted and the delimiter between them, ending with LF, is scanned as bytes (no
 * string per cell) by a WebAssembly scanner ({@link CsvScanner}, csv-scan.wat, working on its own copy of each
 * input): its cells' content bounds and byte classes ({@link BYTE_NON_ASCII}...), in `starts`/`ends`/`flags`,
 * views on the scanner's memory valid until the next call of {@link next}. Anything else goes
 * to the parser from that record on: the header (and a BOM), an unquoted cell, a CR record end, the last record
 * without LF, a record longer than 1 MiB still unfinished; the bytes go back to the scanner at the first line end
 * after which the parser holds nothing (so both read the body as the parser alone would, records and failures
 * alike). A record split across chunks is carried to the next one. A consumer that cannot write a bytes record
 * asks for its cells ({@link cellsOfBytes}: the parser's own for those bytes).
 */
export class BulkCsvRecords {
  readonly #parser: BulkCsvParser;
  #input: Buffer = EMPTY;
  #pos = 0;
  #final = false;
  #ended = false;
  /** Scanning bytes (else pushing lines to the parser). */
  #scanning = false;
  #queue: string[][] = [];
  #next = 0;
  /** Where the record carried to the next chunk starts in the input (-1: none). */
  #tail = -1;
  #inputView: DataView = new DataView(EMPTY.buffer, 0, 0);
  readonly #scanner: CsvScanner;
  /** The input's bytes before this are valid UTF-8 (-1: not checked yet). */
  #utf8To = -1;

  /** The bytes record: `buf[start, end)` (its LF included), its cells' contents `buf[starts[i], ends[i])` with classes `flags[i]`, for i < count; `classes` or-s them. */
  buf: Buffer = EMPTY;
  /** `buf` as a DataView (for copies four bytes at a time). */
  view: DataView = new DataView(EMPTY.buffer, 0, 0);
  start = 0;
  end = 0;
  count = 0;
  classes = 0;
  starts: Int32Array;
  ends: Int32Array;
  flags: Uint8Array;
  /** The cells record. */
  cells: string[] = [];
  /** Records given as bytes, and as the parser's cells (the header included). */
  scanned = 0;
  parsed = 0;

  constructor(delimiter = ',') {
    this.#parser = new BulkCsvParser(delimiter);
    this.#scanner = new CsvScanner(delimiter.charCodeAt(0));
    this.starts = this.#scanner.starts;
    this.ends = this.#scanner.ends;
    this.flags = this.#scanner.flags;
  }

  /**
   * The next chunk of the body (once {@link next} gave {@link NO_RECORD}), or its end (undefined). The chunk is
   * copied into the scanner's memory (after the bytes of a record carried over): `buf` of a bytes record is valid
   * until the next push.
   */
  push(chunk: Uint8Array | undefined): void {
    if (chunk === undefined) this.#final = true;
    const from = this.#tail;
    const keep = from < 0 ? 0 : this.#input.length - from;
    this.#scanner.input(Math.max(from, 0), keep, chunk ?? EMPTY);
    this.#tail = -1;
    this.#pos = 0;
    this.#setInput();
    this.#cellArrays();
    this.#utf8To = -1;
  }

  #setInput(): void {
    this.#input = this.#scanner.bytes;
    this.#inputView = this.#scanner.view;
  }

  /**
   * Whether the bytes record is valid UTF-8: checked once for the input up to its last LF (a record lies between
   * line ends, so it is valid when that is), else on its own bytes.
   */
  utf8(): boolean {
    if (this.#utf8To < 0) {
      const to = this.#input.lastIndexOf(10) + 1;
      this.#utf8To = to > 0 && isUtf8(this.#input.subarray(0, to)) ? to : 0;
    }
    return this.end <= this.#utf8To || isUtf8(this.buf.subarray(this.start, this.end));
  }

  /** The next record: {@link BYTES_RECORD}, {@link CELLS_RECORD} or {@link NO_RECORD}. Throws the parser's failures. */
  next(): number {
    for (;;) {
      if (this.#next < this.#queue.length) {
        this.cells = this.#queue[this.#next++] as string[];
        this.parsed++;
        return CELLS_RECORD;
      }
      const input = this.#input;
      const n = input.length;
      const pos = this.#pos;
      if (this.#scanning) {
        if (pos >= n) return NO_RECORD;
        const end = this.#scan(pos, n);
        if (end >= 0) {
          this.buf = this.#input; // not `input`: the scanner may have moved it (SCAN_FULL)
          this.view = this.#inputView;
          this.start = pos;
          this.end = end;
          this.#pos = end;
          this.scanned++;
          return BYTES_RECORD;
        }
        if (end === SCAN_INCOMPLETE && !this.#final && n - pos <= CARRY_LIMIT) {
          this.#tail = pos;
          this.#pos = n;
          return NO_RECORD;
        }
        this.#scanning = false;
        continue;
      }
      if (pos < n) {
        // Line by line, so the scanner can take over at the first line end the parser is idle after.
        const lf = input.indexOf(10, pos);
        const to = lf < 0 ? n : lf + 1;
        this.#queue = this.#parser.push(input.subarray(pos, to));
        this.#next = 0;
        this.#pos = to;
        if (lf >= 0 && this.#parser.idle()) this.#scanning = true;
        continue;
      }
      if (this.#final && !this.#ended) {
        this.#ended = true;
        this.#queue = this.#parser.end();
        this.#next = 0;
        continue;
      }
      return NO_RECORD;
    }
  }

  /**
   * The bytes record's line written by the scanner's module with a line writer's `program` at `at` of
   * {@link output} ({@link CsvScanner.emit}): the end of what it wrote, or -1 when the program leaves the record to
   * JavaScript.
   */
  emit(program: Uint8Array, at: number): number {
    const end = this.#scanner.emit(program, at);
    if (this.#scanner.bytes !== this.#input) {
      // The scanner moved the input for the program: the same record, at the same offsets, in new views.
      this.#setInput();
      this.#cellArrays();
      this.buf = this.#input;
      this.view = this.#inputView;
    }
    return end;
  }

  /** Where {@link emit} writes: {@link EMIT_ROOM} bytes, kept until the next emit there (the view may be new after a push or emit). */
  get output(): Buffer {
    return this.#scanner.output;
  }

  /** The bytes record's cells as the parser reads them (a record the consumer cannot write from its bytes). */
  cellsOfBytes(): string[] {
    const records = this.#parser.push(this.buf.subarray(this.start, this.end));
    if (records.length !== 1 || !this.#parser.idle()) throw new ForceflowError('INTERNAL', `The Bulk CSV byte scanner and parser read a record differently (${records.length} record(s)).`);
    return records[0] as string[];
  }

  /**
   * The end of the record at `p` (past its LF), or SCAN_INCOMPLETE (more bytes needed), or SCAN_IRREGULAR (not a
   * plain record): the scanner's module on its copy of the input, its cells' bounds in `starts`/`ends`/`flags`.
   */
  #scan(p: number, n: number): number {
    const scanner = this.#scanner;
    let end = scanner.scan(p, n);
    while (end === SCAN_FULL) {
      scanner.grow();
      this.#setInput();
      this.#cellArrays();
      end = scanner.scan(p, n);
    }
    if (end >= 0) {
      this.count = scanner.count();
      this.classes = scanner.classes();
    }
    return end;
  }

  /** The cell arrays: the scanner's views on its memory (new ones when it grew). */
  #cellArrays(): void {
    const scanner = this.#scanner;
    this.starts = scanner.starts;
    this.ends = scanner.ends;
    this.flags = scanner.flags;
  }
}
