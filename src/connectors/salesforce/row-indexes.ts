import { toRanges } from './journal.ts';

/**
 * The input index of each row of a spool file (spool.ts), in position order, kept as runs of consecutive indexes.
 *
 * Why not an array of numbers: a Bulk job's file holds up to about 500,000 rows, and a file's indexes live from
 * the moment it is spooled until its job is reconciled. When the input is read faster than Salesforce processes
 * jobs, the closed files wait in the writer's queue, each with its indexes: as an array, 8 bytes a row of live
 * heap per file waiting, so the heap grew with the run's length (at 5,000,000 upserts, seven 100 MB files
 * waited, about 30 MB; docs/benchmarks.md). A spool's rows come in input order, so a file's indexes are one run,
 * or one more per row left out (a value that could not be converted): a few numbers whatever the file's size.
 * Any order is kept exactly (a row that does not follow the one before starts a run).
 */
export class RowIndexes implements Iterable<number> {
  /** Run r holds the indexes firsts[r], firsts[r] + 1, ... at positions starts[r] up to starts[r + 1] - 1. */
  readonly #firsts: number[] = [];
  readonly #starts: number[] = [];
  #length = 0;
  #last = Number.NaN;
  /** The run the last {@link at} found: positions are mostly asked in order. */
  #run = 0;

  /** The indexes of `indexes`, in their order. */
  static of(indexes: Iterable<number>): RowIndexes {
    const out = new RowIndexes();
    for (const index of indexes) out.push(index);
    return out;
  }

  /** Rows held. */
  get length(): number {
    return this.#length;
  }

  /** Runs of consecutive indexes held (what the memory grows with). */
  get runs(): number {
    return this.#firsts.length;
  }

  /** Appends the index of the next position. */
  push(index: number): void {
    if (index !== this.#last + 1) {
      this.#firsts.push(index);
      this.#starts.push(this.#length);
    }
    this.#last = index;
    this.#length++;
  }

  /** The index of the row at `position`, or undefined past the end. */
  at(position: number): number | undefined {
    if (!(position >= 0 && position < this.#length)) return undefined;
    const starts = this.#starts;
    let r = this.#run;
    if (!((starts[r] as number) <= position && (r + 1 === starts.length || (starts[r + 1] as number) > position))) {
      // The last run starting at or before `position`.
      let lo = 0;
      let hi = starts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1;
        if ((starts[mid] as number) <= position) lo = mid;
        else hi = mid - 1;
      }
      r = this.#run = lo;
    }
    return (this.#firsts[r] as number) + position - (starts[r] as number);
  }

  *[Symbol.iterator](): Iterator<number> {
    for (let r = 0; r < this.#firsts.length; r++) {
      const first = this.#firsts[r] as number;
      const count = (r + 1 < this.#starts.length ? (this.#starts[r + 1] as number) : this.#length) - (this.#starts[r] as number);
      for (let i = 0; i < count; i++) yield first + i;
    }
  }

  /** The indexes as the journal's ranges (journal.ts toRanges: ascending, merged), from the runs when they ascend. */
  ranges(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let r = 0; r < this.#firsts.length; r++) {
      const first = this.#firsts[r] as number;
      const last = first + (r + 1 < this.#starts.length ? (this.#starts[r + 1] as number) : this.#length) - (this.#starts[r] as number) - 1;
      const before = out[out.length - 1];
      if (before !== undefined && first <= before[1] + 1) return toRanges(this);
      out.push([first, last]);
    }
    return out;
  }
}
