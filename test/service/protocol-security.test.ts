import { createHash } from 'node:crypto';
import { request, type OutgoingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateFlowCommand, ListTagsForResourceCommand, TagResourceCommand, UntagResourceCommand } from '@aws-sdk/client-appflow';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { silentLogger } from '../../src/core/logger.ts';
import { buildApiApp } from '../../src/service/http/app.ts';
import { NodeSha256 } from '../../src/service/http/sigv4.ts';
import { startHarness, type ServiceHarness } from './harness.ts';
import { protocolOperations } from './protocol-ops.ts';

/**
 * The security review of the protocol layer (issue 14): SigV4 corner cases (signed-header rules, duplicate
 * headers, whitespace, payload hashes, query canonicalisation, scope date), the web page guard on every path,
 * body size and slow clients, JSON errors that could quote credentials, and clientTokens across callers.
 * The echoing test operations of protocol-ops.ts stand behind the real protocol layer, over real HTTP.
 */
let h: ServiceHarness;
const calls = new Map<string, number>();

beforeAll(async () => {
  h = await startHarness({ operations: async () => protocolOperations(calls), region: 'eu-west-1', accountId: '111122223333' });
});
afterAll(async () => {
  await h?.close();
});

interface Raw {
  readonly status: number;
  readonly type: string | undefined;
  readonly message: string;
  readonly text: string;
}

interface SendOptions {
  readonly method?: string;
  /** Path and query as sent on the request line. */
  readonly path?: string;
  readonly body?: string;
  /** Headers to sign and send (an array value is sent as repeated headers). */
  readonly headers?: Record<string, string | string[]>;
  /** Headers the signer must leave out of SignedHeaders. */
  readonly unsigned?: readonly string[];
  /** The values the client signs, when they differ from what is sent (e.g. repeated headers). */
  readonly signAs?: Record<string, string>;
  readonly date?: Date;
  /** Change the Authorization header after signing. */
  readonly editAuthorization?: (authorization: string) => string;
  /** Send another path and query than the signed one. */
  readonly sendPath?: string;
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
}

/** A request signed with @smithy/signature-v4 and sent with node:http, so headers go on the wire exactly as given. */
async function send(o: SendOptions = {}): Promise<Raw> {
  const url = new URL(h.svc.endpoint);
  const method = o.method ?? 'POST';
  const path = o.path ?? '/describe-flow';
  const body = o.body ?? (method === 'POST' ? '{"flowName":"f1"}' : '');
  const q = path.indexOf('?');
  const query: Record<string, string | string[]> = {};
  if (q >= 0) {
    for (const pair of path.slice(q + 1).split('&')) {
      const [k = '', v = ''] = pair.split('=').map((s) => decodeURIComponent(s));
      const prev = query[k];
      query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
  }
  const toSign: Record<string, string> = { host: url.host, ...(body === '' ? {} : { 'content-type': 'application/json' }) };
  for (const [k, v] of Object.entries(o.headers ?? {})) toSign[k] = Array.isArray(v) ? v.join(',') : v;
  Object.assign(toSign, o.signAs ?? {});
  const signer = new SignatureV4({
    credentials: { accessKeyId: o.accessKeyId ?? h.svc.accessKeyId, secretAccessKey: o.secretAccessKey ?? h.svc.secretAccessKey },
    region: h.svc.region,
    service: 'appflow',
    sha256: NodeSha256,
  });
  const signed = await signer.sign(
    new HttpRequest({ method, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: q >= 0 ? path.slice(0, q) : path, query, headers: toSign, ...(body === '' ? {} : { body }) }),
    { signingDate: o.date ?? new Date(), ...(o.unsigned ? { unsignableHeaders: new Set(o.unsigned) } : {}) },
  );
  const headers: OutgoingHttpHeaders = { ...signed.headers, ...o.headers };
  if (o.editAuthorization) headers['authorization'] = o.editAuthorization(String(headers['authorization']));
  return new Promise<Raw>((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path: o.sendPath ?? path, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString('utf8')));
      res.on('end', () => {
        let message: string;
        try {
          message = String((JSON.parse(text) as { message?: unknown }).message ?? '');
        } catch {
          message = '';
        }
        resolve({ status: res.statusCode ?? 0, type: res.headers['x-amzn-errortype'] as string | undefined, message, text });
      });
    });
    req.on('error', reject);
    req.end(body === '' ? undefined : body);
  });
}

/**
 * Authorization for a known key with a wrong signature: it passes every check made before the body is read
 * (form, scope, clock, key), so the body rules are reached.
 */
function preBodyAuth(accessKeyId: string, region = 'eu-west-1'): Record<string, string> {
  const amzDate = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
  return { 'x-amz-date': amzDate, authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${amzDate.slice(0, 8)}/${region}/appflow/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}` };
}

function count(): number {
  return calls.get('CreateFlow') ?? 0;
}

describe('SigV4: what must be signed', () => {
  it('accepts a correctly signed raw request (the baseline of the refusals below)', async () => {
    const ok = await send();
    expect(ok.status, ok.text).toBe(200);
  });

  it('refuses SignedHeaders without host or without x-amz-date', async () => {
    const noHost = await send({ unsigned: ['host'] });
    expect(noHost.status).toBe(403);
    expect(noHost.type).toBe('InvalidSignatureException');
    expect(noHost.message).toBe("'host' must be a 'SignedHeader' in the AWS Authorization.");
    const noDate = await send({ unsigned: ['x-amz-date'] });
    expect(noDate.status).toBe(403);
    expect(noDate.message).toBe("'x-amz-date' must be a 'SignedHeader' in the AWS Authorization.");
  });

  it('refuses UNSIGNED-PAYLOAD and streaming payload hashes: the body is always signed', async () => {
    const before = count();
    for (const hash of ['UNSIGNED-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD']) {
      const res = await send({ path: '/create-flow', body: '{"flowName":"unsigned"}', headers: { 'x-amz-content-sha256': hash } });
      expect(res.status, hash).toBe(403);
      expect(res.type).toBe('InvalidSignatureException');
      expect(res.message).toBe("The provided 'x-amz-content-sha256' header does not match what was computed.");
    }
    // The same request with the body's real hash is accepted, so the refusal above was for the hash alone.
    const body = '{"flowName":"unsigned"}';
    const ok = await send({ path: '/create-flow', body, headers: { 'x-amz-content-sha256': createHash('sha256').update(body).digest('hex') } });
    expect(ok.status, ok.text).toBe(200);
    expect(count()).toBe(before + 1);
  });

  it('refuses a credential scope date other than the date of X-Amz-Date', async () => {
    const date = new Date();
    const day = date.toISOString().slice(0, 10).replace(/-/g, '');
    const yesterday = new Date(date.getTime() - 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
    const res = await send({ date, editAuthorization: (a) => a.replace(`/${day}/`, `/${yesterday}/`) });
    expect(res.status).toBe(403);
    expect(res.type).toBe('InvalidSignatureException');
    expect(res.message).toContain('Date in Credential scope does not match');
  });

  it('joins repeated headers with "," as SigV4 does, and folds runs of spaces in values', async () => {
    // The client signs the SigV4 join; Node would have joined them with ", ".
    const repeated = await send({ headers: { 'x-amz-meta-team': ['a', 'b'] } });
    expect(repeated.status, repeated.text).toBe(200);
    const folded = await send({ headers: { 'x-amz-meta-note': 'two   spaces  here' } });
    expect(folded.status, folded.text).toBe(200);
    // A repeated header whose second value was added after signing is caught.
    const added = await send({ headers: { 'x-amz-meta-team': ['a', 'b'] }, signAs: { 'x-amz-meta-team': 'a' } });
    expect(added.status).toBe(403);
    expect(added.type).toBe('InvalidSignatureException');
  });

  it('canonicalises the query from the raw string: repeated keys, encoded characters; a changed query is refused', async () => {
    const arn = 'arn:aws:appflow:eu-west-1:111122223333:flow/query-keys';
    const keys = ['plain', 'a/b c', 'x+y=z', 'ünï€'];
    await h.appflow.send(new TagResourceCommand({ resourceArn: arn, tags: Object.fromEntries([...keys, 'kept'].map((k) => [k, '1'])) }));
    await h.appflow.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: keys }));
    expect((await h.appflow.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags).toEqual({ kept: '1', echoedArn: arn });
    // Signed for one key, sent for another: refused, nothing removed.
    const path = `/tags/${encodeURIComponent(arn)}`;
    const changed = await send({ method: 'DELETE', path: `${path}?tagKeys=other`, sendPath: `${path}?tagKeys=kept` });
    expect(changed.status).toBe(403);
    expect(changed.type).toBe('InvalidSignatureException');
    // A literal "+" is a plus (not a space), as the signer encodes it: signed "a+b", sent "a+b" verifies.
    const plus = await send({ method: 'DELETE', path: `${path}?tagKeys=a%2Bb`, sendPath: `${path}?tagKeys=a+b` });
    expect(plus.status, plus.text).toBe(200);
    expect((await h.appflow.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags).toEqual({ kept: '1', echoedArn: arn });
  });
});

describe('the web page guard on every path', () => {
  it('refuses a foreign Host on unknown paths and preflights too, before any signature check', async () => {
    for (const [method, path] of [['POST', '/no-such-operation'], ['OPTIONS', '/describe-flow'], ['GET', '/']] as const) {
      const res = await send({ method, path, body: '', headers: { host: 'attacker.example' } });
      expect(res.status, `${method} ${path}`).toBe(421);
      expect(res.type).toBe('AccessDeniedException');
    }
    // A name that merely starts like loopback is still a DNS name an attacker controls.
    for (const host of ['127.0.0.1.nip.io', 'localhost.attacker.example']) {
      expect((await send({ headers: { host } })).status, host).toBe(421);
    }
  });

  it('refuses an Origin (null, file, a loopback page on another port) on every path, preflights included', async () => {
    for (const origin of ['null', 'file://', 'http://127.0.0.1:1', 'http://attacker.example']) {
      const res = await send({ headers: { origin } });
      expect(res.status, origin).toBe(403);
      expect(res.type).toBe('AccessDeniedException');
      const pre = await send({ method: 'OPTIONS', path: '/create-flow', body: '', headers: { origin, 'access-control-request-method': 'POST' } });
      expect(pre.status, origin).toBe(403);
      expect(pre.text).not.toContain('access-control-allow-origin');
      const unknown = await send({ path: '/no-such-operation', headers: { origin } });
      expect(unknown.status, origin).toBe(403);
    }
  });
});

describe('request bodies and slow clients', () => {
  it('answers a 1 GB Content-Length with 413 before reading it', async () => {
    const url = new URL(h.svc.endpoint);
    const res = await new Promise<{ status: number; type: unknown }>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, method: 'POST', path: '/create-flow', headers: { 'content-type': 'application/json', 'content-length': String(1024 ** 3), ...preBodyAuth(h.svc.accessKeyId) } }, (r) => {
        r.resume();
        resolve({ status: r.statusCode ?? 0, type: r.headers['x-amzn-errortype'] });
        req.destroy();
      });
      req.on('error', reject);
      req.write('{"flowName":"');
    });
    expect(res.status).toBe(413);
    expect(res.type).toBe('ValidationException');
  });

  it('refuses an unauthenticated request before reading its body', { timeout: 10_000 }, async () => {
    const url = new URL(h.svc.endpoint);
    for (const auth of [{}, preBodyAuth('FFLKUNKNOWN0000000000'), preBodyAuth(h.svc.accessKeyId, 'us-west-2')]) {
      const res = await new Promise<{ status: number; type: unknown }>((resolve, reject) => {
        const headers = { 'content-type': 'application/json', 'content-length': String(5 * 1024 * 1024), ...auth };
        const req = request({ host: url.hostname, port: url.port, method: 'POST', path: '/create-flow', headers }, (r) => {
          r.resume();
          resolve({ status: r.statusCode ?? 0, type: r.headers['x-amzn-errortype'] });
          req.destroy();
        });
        req.on('error', reject);
        // A few bytes of the 5 MiB announced: the answer must not wait for the rest.
        req.write('{"flowName":"');
      });
      expect(res.status).toBe(403);
      expect(res.type).toBe(auth.authorization === undefined ? 'MissingAuthenticationTokenException' : auth.authorization.includes('us-west-2') ? 'InvalidSignatureException' : 'UnrecognizedClientException');
    }
  });

  it('stops reading a chunked body past the limit', { timeout: 10_000 }, async () => {
    const url = new URL(h.svc.endpoint);
    let sent = 0;
    const res = await new Promise<{ status: number }>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, method: 'POST', path: '/create-flow', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked', ...preBodyAuth(h.svc.accessKeyId) } }, (r) => {
        r.resume();
        resolve({ status: r.statusCode ?? 0 });
        req.destroy();
      });
      // The server answers 413 and closes; with bytes still unread its close may reset the connection
      // before the client parses the answer. Either way it stopped reading.
      req.on('error', (e) => (/ECONNRESET|EPIPE/.test(String(e)) ? resolve({ status: 0 }) : reject(e)));
      const chunk = Buffer.alloc(256 * 1024, 0x61);
      const pump = (): void => {
        while (!req.destroyed && sent < 64 * 1024 * 1024) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
      };
      pump();
    });
    expect([413, 0]).toContain(res.status);
    expect(sent).toBeLessThan(32 * 1024 * 1024);
  });

  it('closes a connection that trickles its request (slow-loris) after the request timeout', async () => {
    const app = buildApiApp({ operations: protocolOperations(), keys: { find: async (accessKeyId) => ({ accessKeyId, secretAccessKey: 'x'.repeat(40), readOnly: false, arn: 'arn:aws:iam::111122223333:user/slow' }) }, region: 'eu-west-1', accountId: '111122223333', log: silentLogger(), requestTimeoutMs: 800 });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const address = app.server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      const socket = connect(port, '127.0.0.1');
      let answer = '';
      socket.on('data', (c: Buffer) => (answer += c.toString()));
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      const auth = Object.entries(preBodyAuth('FFLKSLOWLORIS0000000')).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      socket.write(`POST /create-flow HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{`);
      const trickle = setInterval(() => socket.write(' '), 100);
      const started = Date.now();
      await closed;
      clearInterval(trickle);
      // Node checks the timeout every connectionsCheckingInterval (a quarter of it here).
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      await app.close();
    }
  });
});

describe('errors that could quote the request', () => {
  it('reports JSON syntax errors by position only, never quoting the body (which may hold credentials)', async () => {
    const secret = 'CANARYSECRETVALUE0123';
    for (const body of [`{"refreshToken": ${secret}}`, `{"refreshToken": "${secret}" x}`, `${secret}`]) {
      const res = await send({ path: '/create-flow', body });
      expect(res.status).toBe(400);
      expect(res.type).toBe('ValidationException');
      expect(res.message).toMatch(/^The request body is not valid JSON/);
      expect(res.text).not.toContain(secret.slice(0, 10));
    }
    expect(h.logText()).not.toContain(secret.slice(0, 10));
  });
});

describe('clientToken across callers and operations', () => {
  it("scopes a token to the access key: another key's call runs on its own and never gets the first response", async () => {
    const second = await h.svc.keys.create({ name: 'second-writer' });
    const third = await h.svc.keys.create({ name: 'third-writer' });
    const mine = h.appflow;
    const before = count();
    await mine.send(new CreateFlowCommand({ flowName: 'token-a', clientToken: 'shared-token' } as never));
    // Same token, same input, another caller: it runs (the first caller's answer is not replayed to it).
    await h.client({ accessKeyId: second.accessKeyId, secretAccessKey: second.secretAccessKey }).send(new CreateFlowCommand({ flowName: 'token-a', clientToken: 'shared-token' } as never));
    expect(count()).toBe(before + 2);
    // Same token, other input, another caller: not a ConflictException about someone else's request; it runs.
    const out = await h.client({ accessKeyId: third.accessKeyId, secretAccessKey: third.secretAccessKey }).send(new CreateFlowCommand({ flowName: 'token-b', clientToken: 'shared-token' } as never));
    expect(out.flowArn).toBe('arn:aws:appflow:eu-west-1:111122223333:flow/token-b');
    expect(count()).toBe(before + 3);
    // The first caller's retry is still a replay.
    await mine.send(new CreateFlowCommand({ flowName: 'token-a', clientToken: 'shared-token' } as never));
    expect(count()).toBe(before + 3);
  });

  it("answers each operation from its own token space: a token used by CreateFlow does not replay CreateFlow's answer to DescribeFlow", async () => {
    await h.appflow.send(new CreateFlowCommand({ flowName: 'op-scope', clientToken: 'op-token' } as never));
    const res = await send({ path: '/describe-flow', body: '{"flowName":"op-scope","clientToken":"op-token"}' });
    expect(res.status, res.text).toBe(200);
    expect(JSON.parse(res.text)).toMatchObject({ flowName: 'op-scope', flowStatus: 'Active' });
  });

  it('never replays a read: a stray clientToken on DescribeFlow does not freeze its answer', async () => {
    const first = await send({ path: '/describe-flow', body: '{"flowName":"fresh","clientToken":"read-token"}' });
    await new Promise((r) => setTimeout(r, 20));
    const second = await send({ path: '/describe-flow', body: '{"flowName":"fresh","clientToken":"read-token"}' });
    expect(first.status).toBe(200);
    // lastUpdatedAt is the service clock at the call: a replayed answer would repeat the first one.
    expect(JSON.parse(second.text).lastUpdatedAt).toBeGreaterThan(JSON.parse(first.text).lastUpdatedAt);
  });
});
