import { z } from 'zod';
import { FileTypeSchema, OutputFormatConfigSchema } from '../../formats/config.ts';
import type { ResolvedOutputFormat } from '../files/properties.ts';

/**
 * forceflow's own LocalFile connector type, so a flow can be replayed from fixture files and tested
 * without any cloud. Relative paths resolve from the flow file's folder.
 */
export const LocalFileSourcePropertiesSchema = z
  .object({
    /** A file, or a folder of files. */
    path: z.string().min(1),
    fileType: FileTypeSchema,
  })
  .strict();
export type LocalFileSourceProperties = z.infer<typeof LocalFileSourcePropertiesSchema>;

export const LocalFileDestinationPropertiesSchema = z
  .object({
    /** The folder that plays the role of the bucket. */
    path: z.string().min(1),
    outputFormatConfig: OutputFormatConfigSchema.optional(),
  })
  .strict();
export type LocalFileDestinationProperties = z.infer<typeof LocalFileDestinationPropertiesSchema>;

/** The LocalFile source's part of a plan: `path` is absolute (resolved from the plan's base folder). */
export interface LocalFileSourcePlan {
  readonly connectorType: 'LocalFile';
  readonly properties: LocalFileSourceProperties;
}

/** The LocalFile destination's part of a plan. */
export interface LocalFileDestinationPlan {
  readonly connectorType: 'LocalFile';
  /** Absolute folder that plays the role of the bucket. */
  readonly path: string;
  readonly outputFormat: ResolvedOutputFormat;
  readonly properties: LocalFileDestinationProperties;
}
