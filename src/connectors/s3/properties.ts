import { z } from 'zod';
import { FileTypeSchema, OutputFormatConfigSchema } from '../../formats/config.ts';
import { BucketNameSchema, BucketPrefixSchema, ErrorHandlingConfigSchema, type ResolvedOutputFormat } from '../files/properties.ts';

export { BucketPrefixSchema } from '../files/properties.ts';

/** AppFlow's S3 connector properties (API JSON names and enums); the output format is src/formats/config.ts. */
export const S3DestinationPropertiesSchema = z
  .object({
    bucketName: BucketNameSchema,
    bucketPrefix: BucketPrefixSchema.optional(),
    s3OutputFormatConfig: OutputFormatConfigSchema.optional(),
  })
  .strict();
export type S3DestinationProperties = z.infer<typeof S3DestinationPropertiesSchema>;

/** The S3 destination properties a flow takes: AppFlow's, plus errorHandlingConfig (accepted for symmetry with Salesforce; no effect). */
export const S3DestinationFlowPropertiesSchema = S3DestinationPropertiesSchema.extend({
  errorHandlingConfig: ErrorHandlingConfigSchema.optional(),
});
export type S3DestinationFlowProperties = z.infer<typeof S3DestinationFlowPropertiesSchema>;

export const S3SourcePropertiesSchema = z
  .object({
    bucketName: BucketNameSchema,
    bucketPrefix: BucketPrefixSchema.optional(),
    s3InputFormatConfig: z.object({ s3InputFileType: FileTypeSchema.optional() }).strict().optional(),
  })
  .strict();
export type S3SourceProperties = z.infer<typeof S3SourcePropertiesSchema>;

/** The S3 source's part of a plan. */
export interface S3SourcePlan {
  readonly connectorType: 'S3';
  readonly properties: S3SourceProperties;
}

/** The S3 destination's part of a plan. */
export interface S3DestinationPlan {
  readonly connectorType: 'S3';
  readonly bucketName: string;
  readonly bucketPrefix?: string;
  readonly outputFormat: ResolvedOutputFormat;
  readonly properties: S3DestinationProperties;
}
