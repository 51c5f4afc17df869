import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferPool, releaseOnce } from '../../src/core/buffer-pool.ts';
import { LineBuffer } from '../../src/formats/line-buffer.ts';
import { CsvEncoder } from '../../src/formats/csv.ts';
import { JsonLinesEncoder } from '../../src/formats/jsonl.ts';
import type { EntitySchema, Row } from '../../src/core/types.ts';
import { createFolderStore } from '../../src/connectors/local-file/folder.ts';
import { createS3Store } from '../../src/connectors/s3/bucket.ts';
import type { BlobStore } from '../../src/connectors/files/store.ts';
import { startTestS3, type TestS3 } from '../helpers/s3.ts';

describe('BufferPool', () => {
  it('hands back a given buffer large enough, keeps at most `keep`, drops small ones', () => {
    const pool = new BufferPool(2, 100);
    const a = pool.take(200);
    expect(a.length).toBe(200);
    pool.give(a);
    expect(pool.take(150)).toBe(a);
    expect(pool.take(150)).not.toBe(a); // taken: the pool is empty again
    pool.give(Buffer.alloc(50)); // below minBytes
    expect(pool.size).toBe(0);
    for (let i = 0; i < 3; i++) pool.give(Buffer.alloc(100));
    expect(pool.size).toBe(2);
    const big = pool.take(1000); // none is large enough: a new one, the small ones stay
    expect(big.length).toBe(1000);
    expect(pool.size).toBe(2);
  });

  it('releaseOnce gives its buffer back once however often it is called (a second give would hand one buffer to two batches)', () => {
    const pool = new BufferPool(4);
    const b = Buffer.alloc(10);
    const release = releaseOnce(pool, b);
    release();
    release();
    expect(pool.size).toBe(1);
    expect(pool.take(10)).toBe(b);
    expect(pool.take(10)).not.toBe(b);
  });

  it('a LineBuffer takes its buffer from the pool, and a larger one from it when it grows', () => {
    const pool = new BufferPool(4);
    const given = Buffer.alloc(8192);
    const larger = Buffer.alloc(65_536);
    pool.give(given);
    pool.give(larger);
    const out = new LineBuffer(5000, '', pool);
    expect(out.buffer).toBe(given);
    out.advance(out.reserve(100).write('kept', out.length));
    const at = out.reserve(20_000);
    expect(at).toBe(larger);
    expect(out.bytes().toString()).toBe('kept');
    expect(pool.size).toBe(0); // the outgrown buffer is dropped: the batch gives back the grown one
  });

  it('a LineBuffer writes bytes deferred to it before anything appended or read after them (defer)', () => {
    const pool = new BufferPool(4);
    const out = new LineBuffer(4096, '', pool);
    let held = '';
    const write = (to: LineBuffer): void => {
      const text = held;
      held = '';
      to.advance(to.reserve(text.length).write(text, to.length) + to.length);
    };
    out.line('a');
    held = 'b\n';
    out.defer(write);
    out.line('c');
    held = 'd\n';
    out.defer(write);
    const big = 'e'.repeat(10_000);
    held = `${big}\n`; // written through reserve: the buffer grows
    out.defer(write);
    expect(out.bytes().toString()).toBe(`a\nb\nc\n${big}\n`);
    held = 'f\n';
    out.defer(write);
    expect(out.length).toBe(`a\nb\nc\n${big}\nf\n`.length);
    expect(out.buffer.subarray(0, out.length).toString()).toBe(`a\nb\nc\n${big}\nf\n`);
    out.bytes(); // written once: the writer is called no more
    expect(out.bytes().toString()).toBe(`a\nb\nc\n${big}\nf\n`);
  });
});

describe('CSV and JSON lines encoders: written() lets the next batch reuse the last one\'s memory', () => {
  const schema: EntitySchema = { entity: 'T', fields: [{ name: 'Id', type: 'string' }, { name: 'N', type: 'double' }] } as EntitySchema;
  const rows = (from: number): Row[] => Array.from({ length: 50 }, (_, i) => ({ Id: `r${from + i}`, N: from + i }));
  for (const make of [() => new CsvEncoder(schema), () => new JsonLinesEncoder(schema)]) {
    it(`${make().fileType}: reused after written(), never before`, () => {
      const reusing = make();
      const a = reusing.encode(rows(0)) as Uint8Array;
      const aText = Buffer.from(a).toString();
      reusing.written();
      const b = reusing.encode(rows(100)) as Uint8Array;
      expect(b.buffer).toBe(a.buffer);
      const holding = make();
      const c = holding.encode(rows(0)) as Uint8Array;
      expect(Buffer.from(c).toString()).toBe(aText);
      const d = holding.encode(rows(100)) as Uint8Array;
      expect(d.buffer).not.toBe(c.buffer);
      expect(Buffer.from(c).toString()).toBe(aText);
      expect(Buffer.from(b).toString()).toBe(Buffer.from(d).toString());
    });
  }
});

/**
 * StagedWrite.write resolves only once the store holds no reference to the chunk (EncodedLines.release lets the
 * source reuse a batch's memory then): a chunk overwritten right after its write must not change what is stored.
 */
describe('StagedWrite.write: the chunk is free once the write resolves', () => {
  let s3: TestS3;
  const dir = mkdtempSync(join(tmpdir(), 'ff-staged-'));
  beforeAll(async () => {
    s3 = await startTestS3();
  });
  afterAll(async () => {
    await s3.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const stores: Array<[string, () => BlobStore, (key: string) => Promise<Buffer>]> = [
    ['local folder', () => createFolderStore({ path: dir, executionId: 'e1' }), async (key) => readFileSync(join(dir, key))],
    ['S3', () => createS3Store({ client: s3.client, bucketName: s3.bucket, bucketPrefix: 'reuse', executionId: 'e1' }), (key) => s3.getBytes(`reuse/${key}`)],
  ];
  for (const [name, store, read] of stores) {
    it(`${name}: a reused chunk does not change the file`, async () => {
      const s = store();
      const w = s.create('out.txt', 'text/plain');
      const chunk = Buffer.alloc(100_000);
      const expected: Buffer[] = [];
      // Small chunks too: a file stream buffers those below its high-water mark and used to resolve at once.
      for (const size of [10, 100_000, 5, 70_000, 1]) {
        for (let round = 0; round < 3; round++) {
          const part = chunk.subarray(0, size);
          part.fill(65 + ((expected.length * 7) % 26));
          expected.push(Buffer.from(part));
          await w.write(part);
          part.fill(35); // '#': the next batch written into the same memory
        }
      }
      await s.publish([await w.close()]);
      expect((await read('out.txt')).equals(Buffer.concat(expected))).toBe(true);
    });
  }
});
