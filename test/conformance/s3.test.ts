import { createS3Store } from '../../src/connectors/s3/bucket.ts';
import { createS3Destination } from '../../src/connectors/s3/destination.ts';
import { createErrorSink } from '../../src/connectors/files/error-sink.ts';
import { startTestS3 } from '../helpers/s3.ts';
import { describeBlobStore } from './blob-store.ts';
import { describeFileDestination } from './destination.ts';

/** The conformance suites on S3 (s3rver over HTTP, the real SDK): each root is a fresh bucket prefix. */
async function start() {
  const t = await startTestS3();
  let n = 0;
  return {
    t,
    prefix(): string {
      n += 1;
      return `root${n}`;
    },
    common(prefix: string) {
      return {
        async files(): Promise<string[]> {
          return (await t.keys(`${prefix}/`)).map((k) => k.slice(prefix.length + 1));
        },
        read: (key: string) => t.getBytes(`${prefix}/${key}`),
        nameOf: (key: string) => `s3://${t.bucket}/${prefix}/${key}`,
      };
    },
    close: () => t.close(),
  };
}

describeBlobStore('S3', async () => {
  const s = await start();
  return {
    async root() {
      const prefix = s.prefix();
      return {
        ...s.common(prefix),
        store: (executionId?: string) => createS3Store({ client: s.t.client, bucketName: s.t.bucket, bucketPrefix: prefix, ...(executionId === undefined ? {} : { executionId }) }),
        single: (key: string) => createS3Store({ client: s.t.client, bucketName: s.t.bucket, bucketPrefix: `${prefix}/${key}` }),
        put: (key: string, body: string | Uint8Array) => s.t.put(`${prefix}/${key}`, typeof body === 'string' ? Buffer.from(body) : body),
      };
    },
    close: s.close,
  };
});

describeFileDestination('S3', async () => {
  const s = await start();
  return {
    async root() {
      const prefix = s.prefix();
      return {
        ...s.common(prefix),
        destination: (format, deps) => createS3Destination({ bucketName: s.t.bucket, bucketPrefix: prefix, ...(format === undefined ? {} : { s3OutputFormatConfig: format }) }, { client: s.t.client, ...deps }),
        errorSink: (deps) => createErrorSink(createS3Store({ client: s.t.client, bucketName: s.t.bucket, bucketPrefix: prefix, executionId: deps.executionId }), deps),
      };
    },
    close: s.close,
  };
});
