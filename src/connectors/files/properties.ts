import { z } from 'zod';
import { withSpelling } from '../../core/zod.ts';
import type { OutputFormatConfig } from '../../formats/config.ts';

/**
 * Flow properties shared by connectors that write files: a bucket prefix, and errorHandlingConfig (where
 * a destination puts its failed-records file, through this files layer).
 */

/**
 * A bucket prefix: at most 512 characters and no `..` or `.` segment. S3 itself keeps such keys literally, but
 * every tool that mirrors a bucket to disk (the local S3, `aws s3 sync`) resolves them outside the folder.
 */
export const BucketPrefixSchema = z
  .string()
  .max(512)
  .refine((p) => !p.split(/[/\\]/).some((s) => s === '..' || s === '.'), {
    message: 'must not have a ".." or "." path segment (a key with one escapes its folder when the bucket is copied to disk)',
  });

export const BucketNameSchema = z.string().min(3).max(63);

/** AppFlow's ErrorHandlingConfig, plus forceflow's localPath; CloudFormation's failOnFirstError is read as failOnFirstDestinationError. */
export const ErrorHandlingConfigSchema = withSpelling('failOnFirstError', 'failOnFirstDestinationError', z.strictObject({
  failOnFirstDestinationError: z.boolean().optional(),
  bucketName: BucketNameSchema.optional(),
  bucketPrefix: BucketPrefixSchema.optional(),
  /** forceflow extension: a local folder for the failed-records file instead of S3 (relative to the flow file). */
  localPath: z.string().min(1).max(1024).optional(),
  failOnFirstError: z.boolean().optional().meta({ description: "CloudFormation's FailOnFirstError, camelCased: the same as failOnFirstDestinationError" }),
}));
export type ErrorHandlingConfig = z.infer<typeof ErrorHandlingConfigSchema>;

/** outputFormatConfig with AppFlow's defaults applied. */
export interface ResolvedOutputFormat {
  readonly fileType: 'CSV' | 'JSON' | 'PARQUET';
  readonly prefixConfig: NonNullable<OutputFormatConfig['prefixConfig']>;
  readonly aggregationConfig: { readonly aggregationType: 'None' | 'SingleFile'; readonly targetFileSize?: number };
  /** Parquet only (false: every column a string); ignored for CSV and JSON. */
  readonly preserveSourceDataTyping: boolean;
}

export function resolveOutputFormat(cfg: OutputFormatConfig | undefined): ResolvedOutputFormat {
  return {
    fileType: cfg?.fileType ?? 'JSON',
    prefixConfig: cfg?.prefixConfig ?? {},
    aggregationConfig: {
      aggregationType: cfg?.aggregationConfig?.aggregationType ?? 'None',
      ...(cfg?.aggregationConfig?.targetFileSize !== undefined ? { targetFileSize: cfg.aggregationConfig.targetFileSize } : {}),
    },
    preserveSourceDataTyping: cfg?.fileType === 'PARQUET' ? (cfg.preserveSourceDataTyping ?? false) : false,
  };
}
