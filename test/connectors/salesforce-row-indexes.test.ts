import { describe, expect, it } from 'vitest';
import { toRanges } from '../../src/connectors/salesforce/journal.ts';
import { RowIndexes } from '../../src/connectors/salesforce/row-indexes.ts';

/** A spool file's input indexes (row-indexes.ts): what an array of them would answer, in a few runs. */
describe('RowIndexes', () => {
  it('holds 500,000 consecutive indexes in one run, and one run more per index left out', () => {
    const indexes = new RowIndexes();
    for (let i = 1_000_000; i < 1_500_000; i++) indexes.push(i);
    expect(indexes.length).toBe(500_000);
    expect(indexes.runs).toBe(1);
    const gapped = new RowIndexes();
    for (let i = 0; i < 500_000; i++) if (i % 100_000 !== 7) gapped.push(i);
    expect(gapped.length).toBe(500_000 - 5);
    expect(gapped.runs).toBe(6);
    expect(gapped.ranges()).toEqual(toRanges(gapped));
    expect(gapped.ranges()).toHaveLength(6);
  });

  it('answers as the array of the same indexes: at() in and out of order, iteration, ranges', () => {
    let seed = 7;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (const ascending of [true, false]) {
      const array: number[] = [];
      let next = 0;
      for (let i = 0; i < 20_000; i++) {
        // Runs, gaps, repeats and (not ascending) jumps back.
        next = random(10) === 0 ? (ascending ? next + 2 + random(50) : random(30_000)) : next + 1;
        array.push(next);
      }
      const indexes = RowIndexes.of(array);
      expect(indexes.length).toBe(array.length);
      expect([...indexes]).toEqual(array);
      for (let p = 0; p < array.length; p++) expect(indexes.at(p)).toBe(array[p]);
      for (let k = 0; k < 5_000; k++) {
        const p = random(array.length);
        expect(indexes.at(p)).toBe(array[p]);
      }
      expect(indexes.at(-1)).toBeUndefined();
      expect(indexes.at(array.length)).toBeUndefined();
      expect(indexes.ranges()).toEqual(toRanges(array));
    }
    expect(RowIndexes.of([]).ranges()).toEqual([]);
    expect([...RowIndexes.of([])]).toEqual([]);
    expect(RowIndexes.of([3, 3, 2, 4, 5]).ranges()).toEqual([[2, 5]]);
  });
});
