import { isUtf8 } from 'node:buffer';
import { ForceflowError } from '../core/errors.ts';
import { canceled } from '../core/cancel.ts';

/**
 * The byte stage in front of the CSV and JSON lines parsers. For each chunk of an input file it:
 * - ends the read with RUN_CANCELED as soon as the run's AbortSignal fires, even while the next chunk is
 *   still being read (a stalled disk or network read does not hold the cancel);
 * - checks that the bytes are UTF-8 (Node's native validator, no decoding; a character split between chunks is
 *   carried to the next one). Invalid bytes fail the read with INPUT_INVALID naming the file, line and byte
 *   offset, or, with `invalidUtf8: 'replace'`, are replaced by U+FFFD (one per maximal invalid subpart, as
 *   the WHATWG decoder does) and counted;
 * - bounds a line: more than `maxLineBytes` bytes without a line break (LF or CR) fails the read with
 *   INPUT_INVALID naming the file, line and limit, before a parser buffers it (a 1 GB file with no newline
 *   would otherwise be held, and turned into one string, whole).
 * Only chunks that fail the native check are looked at byte by byte, so valid input costs one pass of
 * `isUtf8` and one `indexOf` per line.
 */
export type InvalidUtf8Mode = 'error' | 'replace';

/** Default ceiling of a JSON lines line and of a CSV record: 64 MiB (see docs/flows.md, "Input limits"). */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_RECORD_BYTES = 64 * 1024 * 1024;

export interface InputGuardOptions {
  /** The file, for messages. */
  readonly name: string;
  readonly signal?: AbortSignal;
  readonly invalidUtf8?: InvalidUtf8Mode;
  readonly maxLineBytes: number;
  /** How the limit is named in the error: what is too long and how to raise it. */
  readonly limit: { readonly what: string; readonly option: string; readonly field: string };
  /** Called with each chunk's number of replacements as they are made (replace mode), so a failed run still counts them. */
  readonly onReplaced?: (count: number) => void;
}

const REPLACEMENT = Buffer.from([0xef, 0xbf, 0xbd]);

/** Length of the sequence a lead byte starts (1 for ASCII and for bytes that cannot start one). */
function sequenceLength(b: number): number {
  if (b < 0xc2) return 1;
  if (b < 0xe0) return 2;
  if (b < 0xf0) return 3;
  if (b < 0xf5) return 4;
  return 1;
}

/** Where the last complete character of `bytes` ends: a multi-byte character cut at the end is left out. */
function completeEnd(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = n - 1;
  let back = 0;
  while (i >= 0 && back < 3 && ((bytes[i] as number) & 0xc0) === 0x80) {
    i--;
    back++;
  }
  if (i < 0) return n;
  return sequenceLength(bytes[i] as number) > n - i ? i : n;
}

/**
 * Walks UTF-8 as the WHATWG decoder does: calls `invalid(start, end)` for each maximal invalid subpart
 * (each becomes one U+FFFD). A sequence cut by the end of `bytes` is invalid too (the caller only passes
 * complete text, or the end of the file).
 */
function scanInvalid(bytes: Uint8Array, invalid: (start: number, end: number) => boolean | void): void {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b === 0xe0) { need = 2; lo = 0xa0; }
    else if (b === 0xed) { need = 2; hi = 0x9f; }
    else if (b >= 0xe1 && b <= 0xef) need = 2;
    else if (b === 0xf0) { need = 3; lo = 0x90; }
    else if (b === 0xf4) { need = 3; hi = 0x8f; }
    else if (b >= 0xf1 && b <= 0xf3) need = 3;
    else {
      if (invalid(i, i + 1) === false) return;
      i++;
      continue;
    }
    let j = i + 1;
    let ok = true;
    for (let k = 0; k < need; k++, j++) {
      const c = j < n ? (bytes[j] as number) : -1;
      if (c < lo || c > hi) {
        ok = false;
        break;
      }
      lo = 0x80;
      hi = 0xbf;
    }
    if (!ok) {
      if (invalid(i, j) === false) return;
      i = j;
    } else i = j;
  }
}

function firstInvalid(bytes: Uint8Array): number {
  let at = bytes.length;
  scanInvalid(bytes, (start) => {
    at = start;
    return false;
  });
  return at;
}

/** The bytes with each maximal invalid subpart replaced by U+FFFD, and how many were replaced. */
function repair(bytes: Uint8Array): { bytes: Buffer; count: number } {
  const parts: Uint8Array[] = [];
  let from = 0;
  let count = 0;
  scanInvalid(bytes, (start, end) => {
    parts.push(bytes.subarray(from, start), REPLACEMENT);
    from = end;
    count++;
  });
  parts.push(bytes.subarray(from));
  return { bytes: Buffer.concat(parts), count };
}

function countLf(bytes: Uint8Array, end: number): number {
  let count = 0;
  let pos = 0;
  for (;;) {
    const lf = bytes.indexOf(10, pos);
    if (lf < 0 || lf >= end) return count;
    count++;
    pos = lf + 1;
  }
}

function readCanceled(): ForceflowError {
  return canceled('The run was cancelled while reading files.');
}

/** The guarded bytes of `source` (see the module comment). */
export async function* guardInput(source: AsyncIterable<Uint8Array>, options: InputGuardOptions): AsyncGenerator<Uint8Array> {
  const { name, signal, maxLineBytes: max } = options;
  const replace = options.invalidUtf8 === 'replace';
  let line = 1;
  /** Bytes of the input before the current chunk. */
  let offset = 0;
  /** Bytes since the last line break. */
  let run = 0;
  let carry: Uint8Array = new Uint8Array(0);

  const tooLong = (at: number): ForceflowError =>
    new ForceflowError('INPUT_INVALID', `${name} line ${line}: ${options.limit.what} is longer than ${max} bytes (the line starts at byte offset ${at - max}), the limit for input files. If the file is right, raise the limit with ${options.limit.option} (RunFlowOptions.${options.limit.field}); a file with no line breaks at all is not CSV or JSON lines.`, {
      details: { file: name, line, byteOffset: at, reason: 'too-long', limit: max, option: options.limit.option },
    });

  /** Counts lines and checks their length in `body` (original bytes starting at input offset `base`). */
  const lines = (body: Uint8Array, base: number): void => {
    let pos = 0;
    for (;;) {
      const lf = body.indexOf(10, pos);
      const end = lf < 0 ? body.length : lf;
      if (run + (end - pos) > max) {
        // Only here may a CR (a line break for both parsers) matter.
        let p = pos;
        for (;;) {
          const cr = body.indexOf(13, p);
          const stop = cr < 0 || cr >= end ? end : cr;
          if (run + (stop - p) > max) throw tooLong(base + p + (max - run));
          if (stop === end) {
            run += end - p;
            break;
          }
          run = 0;
          p = cr + 1;
        }
      } else run += end - pos;
      if (lf < 0) {
        // The bytes carried to the next chunk count from the last break, which may be a CR.
        const cr = body.lastIndexOf(13);
        if (cr >= pos) run = body.length - cr - 1;
        return;
      }
      line++;
      run = 0;
      pos = lf + 1;
    }
  };

  const invalidAt = (body: Uint8Array, base: number, at: number): ForceflowError => {
    const where = line + countLf(body, at);
    const byte = (body[at] as number | undefined)?.toString(16).toUpperCase().padStart(2, '0');
    return new ForceflowError('INPUT_INVALID', `${name} line ${where} (byte offset ${base + at}): not valid UTF-8${byte === undefined ? ' (a character cut off by the end of the file)' : ` (byte 0x${byte})`}. Save the file as UTF-8, or run with --invalid-utf8 replace (RunFlowOptions.invalidUtf8: "replace") to read such bytes as U+FFFD; the run record counts them in executionResult.invalidUtf8Replacements.`, {
      details: { file: name, line: where, byteOffset: base + at, reason: 'invalid-utf8' },
    });
  };

  /** Checks and passes on `body`, complete UTF-8 text if valid, starting at input offset `base`. */
  const pass = (body: Uint8Array, base: number): Uint8Array => {
    let out = body;
    if (body.length > 0 && !isUtf8(body)) {
      if (!replace) throw invalidAt(body, base, firstInvalid(body));
      const fixed = repair(body);
      options.onReplaced?.(fixed.count);
      out = fixed.bytes;
    }
    lines(body, base);
    return out;
  };

  const iterator = source[Symbol.asyncIterator]();
  /**
   * The next chunk, or the cancel, whichever comes first. Not a Promise.race against one long-lived "aborted"
   * promise: each race leaves a reaction on that promise holding its result, so every chunk of the file stayed
   * reachable until the read ended (the whole input in memory, issue 13). Here the listener goes with the step.
   */
  const step = (): Promise<IteratorResult<Uint8Array>> => {
    if (signal === undefined) return iterator.next();
    if (signal.aborted) return Promise.reject(readCanceled());
    return new Promise((resolve, reject) => {
      const onAbort = (): void => reject(readCanceled());
      signal.addEventListener('abort', onAbort, { once: true });
      iterator.next().then(
        (r) => {
          signal.removeEventListener('abort', onAbort);
          resolve(r);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e as Error);
        },
      );
    });
  };
  let done = false;
  try {
    for (;;) {
      const next = await step();
      if (next.done === true) {
        done = true;
        break;
      }
      const chunk = next.value;
      if (chunk.byteLength === 0) continue;
      const data = carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
      const cut = completeEnd(data);
      const base = offset;
      const body = cut === data.length ? data : data.subarray(0, cut);
      carry = cut === data.length ? new Uint8Array(0) : Uint8Array.prototype.slice.call(data, cut);
      offset += cut;
      const out = pass(body, base);
      if (out.length > 0) yield out;
    }
    if (carry.length > 0) {
      const out = pass(carry, offset);
      offset += carry.length;
      carry = new Uint8Array(0);
      yield out;
    }
  } finally {
    // Not awaited: a read still pending (the cancel case) settles first, then the source closes its file.
    if (!done) void Promise.resolve(iterator.return?.()).catch(() => undefined);
  }
}
