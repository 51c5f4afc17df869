import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { get } from 'node:https';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { startLocalS3 } from '../../src/emulator/s3/local.ts';

const run = promisify(execFile);

describe('startLocalS3', () => {
  it('serves a bucket on loopback that a separate process reaches with only its env (the SDK reads AWS_ENDPOINT_URL_S3 itself)', async () => {
    const s3 = await startLocalS3({ bucket: 'demo-bucket' });
    try {
      expect(s3.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(Object.keys(s3.env).sort()).toEqual(['AWS_ACCESS_KEY_ID', 'AWS_ENDPOINT_URL_S3', 'AWS_REGION', 'AWS_SECRET_ACCESS_KEY']);
      expect(s3.env.AWS_ENDPOINT_URL_S3).toBe(s3.endpoint);
      // A child process with a plain SDK client (no endpoint in code) and createS3Client (default chain).
      const script = `
        import { S3Client, PutObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
        import { createS3Client } from './src/connectors/s3/client.ts';
        const plain = new S3Client({ forcePathStyle: true });
        await plain.send(new PutObjectCommand({ Bucket: 'demo-bucket', Key: 'hello.txt', Body: 'hi' }));
        const listed = await createS3Client().send(new ListObjectsV2Command({ Bucket: 'demo-bucket' }));
        process.stdout.write(JSON.stringify(listed.Contents.map((o) => o.Key)));
      `;
      const env = { PATH: process.env['PATH'] ?? '', HOME: '/nonexistent', ...s3.env };
      const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env, cwd: process.cwd() });
      expect(JSON.parse(stdout)).toEqual(['hello.txt']);
    } finally {
      await s3.close();
    }
  });

  it('with https: serves TLS with a certificate made at start, which a process trusts through env (NODE_EXTRA_CA_CERTS); uploads then go UNSIGNED-PAYLOAD', async () => {
    const s3 = await startLocalS3({ https: true });
    const caFile = s3.caFile ?? '';
    try {
      expect(s3.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(s3.env.NODE_EXTRA_CA_CERTS).toBe(caFile);
      expect(readFileSync(caFile, 'utf8')).toBe(s3.ca);
      // Without the certificate, TLS refuses it.
      const refused = await new Promise<string>((resolve) => {
        get(`${s3.endpoint}/${s3.bucket}`, (res) => resolve(String(res.statusCode))).on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      });
      expect(refused).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
      // A child process with only the env: createS3Client's PutObject of bytes sends UNSIGNED-PAYLOAD, which the
      // local S3's signature check accepts; the bytes read back are the bytes sent.
      const script = `
        import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
        import { createS3Client } from './src/connectors/s3/client.ts';
        const client = createS3Client();
        const seen = [];
        client.middlewareStack.add((next) => async (args) => { seen.push(args.request.headers['x-amz-content-sha256']); return next(args); }, { step: 'deserialize', name: 'seen' });
        await client.send(new PutObjectCommand({ Bucket: 'forceflow', Key: 'tls.bin', Body: new Uint8Array([1, 2, 3, 250]) }));
        const got = await client.send(new GetObjectCommand({ Bucket: 'forceflow', Key: 'tls.bin' }));
        process.stdout.write(JSON.stringify({ seen, bytes: [...(await got.Body.transformToByteArray())] }));
      `;
      const env = { PATH: process.env['PATH'] ?? '', HOME: '/nonexistent', ...s3.env };
      const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env, cwd: process.cwd() });
      // (GetObject has no body: the SHA-256 of nothing is signed.)
      expect(JSON.parse(stdout)).toEqual({ seen: ['UNSIGNED-PAYLOAD', createHash('sha256').digest('hex')], bytes: [1, 2, 3, 250] });
    } finally {
      await s3.close();
    }
    expect(existsSync(caFile)).toBe(false);
  });
});
