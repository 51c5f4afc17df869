import { describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { connectSalesforce } from '../../src/connectors/salesforce/connect.ts';
import { isForceflowError } from '../../src/core/errors.ts';
import { captureContext } from '../helpers/run-context.ts';

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

describe('Salesforce client: answers that are not Salesforce JSON', () => {
  async function describeError(handler: (res: ServerResponse) => void): Promise<unknown> {
    const server = createHttpServer((_req, res) => handler(res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const ctx = captureContext();
      const profile = {
        connectorProfileName: 'proxy',
        connectorType: 'Salesforce',
        connectorProfileConfig: {
          connectorProfileProperties: { Salesforce: { instanceUrl: `http://127.0.0.1:${port}` } },
          connectorProfileCredentials: { Salesforce: { accessToken: '00D000000000001!TOKEN' } },
        },
      };
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
