export { createS3Client, s3Error } from './client.ts';
export type { S3ClientOptions } from './client.ts';
export { createS3Destination } from './destination.ts';
export type { S3DestinationDeps } from './destination.ts';
export { createS3Source } from './source.ts';
export { createS3Store, stagingPrefix } from './bucket.ts';
export type { S3StoreOptions } from './bucket.ts';
export * from './config.ts';
