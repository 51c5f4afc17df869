/**
 * Buffers given back by whoever last read them, for the next writer to fill instead of allocating: an encoded
 * batch's bytes (RecordBatch.encoded, released once written) and, in the same way, an upload's part buffers.
 * Allocating a fresh megabyte per batch costs more than the copy it saves: every backing store counts as
 * external memory, and V8 answers its growth with extra collections (at 300,000 records exported, 55 full
 * ones for the file exports and 33 for S3 before batch buffers were reused, 4 and 2 after: docs/benchmarks.md).
 *
 * Only a buffer nothing reads any more may be given back: a buffer given twice, or read after it was given,
 * would be written by two batches at once. {@link releaseOnce} makes a release callback safe to call twice.
 */
export class BufferPool {
  readonly #free: Buffer[] = [];

  /** `keep`: how many free buffers are kept; `minBytes`: smaller buffers are not kept (dropped to the collector). */
  constructor(
    readonly keep: number,
    readonly minBytes = 0,
  ) {}

  /** A buffer of at least `size` bytes: a free one, or a new one (unpooled, not zero-filled). */
  take(size: number): Buffer {
    const i = this.#free.findIndex((b) => b.length >= size);
    return i >= 0 ? (this.#free.splice(i, 1)[0] as Buffer) : Buffer.allocUnsafeSlow(size);
  }

  /** A buffer nothing reads any more; kept when large enough and fewer than `keep` are free. */
  give(buffer: Buffer): void {
    if (buffer.length >= this.minBytes && this.#free.length < this.keep) this.#free.push(buffer);
  }

  /** Free buffers held (for tests). */
  get size(): number {
    return this.#free.length;
  }
}

/** A callback that gives `buffer` back to `pool` the first time it is called, and does nothing after. */
export function releaseOnce(pool: BufferPool, buffer: Buffer): () => void {
  let released = false;
  return () => {
    if (released) return;
    released = true;
    pool.give(buffer);
  };
}
