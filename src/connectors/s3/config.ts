import { z } from 'zod';
import { FileTypeSchema, OutputFormatConfigSchema } from '../../formats/config.ts';

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

/** AppFlow's S3 connector properties (API JSON names and enums); the output format is src/formats/config.ts. */
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
