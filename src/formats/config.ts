import { z } from 'zod';

/**
 * File types and AppFlow's output format settings (API JSON names and enums): the S3 connector's
 * s3OutputFormatConfig and the LocalFile connector's outputFormatConfig are both this.
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
