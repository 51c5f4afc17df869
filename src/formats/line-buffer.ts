/**
 * The output buffer of one encoded batch, written in groups of lines: an encoder appends each line with
 * {@link LineBuffer.line}; every 32 lines the group is written into the buffer with one native call (about 6%
 * of an encoder's CPU against a write per line), instead of joining the whole batch into one string: one
 * two-byte line (a non-ASCII character) makes the text it is joined to two-byte and slower to encode, so the
 * groups stay small. The buffer is sized from an estimate and grows when a group does not fit.
 */
import type { BufferPool } from '../core/buffer-pool.ts';

export class LineBuffer {
  #buffer: Buffer;
  readonly #pool: BufferPool | undefined;
  #offset = 0;
  #pending = '';
  #grouped = 0;
  #deferred: ((out: LineBuffer) => void) | undefined;

  /** `pool`: the buffer (and a larger one when it grows) is taken from it, for a batch's consumer to give back once written. */
  constructor(estimatedBytes: number, head = '', pool?: BufferPool) {
    this.#pool = pool;
    const size = Math.max(4096, head.length * 3, Math.ceil(estimatedBytes));
    // Pooled: sized in steps of a quarter of its power of two (256 KiB for 1-2 MiB), so a batch a little larger
    // than the last still fits a buffer given back.
    const step = Math.max(4096, 2 ** (Math.floor(Math.log2(size)) - 2));
    this.#buffer = pool === undefined ? Buffer.allocUnsafe(size) : pool.take(Math.ceil(size / step) * step);
    if (head !== '') this.#offset = this.#buffer.write(head, 0);
  }

  /**
   * Bytes a writer holds for this buffer, to be written by `write` (through {@link reserve}) before anything else is
   * appended or read: the Bulk export's line writer gathers the lines its WebAssembly writes and copies them in with
   * one call (bulkLineWriter). One writer at a time; `write` must tolerate being called when it holds nothing.
   */
  defer(write: (out: LineBuffer) => void): void {
    this.#deferred = write;
  }

  #settle(): void {
    const write = this.#deferred;
    if (write !== undefined) {
      this.#deferred = undefined;
      write(this);
    }
  }

  /** Appends one line (its text without the line break). */
  line(text: string): void {
    if (this.#deferred !== undefined) this.#settle();
    this.#pending += text;
    this.#pending += '\n';
    if (++this.#grouped === 32) this.#flush();
  }

  /**
   * Room for `bytes` more bytes written in place, after the lines appended so far: the buffer, to write from
   * {@link length} on; then {@link advance} past what was written. The buffer may be replaced by the next call.
   */
  reserve(bytes: number): Buffer {
    if (this.#deferred !== undefined) this.#settle();
    if (this.#grouped > 0) this.#flush();
    if (this.#offset + bytes > this.#buffer.length) this.#grow(bytes);
    return this.#buffer;
  }

  /** The bytes written so far (the lines appended since the last {@link reserve} not counted). */
  get length(): number {
    if (this.#deferred !== undefined) this.#settle();
    return this.#offset;
  }

  /** Bytes written in place (after {@link reserve}) up to `offset`. */
  advance(offset: number): void {
    this.#offset = offset;
  }

  /** The bytes written: a view of the buffer, valid until the next batch's buffer replaces it. */
  bytes(): Buffer {
    if (this.#deferred !== undefined) this.#settle();
    if (this.#grouped > 0) this.#flush();
    return this.#buffer.subarray(0, this.#offset);
  }

  #flush(): void {
    const room = this.#pending.length * 3;
    if (this.#offset + room > this.#buffer.length) this.#grow(room);
    this.#offset += this.#buffer.write(this.#pending, this.#offset);
    this.#pending = '';
    this.#grouped = 0;
  }

  /** The whole buffer the bytes are written in (what a pooled batch gives back once written). */
  get buffer(): Buffer {
    if (this.#deferred !== undefined) this.#settle();
    return this.#buffer;
  }

  #grow(room: number): void {
    const size = Math.max(this.#buffer.length * 2, this.#offset + room);
    const grown = this.#pool === undefined ? Buffer.allocUnsafe(size) : this.#pool.take(size);
    this.#buffer.copy(grown, 0, 0, this.#offset);
    // The outgrown buffer is dropped, not pooled: the grown one is what the batch gives back, for the next to fit.
    this.#buffer = grown;
  }
}
