import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEncoder, openDecoder } from '../../src/formats/index.ts';
import type { DecodeOptions, FileType, InputFile } from '../../src/formats/index.ts';
import { guardInput } from '../../src/formats/input-guard.ts';
import { MAX_JSONL_COLUMNS } from '../../src/formats/jsonl.ts';
import { createLocalFileSource } from '../../src/connectors/local-file/source.ts';
import { isForceflowError } from '../../src/core/errors.ts';
import type { ForceflowError } from '../../src/core/errors.ts';
import type { EntitySchema, RecordBatch, Row } from '../../src/core/types.ts';
import { testContext } from '../helpers/s3.ts';

/** An in-memory file that streams in chunks of `chunk` bytes, so characters and lines straddle chunks. */
function memoryFile(name: string, bytes: Uint8Array, chunk = 7): InputFile {
  return {
    name,
    size: bytes.byteLength,
    async *stream() {
      for (let i = 0; i < bytes.byteLength; i += chunk) yield bytes.subarray(i, i + chunk);
    },
    read: async (start, end) => bytes.slice(start, end),
  };
}

async function decodeAll(fileType: FileType, file: InputFile, options: Partial<DecodeOptions> = {}): Promise<{ schema: EntitySchema; rows: Row[] }> {
  const decoded = await openDecoder(fileType, file, { entity: 'X', batchSize: 2, ...options });
  const rows: Row[] = [];
  for await (const b of decoded.batches as AsyncIterable<RecordBatch>) rows.push(...b.rows);
  return { schema: decoded.schema, rows };
}

async function failure(promise: Promise<unknown>): Promise<ForceflowError> {
  try {
    await promise;
  } catch (error) {
    if (isForceflowError(error)) return error;
    throw error;
  }
  throw new Error('expected the read to fail');
}

const NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];

describe('readers keep names that are also Object.prototype names as ordinary columns', () => {
  const check = (rows: Row[], values: string[][]): void => {
    expect(rows).toHaveLength(values.length);
    rows.forEach((row, r) => {
      expect(Object.getPrototypeOf(row)).toBeNull();
      expect(Object.keys(row)).toEqual(NAMES);
      NAMES.forEach((n, i) => expect(Object.getOwnPropertyDescriptor(row, n)?.value).toBe(values[r]?.[i]));
    });
  };
  const values = [['p1', 'c1', 't1', 'h1', 'v1', 'd1'], ['p2', 'c2', 't2', 'h2', 'v2', 'd2'], ['p3', 'c3', 't3', 'h3', 'v3', 'd3']];

  it('CSV headers', async () => {
    const text = `${NAMES.join(',')}\n${values.map((v) => v.join(',')).join('\n')}\n`;
    const { schema, rows } = await decodeAll('CSV', memoryFile('x.csv', Buffer.from(text)));
    expect(schema.fields.map((f) => f.name)).toEqual(NAMES);
    check(rows, values);
  });

  it('JSON lines keys, including a key only some lines have', async () => {
    const lines = values.map((v) => `{${NAMES.map((n, i) => `${JSON.stringify(n)}:${JSON.stringify(v[i])}`).join(',')}}`);
    const { rows } = await decodeAll('JSON', memoryFile('x.jsonl', Buffer.from(`${lines.join('\n')}\n{"__proto__":"only"}\n`)));
    check(rows.slice(0, 3), values);
    const last = rows[3] as Row;
    expect(Object.getPrototypeOf(last)).toBeNull();
    expect(JSON.stringify(last)).toBe('{"__proto__":"only","constructor":null,"toString":null,"hasOwnProperty":null,"valueOf":null,"__defineGetter__":null}');
  });

  it('JSON lines nested objects (compound values) keep a "__proto__" key too', async () => {
    const { rows } = await decodeAll('JSON', memoryFile('x.jsonl', Buffer.from('{"Loc":{"__proto__":1,"latitude":2}}\n')));
    expect(JSON.stringify(rows[0])).toBe('{"Loc":{"__proto__":1,"latitude":2}}');
  });

  it('Parquet columns', async () => {
    const schema: EntitySchema = { entity: 'X', fields: NAMES.map((name) => ({ name, type: 'string' as const })) };
    const rows = values.map((v) => Object.fromEntries(NAMES.map((n, i) => [n, v[i] as string])) as Row);
    // Object.fromEntries defines own keys, "__proto__" included.
    const enc = createEncoder('PARQUET', schema);
    const bytes = Buffer.concat([enc.encode(rows) ?? new Uint8Array(0), enc.finish() ?? new Uint8Array(0)]);
    const decoded = await decodeAll('PARQUET', memoryFile('x.parquet', bytes));
    check(decoded.rows, values);
  });
});

describe('invalid UTF-8 in CSV and JSON lines files', () => {
  it('valid multi-byte text split at every chunk boundary reads unchanged', async () => {
    const text = 'Name\n"Zoë 😀 ünïcödé ✓"\n';
    for (const chunk of [1, 2, 3, 5]) {
      const { rows } = await decodeAll('CSV', memoryFile('x.csv', Buffer.from(text), chunk));
      expect(rows[0]?.['Name']).toBe('Zoë 😀 ünïcödé ✓');
    }
  });

  it.each([['CSV', 'a,b\nx,y\nz,caf\xe9\n'], ['JSON', '{"a":"x"}\n\n{"a":"caf\xe9"}\n']] as const)('%s: refused with INPUT_INVALID naming the file, line and byte offset', async (fileType, latin1) => {
    const bytes = Buffer.from(latin1, 'latin1');
    const e = await failure(decodeAll(fileType, memoryFile('in.file', bytes, 4)));
    expect(e.code).toBe('INPUT_INVALID');
    expect(e.details).toMatchObject({ file: 'in.file', line: 3, byteOffset: bytes.indexOf(0xe9), reason: 'invalid-utf8' });
    expect(e.message).toContain('in.file line 3');
    expect(e.message).toContain('--invalid-utf8 replace');
  });

  it('a character cut off by the end of the file is refused too', async () => {
    const e = await failure(decodeAll('CSV', memoryFile('cut.csv', Buffer.from([0x61, 0x0a, 0x62, 0xe2, 0x82]))));
    expect(e.details).toMatchObject({ line: 2, byteOffset: 3, reason: 'invalid-utf8' });
  });

  it('replace mode: U+FFFD where the WHATWG decoder puts one, and the count of replacements', async () => {
    // Lone continuation, overlong, surrogate, truncated 3- and 4-byte sequences, out-of-range lead, a valid U+FFFD.
    const bad = Buffer.from([0x80, 0x41, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xe2, 0x82, 0x42, 0xf0, 0x9f, 0x98, 0x43, 0xf8, 0xef, 0xbf, 0xbd, 0xe9]);
    const text = Buffer.concat([Buffer.from('{"a":"'), bad, Buffer.from('"}\n')]);
    const expected = new TextDecoder('utf-8').decode(bad);
    for (const chunk of [1, 3, 64]) {
      let count = 0;
      const { rows } = await decodeAll('JSON', memoryFile('x.jsonl', text, chunk), { invalidUtf8: 'replace', onInvalidUtf8Replaced: (n) => { count += n; } });
      expect(rows[0]?.['a']).toBe(expected);
      // Every U+FFFD in the decoded text but the one the file really holds.
      expect(count).toBe([...expected].filter((c) => c === '\uFFFD').length - 1);
    }
  });
});

describe('line and record ceilings', () => {
  it('JSON lines: a line longer than maxLineBytes is refused, naming the file, line, limit and option', async () => {
    const text = `{"a":"short"}\n{"a":"${'x'.repeat(500)}"}\n`;
    const e = await failure(decodeAll('JSON', memoryFile('long.jsonl', Buffer.from(text), 64), { maxLineBytes: 100 }));
    expect(e.code).toBe('INPUT_INVALID');
    expect(e.details).toMatchObject({ file: 'long.jsonl', line: 2, limit: 100, option: '--max-line-bytes', reason: 'too-long', byteOffset: 14 + 100 });
    expect(e.message).toContain('--max-line-bytes');
    // The same file reads with the limit raised.
    expect((await decodeAll('JSON', memoryFile('long.jsonl', Buffer.from(text), 64), { maxLineBytes: 1000 })).rows).toHaveLength(2);
  });

  it('CR alone is a line break for the ceiling, as for the parsers', async () => {
    const text = `a\r${'b'.repeat(80)}\r${'c'.repeat(80)}\r`;
    const { rows } = await decodeAll('CSV', memoryFile('cr.csv', Buffer.from(text), 16), { maxRecordBytes: 100 });
    expect(rows).toHaveLength(2);
  });

  it('CSV: one line past maxRecordBytes is refused before the parser holds it', async () => {
    const text = `a,b\n1,2\n${'\u0000'.repeat(1000)}\n`;
    const e = await failure(decodeAll('CSV', memoryFile('nul.csv', Buffer.from(text), 64), { maxRecordBytes: 200 }));
    expect(e.details).toMatchObject({ file: 'nul.csv', line: 3, limit: 200, option: '--max-record-bytes', reason: 'too-long' });
  });

  it('CSV: a record of short lines (an unclosed quote) past maxRecordBytes is refused by the parser', async () => {
    const text = `a,b\n1,"open\n${'line\n'.repeat(100)}`;
    const e = await failure(decodeAll('CSV', memoryFile('quote.csv', Buffer.from(text), 64), { maxRecordBytes: 200 }));
    expect(e.code).toBe('INPUT_INVALID');
    expect(e.details).toMatchObject({ file: 'quote.csv', line: expect.any(Number), limit: 200, option: '--max-record-bytes' });
    expect(e.message).toContain('unclosed quote');
  });
});

describe('malformed CSV names the file and the line where the record starts', () => {
  const cases: [string, string, number, RegExp][] = [
    ['a stray quote inside an unquoted value', 'a,b\n1,2\n3,x"y\n', 3, /quote inside the unquoted value "x\\"/],
    ['a closing quote followed by text', 'a,b\n1,2\n"q\nr"z,4\n', 3, /closing quote is followed by "z/],
    ['a record with too few cells, after a quoted line break', 'a,b\n"1\n1",2\n3\n', 4, /1 cell\(s\) where the first row has 2/],
    ['an unclosed quote at the end', 'a,b\n1,2\n3,"open\nmore\n', 3, /never closed/],
    ['CR record ends', 'a,b\r1,2\r3\r', 3, /1 cell\(s\)/],
  ];
  it.each(cases)('%s', async (_, text, line, message) => {
    for (const chunk of [1, 5, 4096]) {
      const decoded = await openDecoder('CSV', memoryFile('bad.csv', Buffer.from(text), chunk), { entity: 'X', batchSize: 1 });
      const rows: Row[] = [];
      const e = await failure((async () => {
        for await (const b of decoded.batches as AsyncIterable<RecordBatch>) rows.push(...b.rows);
      })());
      expect(e.code).toBe('INPUT_INVALID');
      expect(e.details).toMatchObject({ file: 'bad.csv', line });
      expect(e.message).toMatch(new RegExp(`^bad\\.csv line ${line}: `));
      expect(e.message).toMatch(message);
      // The records before the bad one were read.
      expect(rows.length).toBe(1);
    }
  });
});

describe('cancelling a file read', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ff-guard-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a local file with no line break: the cancel ends the read at the next chunk, not at the end of the file', async () => {
    // 16 MiB without a newline, under a 1 GiB ceiling: only the cancel can stop it early.
    const path = join(dir, 'no-newline.jsonl');
    const fd = openSync(path, 'w');
    const block = Buffer.alloc(1024 * 1024, 0x78);
    for (let i = 0; i < 16; i++) writeSync(fd, block);
    closeSync(fd);
    const controller = new AbortController();
    const ctx = { ...testContext(), signal: controller.signal };
    let chunks = 0;
    const source = createLocalFileSource({ path, fileType: 'JSON' }, { input: { maxLineBytes: 1024 ** 3 } });
    // Counting the chunks the read pulls: the folder store reads 256 KiB at a time; cancel after the second.
    const { createFolderStore } = await import('../../src/connectors/local-file/folder.ts');
    const store = createFolderStore({ path });
    const [file] = await store.list();
    const input = store.open(file as never);
    const counted: InputFile = {
      ...input,
      async *stream() {
        for await (const c of input.stream()) {
          chunks++;
          if (chunks === 2) controller.abort();
          yield c;
        }
      },
    };
    const e = await failure(decodeAll('JSON', counted, { signal: controller.signal, maxLineBytes: 1024 ** 3 }));
    expect(e.code).toBe('RUN_CANCELED');
    expect(chunks).toBeLessThanOrEqual(3);
    // And through the LocalFile source with the run's context: an already cancelled run reads nothing.
    const stream = source.open({ entity: '' }, ctx);
    expect((await failure(stream)).code).toBe('RUN_CANCELED');
  });

  it('a read that is stalled (no next chunk) still ends when the run is cancelled', async () => {
    const controller = new AbortController();
    let pulled = 0;
    const stalled: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]() {
        return {
          next: () => {
            pulled++;
            if (pulled === 1) return Promise.resolve({ done: false, value: Buffer.from('{"a":') });
            controller.abort();
            return new Promise<IteratorResult<Uint8Array>>(() => undefined); // never settles
          },
        };
      },
    };
    const guarded = guardInput(stalled, { name: 'stalled.jsonl', signal: controller.signal, maxLineBytes: 100, limit: { what: 'the line', option: '--max-line-bytes', field: 'maxLineBytes' } });
    const first = await guarded.next();
    expect(first.done).toBe(false);
    const e = await failure(guarded.next());
    expect(e.code).toBe('RUN_CANCELED');
  });

});

describe('JSON lines: distinct keys', () => {
  it('more distinct keys than the ceiling (each line bringing its own) is refused, naming the line, instead of making every record that wide', async () => {
    expect(MAX_JSONL_COLUMNS).toBe(5000);
    const lines = Array.from({ length: 150 }, (_, i) => `{"k${i}":${i}}`).join('\n');
    const e = await failure(decodeAll('JSON', memoryFile('wide.jsonl', Buffer.from(lines), 512), { batchSize: 40, maxColumns: 100 }));
    expect(e.code).toBe('INPUT_INVALID');
    expect(e.details).toMatchObject({ file: 'wide.jsonl', line: 101 });
    expect(e.message).toContain('more than 100 distinct keys');
    // Up to the ceiling, the rows are as before: every key a column, null where a line lacks it.
    const { rows } = await decodeAll('JSON', memoryFile('wide.jsonl', Buffer.from(lines), 512), { batchSize: 40, maxColumns: 150 });
    expect(Object.keys(rows[149] ?? {})).toHaveLength(150);
    expect(rows[149]?.['k149']).toBe(149);
    expect(rows[149]?.['k0']).toBeNull();
    expect(rows[121]?.['k130']).toBeNull(); // a key first seen later in the same batch
  });
});
