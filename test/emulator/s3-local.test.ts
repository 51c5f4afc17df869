import { execFile } from 'node:child_process';
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
});
