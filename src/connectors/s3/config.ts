import { z } from 'zod';

/**
 * AppFlow's S3 connector properties (API JSON names and enums). Shared by the flow definition schema
 * and the LocalFile connector, which takes the same outputFormatConfig.
 */
export const FileTypeSchema = z.enum(['CSV', 'JSON', 'PARQUET']);
export type FileType = z.infer<typeof FileTypeSchema>;

export const PrefixConfigSchema = z
  .object({
    prefixType: z.enum(['FILENAME', 'PATH', 'PATH_AND_FILENAME']).optional(),
    prefixFormat: z.enum(['YEAR', 'MONTH', 'DAY', 'HOUR', 'MINUTE']).optional(),
    pathPrefixHierarchy: z.array(z.enum(['EXECUTION_ID', 'SCHEMA_VERSION'])).optional(),
  })
  .strict();
export type PrefixConfig = z.infer<typeof PrefixConfigSchema>;

export const AggregationConfigSchema = z
  .object({
    aggregationType: z.enum(['None', 'SingleFile']).optional(),
    /** Target file size in MB (AppFlow: "actual file sizes might differ"). */
    targetFileSize: z.number().int().positive().optional(),
  })
  .strict();
export type AggregationConfig = z.infer<typeof AggregationConfigSchema>;

export const OutputFormatConfigSchema = z
  .object({
    fileType: FileTypeSchema.optional(),
    prefixConfig: PrefixConfigSchema.optional(),
    aggregationConfig: AggregationConfigSchema.optional(),
    /** Parquet only: keep source types (true) or write every value as a string (false). */
    preserveSourceDataTyping: z.boolean().optional(),
  })
  .strict();
export type OutputFormatConfig = z.infer<typeof OutputFormatConfigSchema>;

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

export const S3DestinationPropertiesSchema = z
  .object({
    bucketName: z.string().min(3).max(63),
    bucketPrefix: BucketPrefixSchema.optional(),
    s3OutputFormatConfig: OutputFormatConfigSchema.optional(),
  })
  .strict();
export type S3DestinationProperties = z.infer<typeof S3DestinationPropertiesSchema>;

export const S3SourcePropertiesSchema = z
  .object({
    bucketName: z.string().min(3).max(63),
    bucketPrefix: BucketPrefixSchema.optional(),
    s3InputFormatConfig: z.object({ s3InputFileType: FileTypeSchema.optional() }).strict().optional(),
  })
  .strict();
export type S3SourceProperties = z.infer<typeof S3SourcePropertiesSchema>;
