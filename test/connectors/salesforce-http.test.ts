import { describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { connectSalesforce } from '../../src/connectors/salesforce/connect.ts';
import { isForceflowError } from '../../src/core/errors.ts';
import { captureContext } from '../helpers/run-context.ts';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('Salesforce client: network failures', () => {
  it('names the cause (connection refused), the call, the attempts and what to do', async () => {
    const port = await closedPort();
    const ctx = captureContext();
    const profile = {
      connectorProfileName: 'unreachable',
      connectorType: 'Salesforce',
      connectorProfileConfig: {
        connectorProfileProperties: { Salesforce: { instanceUrl: `http://127.0.0.1:${port}` } },
        connectorProfileCredentials: { Salesforce: { accessToken: '00D000000000001!SECRET-ACCESS-TOKEN' } },
      },
    };
    const { source } = connectSalesforce(profile, { log: ctx.log, retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 2 } });
    const error = await source.open({ entity: 'Account', fields: ['Id'] }, ctx).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isForceflowError(error)).toBe(true);
    const e = error as { code: string; kind: string; message: string };
    expect(e.code).toBe('SF_UNAVAILABLE');
    expect(e.kind).toBe('retryable');
    expect(e.message).toContain('ECONNREFUSED');
    expect(e.message).toContain('describe Account');
    expect(e.message).toContain('after 3 attempt(s)');
    expect(e.message).toContain('Check the instance URL');
    // The retries were logged with their reason; the token never was.
    expect(ctx.lines.filter((l) => l['msg'] === 'retrying Salesforce call')).toHaveLength(2);
    expect(ctx.text()).toContain('ECONNREFUSED');
    expect(ctx.text()).not.toContain('SECRET-ACCESS-TOKEN');
  });
});

describe('Salesforce client: REQUEST_LIMIT_EXCEEDED says which limit', () => {
  async function readError(faults: string): Promise<{ code: string; message: string }> {
    const { startEmulator } = await import('../../src/emulator/index.ts');
    const emu = await startEmulator({ faults });
    try {
      const ctx = captureContext();
      const { source } = connectSalesforce(emu.connectorProfile, { log: ctx.log, retry: { retries: 1, baseDelayMs: 1, maxDelayMs: 2 } });
      const error = await (async () => {
        const stream = await source.open({ entity: 'Account', fields: ['Id'], apiPreference: 'REST_SYNC' }, ctx);
        for await (const batch of stream.batches) void batch;
      })().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isForceflowError(error)).toBe(true);
      return error as { code: string; message: string };
    } finally {
      await emu.close();
    }
  }

  it('a spent daily limit (403 TotalRequests)', async () => {
    const e = await readError('apiLimit.after=1');
    expect(e.code).toBe('SF_REQUEST_LIMIT_EXCEEDED');
    expect(e.message).toContain('403 REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.');
    expect(e.message).not.toContain('..');
    expect(e.message).toContain('daily API limit is spent');
  });

  it('rate limiting that outlasts the retries (429) is SF_UNAVAILABLE (retryable), not a spent daily limit', async () => {
    const e = await readError('rest.429=1,query.429=1,retryAfter=0');
    expect(e.code).toBe('SF_UNAVAILABLE');
    expect(e.message).toContain('429 REQUEST_LIMIT_EXCEEDED');
    expect(e.message).toContain('too many requests after 2 attempt(s)');
    expect(e.message).not.toContain('daily');
  });
});

describe('Salesforce client: Retry-After', () => {
  async function readWith(faults: string, signal?: AbortSignal): Promise<{ error: unknown; delays: number[] }> {
    const { startEmulator } = await import('../../src/emulator/index.ts');
    const emu = await startEmulator({ faults });
    try {
      const ctx = captureContext(signal);
      const { source } = connectSalesforce(emu.connectorProfile, { log: ctx.log, retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 20 } });
      const error = await (async () => {
        const stream = await source.open({ entity: 'Account', fields: ['Id'], apiPreference: 'REST_SYNC' }, ctx);
        for await (const batch of stream.batches) void batch;
      })().then(() => undefined, (e: unknown) => e);
      const delays = ctx.lines.filter((l) => l['msg'] === 'retrying Salesforce call').map((l) => l['delayMs'] as number);
      return { error, delays };
    } finally {
      await emu.close();
    }
  }

  it('a server asking to wait an hour waits no longer than the policy allows (maxRetryAfterMs, default maxDelayMs)', async () => {
    // Without the cap the first retry would sleep an hour and the test would time out.
    const { error, delays } = await readWith('rest.503=1,retryAfter=3600');
    expect(isForceflowError(error, 'SF_UNAVAILABLE')).toBe(true);
    expect(delays).toEqual([20, 20]);
  });

  it('a cancellation during a Retry-After wait ends the read at once with RUN_CANCELED', async () => {
    const controller = new AbortController();
    const { startEmulator } = await import('../../src/emulator/index.ts');
    const emu = await startEmulator({ faults: 'rest.503=1,retryAfter=3600' });
    try {
      const ctx = captureContext(controller.signal);
      const { source } = connectSalesforce(emu.connectorProfile, { log: ctx.log, signal: controller.signal, retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 3_600_000 } });
      const reading = source.open({ entity: 'Account', fields: ['Id'], apiPreference: 'REST_SYNC' }, ctx).then(() => undefined, (e: unknown) => e);
      // Cancel once the client has started its (hour-long) wait.
      while (!ctx.lines.some((l) => l['msg'] === 'retrying Salesforce call')) await new Promise((r) => setImmediate(r));
      expect(ctx.lines.find((l) => l['msg'] === 'retrying Salesforce call')?.['delayMs']).toBe(3_600_000);
      controller.abort();
      expect(isForceflowError(await reading, 'RUN_CANCELED')).toBe(true);
    } finally {
      await emu.close();
    }
  });
});

/** A server on a free loopback port: its port. */
async function listen(server: ReturnType<typeof createHttpServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

/** A Salesforce profile whose instance is a local test server. */
function localProfile(name: string, port: number): unknown {
  return {
    connectorProfileName: name,
    connectorType: 'Salesforce',
    connectorProfileConfig: {
      connectorProfileProperties: { Salesforce: { instanceUrl: `http://127.0.0.1:${port}` } },
      connectorProfileCredentials: { Salesforce: { accessToken: '00D000000000001!TOKEN' } },
    },
  };
}

describe('Salesforce client: answers that are not Salesforce JSON', () => {
  async function describeError(handler: (res: ServerResponse) => void): Promise<unknown> {
    const server = createHttpServer((_req, res) => handler(res));
    const port = await listen(server);
    try {
      const ctx = captureContext();
      const profile = localProfile('proxy', port);
      const { source } = connectSalesforce(profile, { log: ctx.log, retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 2 } });
      return await source.open({ entity: 'Account', fields: ['Id'] }, ctx).then(() => undefined, (e: unknown) => e);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  it('a 200 page that is not JSON (a proxy login page) is SF_API_ERROR naming the call, not INTERNAL', async () => {
    const e = await describeError((res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>Sign in to the proxy</body></html>');
    });
    expect(e).toMatchObject({ code: 'SF_API_ERROR' });
    expect((e as Error).message).toContain('describe Account');
    expect((e as Error).message).toContain('is not JSON');
  });

  it('an answer declaring more than 256 MiB is refused before it is read', async () => {
    const e = await describeError((res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(300 * 1024 * 1024) });
      res.write('{"fields":[');
    });
    expect(e).toMatchObject({ code: 'SF_API_ERROR', details: { limit: 256 * 1024 * 1024 } });
  });
});

describe('Salesforce client: streamed uploads', () => {
  it('keeps no chunk of a streamed body once it is sent (fetch must not tee it for a redirect it could not follow)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    let received = 0;
    const server = createHttpServer((req, res) => {
      req.on('data', (c: Buffer) => (received += c.length));
      req.on('end', () => res.end('{}'));
    });
    const port = await listen(server);
    try {
      const ctx = captureContext();
      const profile = localProfile('upload', port);
      const { client } = connectSalesforce(profile, { log: ctx.log, retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 2 } });
      // ArrayBuffers reachable after a full collection, in MB (fetch copies each chunk: the body's own buffers tell nothing).
      const live = async (): Promise<number> => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        gc();
        await new Promise((resolve) => setTimeout(resolve, 20));
        return process.memoryUsage().arrayBuffers / 1e6;
      };
      const before = await live();
      let during = -1;
      async function* body(): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < 24; i++) {
          if (i === 20) during = await live();
          yield Buffer.alloc(1024 * 1024, i);
        }
      }
      await client.send({ method: 'PUT', path: '/jobs/ingest/750x/batches', body, headers: { 'Content-Type': 'text/csv' }, idempotent: false, call: 'upload' });
      expect(received).toBe(24 * 1024 * 1024);
      expect(during).toBeGreaterThanOrEqual(0);
      // Teed, the 20 MB sent so far stay reachable until the call ends; sent, only the chunks in flight are.
      expect(during - before).toBeLessThan(8);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
