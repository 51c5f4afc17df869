import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Store } from '../../src/connectors/s3/bucket.ts';
import { createS3Client } from '../../src/connectors/s3/client.ts';
import { createErrorSink } from '../../src/connectors/files/error-sink.ts';
import { runFlow } from '../../src/flows/runner.ts';
import { startTestS3, type TestS3 } from '../helpers/s3.ts';
import { recordingProxy, type RecordedRequest } from '../helpers/recording-proxy.ts';

/**
 * The flow's kmsArn is AppFlow's key for the data it puts in the destination bucket ("encrypting the data in
 * the S3 bucket using Amazon S3 SSE-KMS", AppFlow User Guide, Data protection). forceflow requests SSE-KMS
 * under it on every S3 request that creates an object. s3rver does not keep encryption headers, so a
 * recording proxy in front of it shows what the SDK sent.
 */

const KEY = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

let t: TestS3;
let proxy: Awaited<ReturnType<typeof recordingProxy>>;
let client: S3Client;
beforeAll(async () => {
  t = await startTestS3();
  proxy = await recordingProxy(t.s3.endpoint);
  client = createS3Client({ env: { ...t.s3.env, AWS_ENDPOINT_URL_S3: proxy.url } });
});
afterAll(async () => {
  client.destroy();
  await proxy.close();
  await t.close();
});

/** Requests that create an object: PutObject, CreateMultipartUpload, CopyObject (not UploadPart, which carries no SSE-KMS headers). */
function creations(requests: readonly RecordedRequest[], under: string): RecordedRequest[] {
  return requests.filter((r) => r.url.includes(under) && (
    (r.method === 'PUT' && !/[?&]partNumber=/.test(r.url)) || (r.method === 'POST' && /[?&]uploads(?:=|&|$)/.test(r.url))
  ));
}

function flowTo(prefix: string, dir: string, kmsArn?: string): unknown {
  writeFileSync(join(dir, 'in.csv'), 'Id,Name\n1,Ada\n2,Grace\n');
  return {
    flowName: 'kms-flow',
    ...(kmsArn === undefined ? {} : { kmsArn }),
    triggerConfig: { triggerType: 'OnDemand' },
    sourceFlowConfig: { connectorType: 'LocalFile', sourceConnectorProperties: { LocalFile: { path: join(dir, 'in.csv'), fileType: 'CSV' } } },
    destinationFlowConfigList: [{ connectorType: 'S3', destinationConnectorProperties: { S3: { bucketName: t.bucket, bucketPrefix: prefix, s3OutputFormatConfig: { fileType: 'CSV' } } } }],
    tasks: [{ taskType: 'Map_all', sourceFields: [], connectorOperator: { LocalFile: 'NO_OP' } }],
  };
}

describe('kmsArn: SSE-KMS on S3 outputs', () => {
  it('a run with kmsArn uploads and publishes every output object with SSE-KMS under the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-kms-'));
    const before = proxy.requests.length;
    const record = await runFlow({ flow: flowTo('kms-on', dir, KEY), s3Client: client });
    expect(record.executionStatus).toBe('Successful');
    expect(record.outputs).toHaveLength(1);
    const made = creations(proxy.requests.slice(before), '/kms-on/');
    // The staged upload under _temporary/ and the copy to the final key.
    expect(made.some((r) => r.url.includes('/_temporary/'))).toBe(true);
    expect(made.some((r) => r.headers['x-amz-copy-source'] !== undefined)).toBe(true);
    for (const r of made) {
      expect(r.headers['x-amz-server-side-encryption'], `${r.method} ${r.url}`).toBe('aws:kms');
      expect(r.headers['x-amz-server-side-encryption-aws-kms-key-id'], `${r.method} ${r.url}`).toBe(KEY);
    }
    expect(await t.getText((record.outputs[0] as string).replace(`s3://${t.bucket}/`, ''))).toContain('Grace');
  });

  it('a run without kmsArn sends no encryption headers (the bucket default applies)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-kms-'));
    const before = proxy.requests.length;
    const record = await runFlow({ flow: flowTo('kms-off', dir), s3Client: client });
    expect(record.executionStatus).toBe('Successful');
    const made = creations(proxy.requests.slice(before), '/kms-off/');
    expect(made.length).toBeGreaterThanOrEqual(2);
    for (const r of made) expect(r.headers['x-amz-server-side-encryption']).toBeUndefined();
  });

  it('a multipart upload (a file over 8 MiB) is created with SSE-KMS', async () => {
    const store = createS3Store({ client, bucketName: t.bucket, bucketPrefix: 'kms-big', executionId: 'e1', kmsKeyId: KEY });
    const before = proxy.requests.length;
    const w = store.create('big.bin', 'application/octet-stream');
    const chunk = new Uint8Array(1024 * 1024).fill(65);
    for (let i = 0; i < 9; i++) await w.write(chunk);
    const staged = await w.close();
    await store.publish([staged]);
    const requests = proxy.requests.slice(before);
    const create = requests.find((r) => r.method === 'POST' && /[?&]uploads/.test(r.url));
    expect(create, 'a CreateMultipartUpload request').toBeDefined();
    expect(requests.filter((r) => /[?&]partNumber=/.test(r.url)).length).toBeGreaterThanOrEqual(2);
    for (const r of creations(requests, '/kms-big/')) {
      expect(r.headers['x-amz-server-side-encryption'], `${r.method} ${r.url}`).toBe('aws:kms');
      expect(r.headers['x-amz-server-side-encryption-aws-kms-key-id']).toBe(KEY);
    }
    expect((await t.getBytes('kms-big/big.bin')).byteLength).toBe(9 * 1024 * 1024);
  });

  it("a Salesforce destination's failed-records file on S3 is written with SSE-KMS", async () => {
    const sink = createErrorSink(createS3Store({ client, bucketName: t.bucket, bucketPrefix: 'kms-errors', executionId: 'e2', kmsKeyId: KEY }), { flowName: 'f', executionId: 'e2', fields: ['Name'] });
    const before = proxy.requests.length;
    await sink.add([{ index: 0, record: { Name: 'x' }, errorCode: 'REQUIRED_FIELD_MISSING', message: 'missing' }]);
    const { key } = await sink.finish();
    expect(key).toBe(`s3://${t.bucket}/kms-errors/f/e2/errors.csv`);
    const made = creations(proxy.requests.slice(before), '/kms-errors/');
    expect(made.length).toBeGreaterThanOrEqual(2);
    for (const r of made) {
      expect(r.headers['x-amz-server-side-encryption']).toBe('aws:kms');
      expect(r.headers['x-amz-server-side-encryption-aws-kms-key-id']).toBe(KEY);
    }
  });
});
