import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { gzipSync, deflateSync, createGzip } from 'node:zlib';
import { download, TEXT_LIMIT } from '../../src/connectors/salesforce/download.ts';
import { connectSalesforce } from '../../src/connectors/salesforce/connect.ts';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import type { Row } from '../../src/core/types.ts';
import { captureContext } from '../helpers/run-context.ts';
import { profileThrough } from '../helpers/rewriting-proxy.ts';

/** A loopback HTTP server answering every request with `answer`; the requests' headers are kept. */
async function serve(answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; seen: IncomingMessage['headers'][]; close: () => Promise<void> }> {
  const seen: IncomingMessage['headers'][] = [];
  const server: Server = createServer((req, res) => {
    seen.push(req.headers);
    answer(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/page`,
    seen,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

async function bytesOf(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

const CSV = `"Id","Name"\n${Array.from({ length: 5_000 }, (_, i) => `"a0${i}","name ${i} é"`).join('\n')}\n`;

describe('download (Bulk result pages without fetch copying every chunk)', () => {
  it('asks for gzip and deflate as fetch did, and reads either compressed answer back byte for byte', async () => {
    for (const [coding, encode] of [['gzip', gzipSync], ['deflate', deflateSync]] as const) {
      const server = await serve((_req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/csv', 'Content-Encoding': coding, 'Sforce-Locator': 'abc' });
        res.end(encode(CSV));
      });
      try {
        const answer = await download(server.url, { headers: { Accept: 'text/csv' } });
        expect(answer.ok).toBe(true);
        expect(answer.headers.get('sforce-locator')).toBe('abc');
        expect((await bytesOf(answer.body)).toString('utf8')).toBe(CSV);
        expect(server.seen[0]?.['accept-encoding']).toBe('gzip, deflate');
        expect(server.seen[0]?.['accept']).toBe('text/csv');
      } finally {
        await server.close();
      }
    }
  });

  it('hands over the socket\'s chunks of a plain answer, and an error answer\'s text', async () => {
    const server = await serve((req, res) => {
      if (req.headers['authorization'] === 'Bearer ok') {
        res.writeHead(200, { 'Content-Type': 'text/csv' });
        res.end(CSV);
      } else {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        res.end('[{"errorCode":"INVALID_SESSION_ID","message":"Session expired or invalid"}]');
      }
    });
    try {
      const ok = await download(server.url, { headers: { Authorization: 'Bearer ok' } });
      const chunks: Uint8Array[] = [];
      for await (const chunk of ok.body) chunks.push(chunk);
      expect(chunks.every((c) => Buffer.isBuffer(c))).toBe(true);
      expect(Buffer.concat(chunks).toString('utf8')).toBe(CSV);
      const refused = await download(server.url, { headers: { Authorization: 'Bearer expired' } });
      expect(refused.ok).toBe(false);
      expect(refused.status).toBe(401);
      expect(JSON.parse(await refused.text())).toEqual([{ errorCode: 'INVALID_SESSION_ID', message: 'Session expired or invalid' }]);
    } finally {
      await server.close();
    }
  });

  it('fails the read of a body the other side cuts part-way, plain or compressed, read at once or after the cut', async () => {
    for (const compressed of [false, true]) {
      for (const readAfterCut of [false, true]) {
        const whole = compressed ? gzipSync(CSV) : Buffer.from(CSV);
        const server = await serve((_req, res) => {
          res.writeHead(200, { 'Content-Length': String(whole.length), ...(compressed ? { 'Content-Encoding': 'gzip' } : {}) });
          res.write(whole.subarray(0, readAfterCut ? 1000 : whole.length >> 1), () => res.socket?.destroy());
        });
        try {
          const answer = await download(server.url, { headers: {} });
          // A cut while nothing reads the body: no uncaught 'error' (vitest fails the file on one); the reader gets it.
          if (readAfterCut) await new Promise((resolve) => setTimeout(resolve, 200));
          await expect(bytesOf(answer.body)).rejects.toThrow();
        } finally {
          await server.close();
        }
      }
    }
  });

  it('closes the connection when its reader stops early, plain or compressed', async () => {
    for (const compressed of [false, true]) {
      let closed!: () => void;
      const serverSawClose = new Promise<void>((resolve) => (closed = resolve));
      const server = await serve((_req, res) => {
        res.writeHead(200, compressed ? { 'Content-Encoding': 'gzip' } : {});
        const gzip = compressed ? createGzip() : undefined;
        if (gzip) gzip.pipe(res);
        // Sends for as long as the connection stays open.
        const timer = setInterval(() => (gzip ?? res).write(CSV), 5);
        res.once('close', () => {
          clearInterval(timer);
          closed();
        });
      });
      try {
        const answer = await download(server.url, { headers: {} });
        for await (const chunk of answer.body) if (chunk.length > 0) break;
        await serverSawClose;
      } finally {
        await server.close();
      }
    }
  }, 10_000);

  it('reads at most TEXT_LIMIT bytes of an error answer\'s text', async () => {
    const huge = 'x'.repeat(3 * TEXT_LIMIT);
    const server = await serve((_req, res) => {
      res.writeHead(502, { 'Content-Type': 'text/html' });
      res.end(huge);
    });
    try {
      const answer = await download(server.url, { headers: {} });
      const text = await answer.text();
      expect(answer.status).toBe(502);
      expect(text.length).toBe(TEXT_LIMIT);
      expect(text).toBe(huge.slice(0, TEXT_LIMIT));
    } finally {
      await server.close();
    }
  });

  it('gives up on an answer that stops sending (idle timeout), before or after its head', async () => {
    const stalls = await serve(() => undefined);
    const midway = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Length': String(CSV.length) });
      res.write(CSV.slice(0, 100));
    });
    try {
      const started = Date.now();
      await expect(download(stalls.url, { headers: {}, idleMs: 200 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
      const answer = await download(midway.url, { headers: {}, idleMs: 200 });
      await expect(bytesOf(answer.body)).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await stalls.close();
      await midway.close();
    }
  });

  it('stops with its signal, and refuses what is not http or https', async () => {
    const stalls = await serve(() => undefined);
    try {
      const controller = new AbortController();
      const pending = download(stalls.url, { headers: {}, signal: controller.signal });
      controller.abort();
      await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
      await expect(download('ftp://127.0.0.1/page', { headers: {} })).rejects.toThrow('Cannot download ftp: URLs.');
    } finally {
      await stalls.close();
    }
  });
});

describe('Salesforce read through a proxy that gzips Bulk result pages (as Salesforce does when asked)', () => {
  let emu: RunningEmulator;
  beforeAll(async () => {
    emu = await startEmulator({ generate: { Contact: 5_000 }, seed: 5 });
  });
  afterAll(async () => emu?.close());

  it('reads the same records as without it', async () => {
    let compressed = 0;
    const proxy: Server = createServer((req, res) => {
      const upstream = httpRequest(new URL(req.url ?? '/', emu.instanceUrl), { method: req.method, headers: { ...req.headers, host: new URL(emu.instanceUrl).host } }, (up) => {
        const gzip = /\/jobs\/query\/[^/]+\/results$/.test(new URL(req.url ?? '/', emu.instanceUrl).pathname) && /gzip/.test(String(req.headers['accept-encoding'] ?? ''));
        if (!gzip) {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
          return;
        }
        compressed++;
        const headers = { ...up.headers, 'content-encoding': 'gzip' };
        delete headers['content-length'];
        res.writeHead(up.statusCode ?? 200, headers);
        up.pipe(createGzip()).pipe(res);
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const read = async (instanceUrl: string): Promise<Row[]> => {
      const ctx = captureContext();
      const { source } = connectSalesforce(profileThrough(emu.connectorProfile, instanceUrl), { log: ctx.log, source: { bulk: { pollInitialMs: 10, pollMaxMs: 20, maxRecords: 2_000 } } });
      const rows: Row[] = [];
      const stream = await source.open({ entity: 'Contact', fields: ['Id', 'LastName', 'Email'], apiPreference: 'BULKV2' }, ctx);
      for await (const b of stream.batches) rows.push(...b.rows);
      return rows;
    };
    try {
      const { port } = proxy.address() as { port: number };
      const through = await read(`http://127.0.0.1:${port}`);
      const direct = await read(emu.instanceUrl);
      expect(compressed).toBe(3);
      expect(through).toHaveLength(5_000);
      expect(through).toEqual(direct);
    } finally {
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });
});
