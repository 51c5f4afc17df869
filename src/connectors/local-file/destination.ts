import { isAbsolute, resolve } from 'node:path';
import type { Destination, RunContext, WriteResult } from '../../core/connector.ts';
import type { RecordBatch } from '../../core/types.ts';
import { createLayout } from '../s3/layout.ts';
import { writeFiles } from '../s3/output.ts';
import type { FileDestinationDeps } from '../s3/destination.ts';
import type { LocalFileDestinationProperties } from './config.ts';
import { createFolderStore } from './folder.ts';

export interface LocalFileDestinationDeps extends FileDestinationDeps {
  /** The flow file's folder: a relative `path` resolves from it (the process's cwd when absent). */
  readonly baseDir?: string;
}

export function resolvePath(path: string, baseDir?: string): string {
  return isAbsolute(path) ? path : resolve(baseDir ?? process.cwd(), path);
}

/**
 * forceflow's LocalFile destination: the S3 destination's formats, layout, aggregation and partitions, in a
 * folder that plays the bucket (`<path>/<flowName>/<executionId>/…`). Files are staged under
 * `<path>/_temporary/<executionId>/` and renamed into place when the run succeeds.
 */
export function createLocalFileDestination(props: LocalFileDestinationProperties, deps: LocalFileDestinationDeps): Destination {
  return {
    write(batches: AsyncIterable<RecordBatch>, ctx: RunContext): Promise<WriteResult> {
      const store = createFolderStore({ path: resolvePath(props.path, deps.baseDir), executionId: deps.executionId });
      const format = props.outputFormatConfig;
      return writeFiles(store, batches, ctx, {
        layout: createLayout({ ...deps, ...(format === undefined ? {} : { outputFormatConfig: format }) }),
        ...(format === undefined ? {} : { outputFormatConfig: format }),
        ...(deps.partitionKeys === undefined ? {} : { partitionKeys: deps.partitionKeys }),
        ...(deps.outputSchema === undefined ? {} : { outputSchema: deps.outputSchema }),
      });
    },
  };
}
