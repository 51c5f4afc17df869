import { ForceflowError } from '../../core/errors.ts';

/**
 * A streaming parser for Bulk API 2.0 result CSV (RFC 4180: quoted fields, `""` escapes, quoted
 * newlines, LF or CRLF record ends, one-character delimiter).
 *
 * Why not csv-parse here: on the Bulk read path csv-parse was the bottleneck, about 10 MB/s and 28% of
 * CPU in a profile of a 200,000-record read (csv-parse stays the parser for user files, where its
 * options and error reporting matter). Salesforce quotes every value, so this parser jumps from quote to
 * quote with indexOf and slices whole values instead of visiting each character; see
 * bench/bulk-csv-parse.ts for the comparison.
 */
const STREAM = { stream: true } as const;

/** The longest record a results page may hold before the read is refused (characters): see {@link BulkCsvParser}. */
export const MAX_BULK_RECORD_CHARS = 64 * 1024 * 1024;

export class BulkCsvParser {
  private readonly delimiter: number;
  private readonly decoder = new TextDecoder('utf-8');
  private pending = '';
  private first = true;
  private readonly maxRecordChars: number;

  /**
   * `maxRecordChars` bounds the text held for one unfinished record: a Salesforce record is at most a few MB, so
   * a body that never ends a record (not Bulk CSV: a proxy's error page streamed forever, an unclosed quote) is
   * refused with SF_API_ERROR instead of growing one string until the process runs out of memory.
   */
  constructor(delimiter = ',', maxRecordChars = MAX_BULK_RECORD_CHARS) {
    this.delimiter = delimiter.charCodeAt(0);
    this.maxRecordChars = maxRecordChars;
  }

  /**
   * Parse a chunk; returns the complete records it finished (the header row included).
   *
   * The chunk is decoded line by line (at LF bytes, which never occur inside a multi-byte character) rather
   * than whole: V8 makes a two-byte string of any text holding one non-ASCII character, and every value sliced
   * from it is two-byte too (twice the memory, slower JSON.stringify and UTF-8 encoding downstream). Decoded by
   * line, only the records that hold such a character are two-byte. A quoted LF just leaves a record pending.
   */
  push(chunk: Uint8Array): string[][] {
    const out: string[][] = [];
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
    return out;
  }

  /** Finish: the last record (which may lack a final newline). Throws on an unterminated quote. */
  end(): string[][] {
    this.pending += this.decoder.decode();
    const out: string[][] = [];
    this.drain(true, out);
    return out;
  }

  private drain(final: boolean, out: string[][]): void {
    const s = this.pending;
    const n = s.length;
    const delim = this.delimiter;
    let start = 0;
    outer: while (start < n) {
      const row: string[] = [];
      let pos = start;
      for (;;) {
        let value: string;
        if (s.charCodeAt(pos) === 34) {
          // Quoted: jump between quotes; a doubled quote is an escaped one.
          let j = pos + 1;
          let acc = '';
          for (;;) {
            const k = s.indexOf('"', j);
            if (k < 0) {
              if (final) throw new Error('unterminated quoted field at the end of the results');
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
          while (k < n) {
            const c = s.charCodeAt(k);
            if (c === delim || c === 10 || c === 13) break;
            k++;
          }
          if (k >= n && !final) break outer;
          value = s.slice(pos, k);
          pos = k;
        }
        row.push(value);
        if (pos >= n) {
          if (!final) break outer;
          out.push(row);
          start = n;
          break;
        }
        const c = s.charCodeAt(pos);
        if (c === delim) {
          pos++;
          if (pos >= n && !final) break outer;
          continue;
        }
        if (c === 13) {
          if (pos + 1 >= n && !final) break outer;
          pos += s.charCodeAt(pos + 1) === 10 ? 2 : 1;
        } else if (c === 10) pos++;
        else throw new Error(`unexpected character after a quoted field at offset ${pos}`);
        out.push(row);
        start = pos;
        break;
      }
    }
    this.pending = start >= n ? '' : s.slice(start);
    if (this.pending.length > this.maxRecordChars) {
      throw new ForceflowError('SF_API_ERROR', `A Bulk API result record is longer than ${this.maxRecordChars} characters and still not finished: the results are not the CSV Salesforce sends (an unclosed quote, or a proxy answering with something else). Check the proxy between forceflow and Salesforce, and run again.`, {
        details: { limit: this.maxRecordChars },
      });
    }
  }
}
