import { describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
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
