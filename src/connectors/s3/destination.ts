import type { S3Client } from '@aws-sdk/client-s3';
import type { Destination, RunContext, WriteResult } from '../../core/connector.ts';
import type { RecordBatch } from '../../core/types.ts';
import { createS3Store } from './bucket.ts';
import type { S3DestinationProperties } from './properties.ts';
import { createLayout, writeFiles } from '../files/index.ts';
import type { FileDestinationDeps } from '../files/index.ts';

export interface S3DestinationDeps extends FileDestinationDeps {
  readonly client: S3Client;
  /** The flow's kmsArn: every object is written with SSE-KMS under this key. */
  readonly kmsKeyId?: string;
}

/**
 * AppFlow's S3 destination: files (CSV, JSON lines, Parquet) under `s3://<bucketName>/<bucketPrefix>/<flowName>/…`
 * as described in src/connectors/files/layout.ts and docs/destinations.md, visible only once the run succeeded.
 */
export function createS3Destination(props: S3DestinationProperties, deps: S3DestinationDeps): Destination {
  return {
    write(batches: AsyncIterable<RecordBatch>, ctx: RunContext): Promise<WriteResult> {
      const store = createS3Store({
        client: deps.client, bucketName: props.bucketName, bucketPrefix: props.bucketPrefix, executionId: deps.executionId,
        ...(deps.kmsKeyId === undefined ? {} : { kmsKeyId: deps.kmsKeyId }),
      });
      return writeFiles(store, batches, ctx, {
        layout: createLayout({ ...deps, ...(props.s3OutputFormatConfig === undefined ? {} : { outputFormatConfig: props.s3OutputFormatConfig }) }),
        ...(props.s3OutputFormatConfig === undefined ? {} : { outputFormatConfig: props.s3OutputFormatConfig }),
        ...(deps.partitionKeys === undefined ? {} : { partitionKeys: deps.partitionKeys }),
        ...(deps.outputSchema === undefined ? {} : { outputSchema: deps.outputSchema }),
      });
    },
  };
}
