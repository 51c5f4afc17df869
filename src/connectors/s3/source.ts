import type { S3Client } from '@aws-sdk/client-s3';
import type { Source } from '../../core/connector.ts';
import type { InputOptions } from '../../formats/types.ts';
import { createS3Store } from './bucket.ts';
import type { S3SourceProperties } from './properties.ts';
import { createFileSource } from '../files/file-source.ts';

/**
 * AppFlow's S3 source: every object under `bucketName/bucketPrefix` (a folder, or one object's key), in key
 * order, as canonical record batches. `s3InputFormatConfig.s3InputFileType` sets the format of every object;
 * without it each object's extension decides (CSV by default). See src/connectors/files/file-source.ts.
 */
export function createS3Source(props: S3SourceProperties, deps: { readonly client: S3Client; readonly batchSize?: number; readonly input?: InputOptions }): Source {
  const fileType = props.s3InputFormatConfig?.s3InputFileType;
  return createFileSource(createS3Store({ client: deps.client, bucketName: props.bucketName, bucketPrefix: props.bucketPrefix }), {
    ...(fileType === undefined ? {} : { fileType }),
    ...(deps.batchSize === undefined ? {} : { batchSize: deps.batchSize }),
    ...(deps.input === undefined ? {} : { input: deps.input }),
  });
}
