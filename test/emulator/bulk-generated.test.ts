import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { makeId } from '../../src/emulator/ids.ts';
import { IdMinter } from '../../src/emulator/org/generated/cells.ts';
import { GeneratedTable } from '../../src/emulator/org/generated/table.ts';

/**
 * Bulk results of generated objects are written by the generated table itself (selected columns only, as
 * bytes). They must be byte for byte what the general path (SOQL rows + row formatter) gives, which a
 * `WHERE Id != null` query still takes, and the values must be those generated before that fast path existed.
 */

describe('IdMinter', () => {
  it('mints the ids of makeId, as text and as bytes', () => {
    const counters = [1, 2, 61, 62, 3843, 3844, 14_776_335, 14_776_336, 916_132_831, 916_132_832, 916_132_833, 62 ** 9 - 1];
    let x = 12345;
    for (let i = 0; i < 2000; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      counters.push(1 + (x % 50_000_000), 1 + i, 1 + x * 97);
    }
    const buf = Buffer.alloc(40);
    for (const prefix of ['001', '003', 'a0B']) {
      const minter = new IdMinter(prefix);
      for (const c of counters) {
        if (c >= 62 ** 9) continue;
        const want = makeId(prefix, c);
        expect(minter.id(c), `${prefix} ${c}`).toBe(want);
        expect(minter.write(buf, 3, c)).toBe(21);
        expect(buf.toString('latin1', 3, 21)).toBe(want);
      }
    }
  });
});

describe('Bulk results of generated objects', () => {
  let emu: RunningEmulator;
  let base: string;
  let headers: Record<string, string>;

  /** Observes (and calls through) the generated table's row writer: which path served a query. */
  let writers: MockInstance<GeneratedTable['rowWriter']>;

  beforeAll(async () => {
    writers = vi.spyOn(GeneratedTable.prototype, 'rowWriter');
    emu = await startEmulator({ generate: { Account: 3000, Contact: 2500, Opportunity: 1500 }, seed: 5 });
    base = `${emu.instanceUrl}/services/data/v60.0`;
    headers = { Authorization: `Bearer ${emu.accessToken}`, 'Content-Type': 'application/json' };
  });
  afterAll(async () => {
    writers.mockRestore();
    await emu.close();
  });

  /** The Bulk results of `soql` and whether the generated table wrote them (the streaming path) or SOQL rows did. */
  async function served(soql: string, options: Record<string, unknown> = {}, maxRecords?: number): Promise<{ text: string; byTable: boolean }> {
    writers.mockClear();
    const text = await bulk(soql, options, maxRecords);
    return { text, byTable: writers.mock.results.some((r) => r.type === 'return' && r.value !== undefined) };
  }

  const fieldsOf = (object: string): string[] => {
    const t = emu.org.store.table(object);
    if (!t) throw new Error(object);
    return t.schema.fields.filter((f) => f.type !== 'address' && f.type !== 'location').map((f) => f.name);
  };

  let lastRows = 0;
  /** All result pages of a Bulk query job, concatenated (header once); the row count is left in lastRows. */
  async function bulk(soql: string, options: Record<string, unknown> = {}, maxRecords?: number): Promise<string> {
    const created = await fetch(`${base}/jobs/query`, { method: 'POST', headers, body: JSON.stringify({ operation: 'query', query: soql, ...options }) });
    expect(created.status).toBe(200);
    const job = (await created.json()) as { id: string };
    for (let i = 0; ; i++) {
      const info = (await (await fetch(`${base}/jobs/query/${job.id}`, { headers })).json()) as { state: string };
      if (info.state === 'JobComplete') break;
      if (info.state === 'Failed' || i > 200) throw new Error(`job ${info.state}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    let locator = '';
    let text = '';
    let pages = 0;
    lastRows = 0;
    do {
      const q = new URLSearchParams();
      if (locator) q.set('locator', locator);
      if (maxRecords) q.set('maxRecords', String(maxRecords));
      const res = await fetch(`${base}/jobs/query/${job.id}/results?${q}`, { headers });
      expect(res.status).toBe(200);
      const page = await res.text();
      // Every page starts with the header line.
      text += pages === 0 ? page : page.slice(page.indexOf((options['lineEnding'] === 'CRLF' ? '\r\n' : '\n')) + (options['lineEnding'] === 'CRLF' ? 2 : 1));
      pages++;
      lastRows += Number(res.headers.get('sforce-numberofrecords'));
      locator = res.headers.get('sforce-locator') ?? 'null';
    } while (locator !== 'null');
    return text;
  }

  const sha = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16);

  it('serves the same values as before the streaming path (seed 5)', async () => {
    // Recorded from the implementation that built every record as an object and formatted it per row.
    const text = await bulk(`SELECT ${fieldsOf('Account').join(', ')} FROM Account`);
    expect(text.length).toBe(1_900_691);
    expect(sha(text)).toBe('5417e68fb855ce02');
    const contacts = await bulk(`SELECT ${fieldsOf('Contact').join(', ')} FROM Contact`);
    expect(sha(contacts)).toBe('5c19f82aaaf74324');
  });

  it('equals the general path byte for byte: every object, column orders, dialects and page sizes', async () => {
    for (const object of ['Account', 'Contact', 'Opportunity']) {
      const fields = fieldsOf(object);
      const some = [...fields].reverse().slice(0, 9).concat('Id');
      const cases: [string[], Record<string, unknown>, number | undefined][] = [
        [fields, {}, undefined],
        [fields, { columnDelimiter: 'PIPE', lineEnding: 'CRLF' }, 777],
        [some, { columnDelimiter: 'TAB' }, 1000],
      ];
      for (const [cols, options, maxRecords] of cases) {
        const streamed = await served(`SELECT ${cols.join(', ')} FROM ${object}`, options, maxRecords);
        const rows = await served(`SELECT ${cols.join(', ')} FROM ${object} WHERE Id != null`, options, maxRecords);
        // Each side really took its path (else the comparison would compare a path with itself).
        expect([streamed.byTable, rows.byTable], `${object} ${cols.length} ${JSON.stringify(options)}`).toEqual([true, false]);
        const fast = streamed.text;
        const general = rows.text;
        expect(fast.length, `${object} ${cols.length} ${JSON.stringify(options)}`).toBe(general.length);
        expect(fast === general, `${object} ${cols.length} ${JSON.stringify(options)}`).toBe(true);
      }
    }
    const limited = await bulk(`SELECT Id, Name FROM Account LIMIT 1234`, {}, 1000);
    expect(lastRows).toBe(1234);
    expect(limited).toBe(await bulk(`SELECT Id, Name FROM Account WHERE Id != null LIMIT 1234`, {}, 1000));
  });

  it('equals the general path over the overlay: changed (quotes, non-ASCII, long text), deleted and inserted records, query and queryAll', async () => {
    const ids = (await bulk('SELECT Id FROM Account', {}, 100)).trimEnd().split('\n').slice(1, 41).map((l) => l.replace(/"/g, ''));
    for (const [i, id] of ids.slice(0, 10).entries()) {
      const body = { Name: `Changed "q" ${i} Zoë 山田`, NumberOfEmployees: 7 + i, Description: 'x'.repeat(3000 * i) };
      const r = await fetch(`${base}/sobjects/Account/${id}`, { method: 'PATCH', headers, body: JSON.stringify(body) });
      expect(r.status).toBe(204);
    }
    for (const id of ids.slice(10, 20)) expect((await fetch(`${base}/sobjects/Account/${id}`, { method: 'DELETE', headers })).status).toBe(204);
    for (let i = 0; i < 5; i++) {
      const r = await fetch(`${base}/sobjects/Account`, { method: 'POST', headers, body: JSON.stringify({ Name: `New "${i}"`, AnnualRevenue: 1e7 + i }) });
      expect(r.status).toBe(201);
    }
    const fields = fieldsOf('Account');
    for (const operation of ['query', 'queryAll']) {
      for (const cols of [fields, ['Name', 'Id', 'NumberOfEmployees', 'IsDeleted', 'Description']]) {
        // Small pages: the long Description rows need more room than the rest of a page's buffer.
        const streamed = await served(`SELECT ${cols.join(', ')} FROM Account`, { operation }, 333);
        const rows = await served(`SELECT ${cols.join(', ')} FROM Account WHERE Id != null`, { operation }, 333);
        expect([streamed.byTable, rows.byTable], `${operation} ${cols.length}`).toEqual([true, false]);
        const fast = streamed.text;
        const general = rows.text;
        expect(fast === general, `${operation} ${cols.length}`).toBe(true);
        expect(lastRows).toBe(operation === 'query' ? 3000 - 10 + 5 : 3000 + 5);
      }
    }
  });
});
