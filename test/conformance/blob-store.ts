import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobStore } from '../../src/connectors/files/store.ts';

/**
 * What every {@link BlobStore} (S3 bucket, local folder) must do the same way. A store's test file runs
 * `describeBlobStore(name, start)` with a fixture that gives fresh, empty roots of that store.
 */
export interface StoreRoot {
  /** A store on this root that stages under `_temporary/<executionId>/`. */
  store(executionId?: string): BlobStore;
  /** A read-only store whose root names the one file at `key` (relative to this root). */
  single(key: string): BlobStore;
  /** Every file under the root, staged ones included: keys relative to the root, `/`-separated, sorted. */
  files(): Promise<string[]>;
  read(key: string): Promise<Buffer>;
  put(key: string, body: string | Uint8Array): Promise<void>;
  /** The full name (`s3://…` or path) the store reports for a key relative to the root. */
  nameOf(key: string): string;
}

export interface StoreFixture {
  /** A fresh, empty root. */
  root(): Promise<StoreRoot>;
  close(): Promise<void>;
}

async function stage(store: BlobStore, key: string, chunks: readonly (string | Uint8Array)[]): Promise<Awaited<ReturnType<ReturnType<BlobStore['create']>['close']>>> {
  const w = store.create(key, 'text/plain');
  for (const c of chunks) await w.write(typeof c === 'string' ? Buffer.from(c) : c);
  return w.close();
}

async function bytesOf(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const c of stream) chunks.push(c);
  return Buffer.concat(chunks);
}

export function describeBlobStore(name: string, start: () => Promise<StoreFixture>): void {
  describe(`${name} blob store (conformance)`, () => {
    let fixture: StoreFixture;
    beforeAll(async () => {
      fixture = await start();
    });
    afterAll(async () => {
      await fixture.close();
    });

    it('stages a file under _temporary/<executionId>/ where list() does not see it, and publish makes it visible with its bytes', async () => {
      const root = await fixture.root();
      const store = root.store('e1');
      const staged = await stage(store, 'flow/e1/part=a/e1-00000.csv', ['a,b\n', '1,2\n']);
      expect(staged).toMatchObject({ key: 'flow/e1/part=a/e1-00000.csv', size: 8 });
      expect(await root.files()).toEqual(['_temporary/e1/flow/e1/part=a/e1-00000.csv']);
      expect(await store.list()).toEqual([]);
      expect(await store.publish([staged])).toEqual([root.nameOf('flow/e1/part=a/e1-00000.csv')]);
      expect(await root.files()).toEqual(['flow/e1/part=a/e1-00000.csv']);
      expect((await root.read('flow/e1/part=a/e1-00000.csv')).toString()).toBe('a,b\n1,2\n');
    });

    it('publishes several files together, keeps bytes of a large file written in many chunks, and leaves no staging', async () => {
      const root = await fixture.root();
      const store = root.store('e2');
      const big = Buffer.alloc(3 * 1024 * 1024 + 17);
      for (let i = 0; i < big.length; i += 1) big[i] = (i * 31 + (i >> 12)) & 0xff;
      const chunks = Array.from({ length: Math.ceil(big.length / 65_536) }, (_, i) => big.subarray(i * 65_536, (i + 1) * 65_536));
      const files = [await stage(store, 'f/big.bin', chunks), await stage(store, 'f/x/small.txt', ['hi']), await stage(store, 'f/empty.txt', [])];
      expect(files.map((f) => f.size)).toEqual([big.length, 2, 0]);
      expect(await store.publish(files)).toEqual(['f/big.bin', 'f/x/small.txt', 'f/empty.txt'].map((k) => root.nameOf(k)));
      expect(await root.files()).toEqual(['f/big.bin', 'f/empty.txt', 'f/x/small.txt']);
      expect((await root.read('f/big.bin')).equals(big)).toBe(true);
    });

    it('keeps keys with spaces, unicode and URL-special characters as they are', async () => {
      const root = await fixture.root();
      const store = root.store('e6');
      const keys = ['f/Industry=Zoë 😀 ünï/a b.csv', 'f/Industry=a+b%20c&d;e,f@g$h!/x.csv'];
      const staged = [];
      for (const key of keys) staged.push(await stage(store, key, [key]));
      expect(await store.publish(staged)).toEqual(keys.map((k) => root.nameOf(k)));
      expect(await root.files()).toEqual([...keys].sort());
      for (const key of keys) expect((await root.read(key)).toString()).toBe(key);
      const listed = await store.list();
      expect(listed.map((f) => store.open(f).name)).toEqual([...keys].sort().map((k) => root.nameOf(k)));
    });

    it('abort() removes an open staged file (written to or not), discard() removes closed ones: nothing is left, visible or staged', async () => {
      const root = await fixture.root();
      const store = root.store('e3');
      const open = store.create('f/e3/open.csv', 'text/csv');
      await open.write(Buffer.from('partial'));
      const closed = [await stage(store, 'f/e3/a.csv', ['a\n']), await stage(store, 'f/e3/b.csv', ['b\n'])];
      await open.abort();
      const unwritten = store.create('f/e3/new/unwritten.csv', 'text/csv');
      await unwritten.abort(); // aborted at once, before its first byte
      await store.discard(closed);
      expect(await root.files()).toEqual([]);
      expect(await store.list()).toEqual([]);
    });

    it("one execution's publish and discard leave another execution's staged files alone", async () => {
      const root = await fixture.root();
      const first = root.store('e4');
      const second = root.store('e5');
      const mine = await stage(first, 'f/e4/a.csv', ['a\n']);
      const theirs = await stage(second, 'f/e5/a.csv', ['b\n']);
      await first.publish([mine]);
      expect(await root.files()).toEqual(['_temporary/e5/f/e5/a.csv', 'f/e4/a.csv']);
      await first.discard([]);
      expect(await root.files()).toEqual(['_temporary/e5/f/e5/a.csv', 'f/e4/a.csv']);
      await second.discard([theirs]);
      expect(await root.files()).toEqual(['f/e4/a.csv']);
    });

    it('lists data files in key order with their sizes, skipping _ and . names and empty files; reads whole and by range', async () => {
      const root = await fixture.root();
      for (const [key, body] of [
        ['b.csv', 'bbbb'], ['a.csv', 'aaaaaaaaaa'], ['sub/c.csv', 'cc'], ['sub/_SUCCESS', 'x'], ['_temporary/e/d.csv', 'dd'],
        ['.hidden', 'h'], ['sub/.part/e.csv', 'e'], ['empty.csv', ''], ['z_data.csv', 'z'],
      ] as const) {
        await root.put(key, body);
      }
      const store = root.store();
      const listed = await store.list();
      expect(listed.map((f) => store.open(f).name)).toEqual(['a.csv', 'b.csv', 'sub/c.csv', 'z_data.csv'].map((k) => root.nameOf(k)));
      expect(listed.map((f) => f.size)).toEqual([10, 4, 2, 1]);
      const a = store.open(listed[0] as (typeof listed)[number]);
      expect(a.size).toBe(10);
      expect((await bytesOf(a.stream())).toString()).toBe('aaaaaaaaaa');
      await root.put('a.csv', '0123456789');
      expect(Buffer.from(await a.read(2, 5)).toString()).toBe('234');
      expect(Buffer.from(await a.read(7, 10)).toString()).toBe('789');
      expect((await a.read(4, 4)).byteLength).toBe(0);
    });

    it('lists one file when its root names a file', async () => {
      const root = await fixture.root();
      await root.put('in/one.jsonl', '{"a":1}\n');
      await root.put('in/one.jsonl.bak', 'x');
      const store = root.single('in/one.jsonl');
      const listed = await store.list();
      expect(listed.map((f) => [store.open(f).name, f.size])).toEqual([[root.nameOf('in/one.jsonl'), 8]]);
      expect((await bytesOf(store.open(listed[0] as (typeof listed)[number]).stream())).toString()).toBe('{"a":1}\n');
    });
  });
}
