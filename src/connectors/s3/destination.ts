import type { S3Client } from '@aws-sdk/client-s3';
import type { Destination, RunContext, WriteResult } from '../../core/connector.ts';
import type { EntitySchema, RecordBatch } from '../../core/types.ts';
import { createS3Store } from './bucket.ts';
import type { S3DestinationProperties } from './config.ts';
import { createLayout } from './layout.ts';
import { writeFiles } from './output.ts';

/** What a run knows that AppFlow's S3 properties do not say. */
export interface FileDestinationDeps {
  readonly flowName: string;
  readonly executionId: string;
  /** The flow's schema version, for the `schemaVersion_N` folder (1 for a new flow). */
  readonly schemaVersion: number;
  /** The run's start, for date/time prefixes (UTC). */
  readonly startedAt: Date;
  /** The columns of every file (the mapped destination fields); the first batch's schema when absent. */
  readonly outputSchema?: EntitySchema;
  /** The Partition task's ORDERED_PARTITION_KEYS_LIST. */
  readonly partitionKeys?: readonly string[];
}

export interface S3DestinationDeps extends FileDestinationDeps {
  readonly client: S3Client;
  /** The flow's kmsArn: every object is written with SSE-KMS under this key. */
  readonly kmsKeyId?: string;
}

/**
 * AppFlow's S3 destination: files (CSV, JSON lines, Parquet) under `s3://<bucketName>/<bucketPrefix>/<flowName>/…`
 * as described in src/connectors/s3/layout.ts and docs/destinations.md, visible only once the run succeeded.
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
