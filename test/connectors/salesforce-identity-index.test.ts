import { describe, expect, it } from 'vitest';
import { IdentityIndex } from '../../src/connectors/salesforce/identity-index.ts';

/** The result-matching index of a Bulk job (reconcile.ts): it must answer exactly as a Map of the same keys. */
describe('IdentityIndex', () => {
  it('answers as a Map on 200,000 keys: growth, updates, Latin-1 then wider characters, prefixes and empty keys', () => {
    let seed = 42;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const alphabet = ['a', 'b', 'Z', '0', '9', '-', 'é', 'ÿ', ' ', '\u0001'];
    const wide = ['漢', '😀', 'Ā'];
    const index = new IdentityIndex();
    const map = new Map<string, number>();
    const keys: string[] = [''];
    for (let i = 0; i < 200_000; i++) {
      const length = random(20);
      let key = `${i % 7 === 0 ? 'EXT-' : ''}`;
      for (let j = 0; j < length; j++) key += (i > 150_000 && random(10) === 0 ? wide : alphabet)[random(i > 150_000 ? 3 : 10)];
      keys.push(key, `${key}x`, key.slice(0, -1));
    }
    // Disagreements collected and asserted once (an expect per key made this test take a minute on a busy machine).
    const wrong: string[] = [];
    for (const [i, key] of keys.entries()) {
      const had = map.get(key);
      if (index.get(key) !== had) wrong.push(`before set #${i}: ${JSON.stringify(key)}`);
      const value = had === undefined ? i : -1; // a second sighting marks the key shared, as reconcile.ts does
      map.set(key, value);
      index.set(key, value);
    }
    expect(index.size).toBe(map.size);
    for (const key of [...keys, 'never', 'EXT-', 'x'.repeat(40), '漢漢漢']) if (index.get(key) !== map.get(key)) wrong.push(`after: ${JSON.stringify(key)}`);
    expect(wrong.slice(0, 10)).toEqual([]);
    expect(map.size).toBeGreaterThan(400_000);
  });
});

describe('IdentityIndex sized up front', () => {
  it('answers as one that grew, below and past the keys and characters it was sized for', () => {
    for (const [keys, chars] of [[1000, 8000], [10, 10], [0, 0]] as const) {
      const sized = new IdentityIndex(keys, chars);
      const grown = new IdentityIndex();
      for (let i = 0; i < 3000; i++) {
        const key = i % 500 === 0 ? `É-${i}-漢` : `EXT-${i}`;
        sized.set(key, i);
        grown.set(key, i);
        if (i % 3 === 0) {
          sized.set(key, -1);
          grown.set(key, -1);
        }
      }
      expect(sized.size).toBe(3000);
      for (let i = 0; i < 3100; i++) {
        for (const key of [`EXT-${i}`, `É-${i}-漢`, `ext-${i}`]) expect(sized.get(key)).toBe(grown.get(key));
      }
    }
  });
});
