import { describe, expect, it } from 'vitest';
import { MetadataCache } from '../../src/service/operations/metadata-cache.ts';

describe('MetadataCache', () => {
  it('keeps a value for the TTL, then loads again', async () => {
    const cache = new MetadataCache({ ttlMs: 1000 });
    let loads = 0;
    const load = async (): Promise<number> => ++loads;
    expect(await cache.get('p', 'k', 0, load)).toBe(1);
    expect(await cache.get('p', 'k', 999, load)).toBe(1);
    expect(await cache.get('p', 'k', 1000, load)).toBe(2);
  });

  it('does not keep failures', async () => {
    const cache = new MetadataCache();
    await expect(cache.get('p', 'k', 0, async () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    await Promise.resolve();
    expect(cache.size('p')).toBe(0);
    expect(await cache.get('p', 'k', 0, async () => 'up')).toBe('up');
  });

  it('is bounded: least recently used profiles and oldest entries go first', async () => {
    const cache = new MetadataCache({ maxProfiles: 2, maxEntries: 3 });
    for (const k of ['a', 'b', 'c', 'd']) await cache.get('p1', k, 0, async () => k);
    expect(cache.size('p1')).toBe(3);
    let reloaded = false;
    await cache.get('p1', 'a', 0, async () => {
      reloaded = true;
      return 'a';
    });
    expect(reloaded).toBe(true);
    await cache.get('p2', 'x', 0, async () => 'x');
    await cache.get('p1', 'b', 0, async () => 'b'); // p1 used last
    await cache.get('p3', 'y', 0, async () => 'y'); // drops p2
    expect(cache.size('p2')).toBe(0);
    expect(cache.size('p1')).toBe(3);
    expect(cache.size('p3')).toBe(1);
  });

  it('resets a profile or the entries a predicate picks', async () => {
    const cache = new MetadataCache();
    for (const k of ['entity:account@', 'entity:contact@', 'global@']) await cache.get('p', k, 0, async () => k);
    cache.reset('p', (k) => k.startsWith('entity:account@'));
    expect(cache.size('p')).toBe(2);
    cache.reset('p');
    expect(cache.size()).toBe(0);
  });
});
