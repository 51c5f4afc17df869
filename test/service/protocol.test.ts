import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateFlowCommand, DescribeFlowCommand, ListTagsForResourceCommand, TagResourceCommand, UntagResourceCommand } from '@aws-sdk/client-appflow';
import { signedFetch, startHarness, type ServiceHarness, type SignedFetchOptions, type SignedFetchResult } from './harness.ts';
import { protocolOperations } from './protocol-ops.ts';
import { rejection } from '../helpers/rejection.ts';

let h: ServiceHarness;
const calls = new Map<string, number>();

beforeAll(async () => {
  h = await startHarness({ operations: async () => protocolOperations(calls), region: 'eu-west-1', accountId: '111122223333' });
});
afterAll(async () => {
  await h?.close();
});

/** A signed raw request to this file's service (see signedFetch in harness.ts). */
function rawSigned(o: SignedFetchOptions = {}): Promise<SignedFetchResult> {
  return signedFetch(h.svc, { path: '/describe-flow', body: '{"flowName":"f1"}', ...o });
}

describe('the AppFlow API through @aws-sdk/client-appflow', () => {
  it('answers a signed call, with timestamps as epoch seconds the SDK reads as Dates', async () => {
    const out = await h.appflow.send(new DescribeFlowCommand({ flowName: 'f1' }));
    expect(out.flowName).toBe('f1');
    expect(out.flowArn).toBe('arn:aws:appflow:eu-west-1:111122223333:flow/f1');
    expect(out.createdAt).toEqual(new Date(Date.UTC(2025, 0, 1, 0, 0, 0, 123)));
    expect(out.lastUpdatedAt).toBeInstanceOf(Date);
    expect(out.createdBy).toBe('arn:aws:iam::111122223333:user/forceflow-local');
    expect(out.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('serialises Date members as JSON numbers on the wire, with x-amzn-RequestId and Date headers', async () => {
    const res = await rawSigned();
    expect(res.status).toBe(200);
    expect(res.json['createdAt']).toBe(1735689600.123);
    expect(typeof res.json['lastUpdatedAt']).toBe('number');
    expect('description' in res.json).toBe(false);
    expect(res.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(Math.abs(Date.parse(res.headers.get('date') ?? '') - Date.now())).toBeLessThan(5000);
  });

  it('maps a handler ApiError to its name, status and message', async () => {
    const e = await rejection(h.appflow.send(new DescribeFlowCommand({ flowName: 'missing' })));
    expect(e.name).toBe('ResourceNotFoundException');
    expect(e.message).toBe('Flow missing does not exist.');
    expect(e.$metadata?.httpStatusCode).toBe(404);
  });

  it('maps engine error codes in one place (FLOW_LOCKED → ConflictException 409)', async () => {
    const e = await rejection(h.appflow.send(new DescribeFlowCommand({ flowName: 'locked' })));
    expect(e.name).toBe('ConflictException');
    expect(e.message).toContain('Flow locked is running');
    expect(e.$metadata?.httpStatusCode).toBe(409);
  });

  it('answers InternalServerException for an unexpected error without its details, and logs them', async () => {
    const e = await rejection(h.appflow.send(new DescribeFlowCommand({ flowName: 'broken' })));
    expect(e.name).toBe('InternalServerException');
    expect(e.$metadata?.httpStatusCode).toBe(500);
    expect(e.message).not.toContain('hunter2');
    expect(e.message).toMatch(/request id [0-9a-f-]{36}/);
    expect(h.logText()).toContain('DescribeFlow failed unexpectedly');
  });

  it('refuses input failing the schema with ValidationException naming the member', async () => {
    const e = await rejection(h.appflow.send(new DescribeFlowCommand({ flowName: '-bad name' })));
    expect(e.name).toBe('ValidationException');
    expect(e.$metadata?.httpStatusCode).toBe(400);
    expect(e.message).toMatch(/^1 validation error detected: Value at 'flowName' failed to satisfy constraint: Member must satisfy regular expression pattern/);
    const missing = await rejection(h.appflow.send(new DescribeFlowCommand({} as never)));
    expect(missing.name).toBe('ValidationException');
    expect(missing.message).toBe("1 validation error detected: Value at 'flowName' failed to satisfy constraint: Member must not be null");
    const wrongType = await rawSigned({ body: '{"flowName": 5}' });
    expect(String(wrongType.json['message'])).toMatch(/^1 validation error detected: Value at 'flowName' failed to satisfy constraint: (?!Member must not be null)/);
  });

  it('refuses a body that is not JSON with ValidationException', async () => {
    const res = await rawSigned({ body: '{"flowName": ' });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('ValidationException');
    expect(String(res.json['message'])).toContain('not valid JSON');
    const arr = await rawSigned({ body: '[1]' });
    expect(arr.headers.get('x-amzn-errortype')).toBe('ValidationException');
  });

  it('routes the tag operations with the ARN as one percent-encoded path segment (signature verifies)', async () => {
    const arn = 'arn:aws:appflow:eu-west-1:111122223333:flow/my flow';
    await h.appflow.send(new TagResourceCommand({ resourceArn: arn, tags: { team: 'a', env: 'dev' } }));
    const listed = await h.appflow.send(new ListTagsForResourceCommand({ resourceArn: arn }));
    expect(listed.tags).toEqual({ team: 'a', env: 'dev', echoedArn: arn });
    await h.appflow.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ['team', 'env'] }));
    const after = await h.appflow.send(new ListTagsForResourceCommand({ resourceArn: arn }));
    expect(after.tags).toEqual({ echoedArn: arn });
  });

  it('answers a repeated clientToken with the first response without running it again, and refuses it with different input', async () => {
    const before = calls.get('CreateFlow') ?? 0;
    const first = await h.appflow.send(new CreateFlowCommand({ flowName: 'idem', description: 'd', clientToken: 'token-1' } as never));
    const again = await h.appflow.send(new CreateFlowCommand({ flowName: 'idem', description: 'd', clientToken: 'token-1' } as never));
    expect(again.flowArn).toBe(first.flowArn);
    expect(calls.get('CreateFlow')).toBe(before + 1);
    const e = await rejection(h.appflow.send(new CreateFlowCommand({ flowName: 'idem', description: 'other', clientToken: 'token-1' } as never)));
    expect(e.name).toBe('ConflictException');
    expect(e.message).toContain('token-1');
    // Without a token of its own the SDK makes a fresh one per call: each runs.
    await h.appflow.send(new CreateFlowCommand({ flowName: 'idem' } as never));
    await h.appflow.send(new CreateFlowCommand({ flowName: 'idem' } as never));
    expect(calls.get('CreateFlow')).toBe(before + 3);
  });

  it('answers a path that is not valid percent-encoding in the AWS error shape', async () => {
    const res = await fetch(`${h.svc.endpoint}/tags/arn%zz`);
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('ValidationException');
    expect(res.headers.get('x-amzn-requestid')).toBeTruthy();
    expect(String(((await res.json()) as { message: string }).message)).toContain('Percent-encode');
  });

  it('verifies raw signed requests with a query (DELETE /tags/{arn}?tagKeys=…)', async () => {
    const arn = 'arn:aws:appflow:eu-west-1:111122223333:flow/raw';
    await h.appflow.send(new TagResourceCommand({ resourceArn: arn, tags: { a: '1', b: '2', c: '3' } }));
    const res = await rawSigned({ method: 'DELETE', path: `/tags/${encodeURIComponent(arn)}?tagKeys=a&tagKeys=b`, body: '' });
    expect(res.status).toBe(200);
    const listed = await h.appflow.send(new ListTagsForResourceCommand({ resourceArn: arn }));
    expect(listed.tags).toEqual({ c: '3', echoedArn: arn });
  });

  it('answers an unknown path with a JSON error', async () => {
    const res = await rawSigned({ path: '/no-such-operation' });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
    expect(typeof res.json['message']).toBe('string');
  });
});

describe('SigV4 verification', () => {
  it('refuses an unsigned request with MissingAuthenticationTokenException', async () => {
    const res = await fetch(`${h.svc.endpoint}/describe-flow`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"flowName":"f1"}' });
    expect(res.status).toBe(403);
    expect(res.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
    expect(await res.json()).toEqual({ message: 'Missing Authentication Token' });
    expect(res.headers.get('x-amzn-requestid')).toBeTruthy();
    expect(res.headers.get('date')).toBeTruthy();
  });

  it('refuses a malformed Authorization header with IncompleteSignatureException', async () => {
    for (const authorization of ['AWS4-HMAC-SHA256 Credential=FFLKX/20250101/eu-west-1/appflow/aws4_request', 'Basic dXNlcjpwYXNz', `AWS4-HMAC-SHA256 Credential=${h.svc.accessKeyId}, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`]) {
      const res = await fetch(`${h.svc.endpoint}/describe-flow`, { method: 'POST', headers: { authorization, 'x-amz-date': '20250101T000000Z', 'content-type': 'application/json' }, body: '{"flowName":"f1"}' });
      expect(res.status).toBe(403);
      expect(res.headers.get('x-amzn-errortype')).toBe('IncompleteSignatureException');
      expect(typeof ((await res.json()) as { message: unknown }).message).toBe('string');
    }
  });

  it('refuses a presigned URL (query-string authentication)', async () => {
    const res = await fetch(`${h.svc.endpoint}/describe-flow?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=${'0'.repeat(64)}`, { method: 'POST', body: '{"flowName":"f1"}' });
    expect(res.status).toBe(403);
    expect(res.headers.get('x-amzn-errortype')).toBe('IncompleteSignatureException');
  });

  it('refuses a wrong secret with InvalidSignatureException', async () => {
    const c = h.client({ secretAccessKey: 'x'.repeat(40) });
    const e = await rejection(c.send(new DescribeFlowCommand({ flowName: 'f1' })));
    expect(e.name).toBe('InvalidSignatureException');
    expect(e.message).toMatch(/^The request signature we calculated does not match/);
    expect(e.$metadata?.httpStatusCode).toBe(403);
  });

  it('refuses an unknown access key with UnrecognizedClientException', async () => {
    const c = h.client({ accessKeyId: 'FFLKUNKNOWNKEY000000' });
    const e = await rejection(c.send(new DescribeFlowCommand({ flowName: 'f1' })));
    expect(e.name).toBe('UnrecognizedClientException');
    expect(e.message).toBe('The security token included in the request is invalid.');
  });

  it('refuses a credential scoped to another region or service', async () => {
    const c = h.client({ region: 'us-west-2' });
    const e = await rejection(c.send(new DescribeFlowCommand({ flowName: 'f1' })));
    expect(e.name).toBe('InvalidSignatureException');
    expect(e.message).toContain("Credential should be scoped to a valid region, not 'us-west-2'");
    const res = await rawSigned({ service: 's3' });
    expect(res.status).toBe(403);
    expect(res.headers.get('x-amzn-errortype')).toBe('InvalidSignatureException');
    expect(res.json['message']).toBe("Credential should be scoped to correct service: 'appflow'.");
  });

  it('refuses a request signed more than five minutes ago, or ahead, and accepts one within the window', async () => {
    const old = await rawSigned({ date: new Date(Date.now() - 6 * 60_000) });
    expect(old.status).toBe(403);
    expect(old.headers.get('x-amzn-errortype')).toBe('InvalidSignatureException');
    expect(String(old.json['message'])).toMatch(/^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$/);
    const ahead = await rawSigned({ date: new Date(Date.now() + 6 * 60_000) });
    expect(String(ahead.json['message'])).toMatch(/^Signature not yet current/);
    const recent = await rawSigned({ date: new Date(Date.now() - 4 * 60_000) });
    expect(recent.status).toBe(200);
  });

  it('refuses a body changed after signing, with and without x-amz-content-sha256', async () => {
    const withSha = await rawSigned({ contentSha: true, tamper: '{"flowName":"f2"}' });
    expect(withSha.status).toBe(403);
    expect(withSha.headers.get('x-amzn-errortype')).toBe('InvalidSignatureException');
    const without = await rawSigned({ tamper: '{"flowName":"f2"}' });
    expect(without.status).toBe(403);
    expect(without.headers.get('x-amzn-errortype')).toBe('InvalidSignatureException');
    const untampered = await rawSigned({ contentSha: true });
    expect(untampered.status).toBe(200);
  });

  it('refuses a write operation to a read-only key and allows its reads', async () => {
    const key = await h.svc.keys.create({ name: 'auditor', readOnly: true });
    const c = h.client({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
    const read = await c.send(new DescribeFlowCommand({ flowName: 'f1' }));
    expect(read.createdBy).toBe('arn:aws:iam::111122223333:user/auditor');
    const e = await rejection(c.send(new CreateFlowCommand({ flowName: 'f1' } as never)));
    expect(e.name).toBe('AccessDeniedException');
    expect(e.$metadata?.httpStatusCode).toBe(403);
    expect(e.message).toContain('appflow:CreateFlow');
  });
});

describe('web page guard', () => {
  it('refuses any request with an Origin header (not configured as allowed)', async () => {
    const res = await rawSigned({ headers: { origin: 'http://localhost:3000' } });
    expect(res.status).toBe(403);
    expect(res.headers.get('x-amzn-errortype')).toBe('AccessDeniedException');
    expect(String(res.json['message'])).toContain('Origin');
  });

  it('answers the CORS preflight of an allowed origin, and serves its signed calls', async () => {
    const allowed = await startHarness({ emulator: h.emu, operations: async () => protocolOperations(), allowOrigins: ['http://localhost:3000'] });
    try {
      const pre = await fetch(`${allowed.svc.endpoint}/describe-flow`, { method: 'OPTIONS', headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST' } });
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
      expect(pre.headers.get('access-control-allow-headers')).toContain('X-Amz-Date');
      const other = await fetch(`${allowed.svc.endpoint}/describe-flow`, { method: 'OPTIONS', headers: { origin: 'http://localhost:3001', 'access-control-request-method': 'POST' } });
      expect(other.status).toBe(403);
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await allowed.close();
    }
  });

  it('refuses a foreign Host name (DNS rebinding)', async () => {
    // fetch cannot set Host; node:http can.
    const url = new URL(h.svc.endpoint);
    const res = await new Promise<{ status: number; type: unknown; body: string }>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: '/describe-flow', method: 'POST', headers: { host: 'evil.example.com', 'content-type': 'application/json' } }, (r) => {
        let body = '';
        r.on('data', (c: Buffer) => (body += c.toString()));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, type: r.headers['x-amzn-errortype'], body }));
      });
      req.on('error', reject);
      req.end('{"flowName":"f1"}');
    });
    expect(res.status).toBe(421);
    expect(res.type).toBe('AccessDeniedException');
    expect(String((JSON.parse(res.body) as { message: string }).message)).toContain('evil.example.com');
  });
});
