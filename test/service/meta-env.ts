import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppflowClient } from '@aws-sdk/client-appflow';
import { ApiError } from '../../src/service/api-error.ts';
import type { Operation, OperationContext } from '../../src/service/operation.ts';
import { formatZodIssues } from '../../src/core/zod.ts';
import { MetadataCache } from '../../src/service/operations/metadata-cache.ts';
import { profileOperations } from '../../src/service/operations/profiles.ts';
import { connectorOperations } from '../../src/service/operations/connectors.ts';
import { PageTokens } from '../../src/service/paging.ts';
import { profilesEnv, type ProfilesEnv } from '../profiles/env.ts';

export const REGION = 'us-east-1';
export const ACCOUNT = '000000000000';

/**
 * Until svc-proto's service (src/service/http/app.ts) is merged: the profile and connector operations
 * behind a minimal REST-JSON adapter (POST path → zod → handler; Dates as epoch seconds; AWS's error
 * shape), so that the tests drive them through the real @aws-sdk/client-appflow over HTTP.
 */
export interface MetaEnv extends ProfilesEnv {
  readonly client: AppflowClient;
  readonly endpoint: string;
  readonly inUse: Map<string, string[]>;
  readonly cache: MetadataCache;
  /** Service calls to Salesforce describe (the emulator's request log is not needed). */
  readonly operations: Operation[];
  closeAll(): Promise<void>;
}

function toWire(value: unknown): unknown {
  if (value instanceof Date) return value.getTime() / 1000;
  if (Array.isArray(value)) return value.map(toWire);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toWire(v)]));
  return value;
}

export async function metaEnv(): Promise<MetaEnv> {
  const env = await profilesEnv();
  const inUse = new Map<string, string[]>();
  const cache = new MetadataCache();
  const pageTokens = new PageTokens();
  const operations = [
    ...profileOperations({ profiles: env.ctx, profileInUse: async (name) => inUse.get(name) ?? [], metadataCache: cache, pageTokens }),
    ...connectorOperations({ profiles: env.ctx, metadataCache: cache, pageTokens }),
  ];
  const byPath = new Map(operations.map((op) => [`${op.method} ${op.path}`, op]));
  const ctx: OperationContext = {
    log: env.ctx.log,
    caller: { accessKeyId: 'AKIDTEST', arn: `arn:aws:iam::${ACCOUNT}:user/test`, readOnly: false },
    region: REGION,
    accountId: ACCOUNT,
    now: () => new Date(),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = (status: number, body: unknown, errorType?: string): void => {
        res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-requestid': 'test', ...(errorType ? { 'x-amzn-errortype': errorType } : {}) });
        res.end(JSON.stringify(body));
      };
      void (async () => {
        const op = byPath.get(`${req.method ?? ''} ${(req.url ?? '').split('?')[0] ?? ''}`);
        if (!op) return reply(404, { message: 'no such operation' }, 'UnknownOperationException');
        const text = Buffer.concat(chunks).toString('utf8');
        const parsed = op.input.safeParse(text === '' ? {} : JSON.parse(text));
        if (!parsed.success) return reply(400, { message: formatZodIssues(parsed.error).join('; ') }, 'ValidationException');
        try {
          reply(200, toWire(await op.handle(parsed.data, ctx)));
        } catch (error) {
          if (error instanceof ApiError) return reply(error.status, { message: error.message }, error.type);
          reply(500, { message: `internal: ${(error as Error).message}` }, 'InternalServerException');
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new AppflowClient({ endpoint, region: REGION, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' }, maxAttempts: 1 });
  return {
    ...env,
    client,
    endpoint,
    inUse,
    cache,
    operations,
    async closeAll() {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await env.close();
    },
  };
}
