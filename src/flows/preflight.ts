import { HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { ForceflowError } from '../core/errors.ts';
import { s3Error } from '../connectors/s3/client.ts';
import type { FlowPlan } from './compile.ts';

/**
 * Cheap checks through the destination before the source is read: a run whose output bucket does not
 * exist (or may not be used) fails at once, not after reading the whole source. One HeadBucket per S3
 * bucket the destination writes to (its files, or a Salesforce destination's error file), as its connector
 * listed them in the plan.
 */
export async function preflightDestination(plan: Pick<FlowPlan, 'buckets'>, s3Client: () => S3Client): Promise<void> {
  for (const [bucket, what] of plan.buckets) {
    try {
      await s3Client().send(new HeadBucketCommand({ Bucket: bucket }));
    } catch (error) {
      const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NotFound' || e.name === 'NoSuchBucket' || e.$metadata?.httpStatusCode === 404) {
        throw new ForceflowError('FILE_NOT_FOUND', `The flow's destination bucket "${bucket}" (${what}) does not exist; nothing was read. Create the bucket, or correct ${what}.`, {
          details: { bucket, field: what },
          cause: error,
        });
      }
      // The SDK's own configuration errors, before any request: say what to set, not "retry later".
      if (/Region is missing/i.test((error as Error).message ?? '')) {
        throw new ForceflowError('CONFIG_INVALID', `The flow writes to S3 (bucket "${bucket}", ${what}) but no AWS region is configured. Set AWS_REGION (or a profile's region in ~/.aws/config); for a local S3, the variables \`forceflow emulator --s3\` prints in "env".`, { details: { bucket, field: what }, cause: error });
      }
      if (e.name === 'CredentialsProviderError') {
        throw new ForceflowError('S3_ACCESS_DENIED', `The flow writes to S3 (bucket "${bucket}", ${what}) but no AWS credentials were found. Configure them (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or an instance role).`, { details: { bucket, field: what }, cause: error });
      }
      throw s3Error(error, 'Checking', `the destination bucket s3://${bucket} (${what})`);
    }
  }
}
