import type { Source } from '../../core/connector.ts';
import type { InputOptions } from '../../formats/types.ts';
import { createFileSource } from '../files/file-source.ts';
import type { LocalFileSourceProperties } from './properties.ts';
import { createFolderStore, entityFromPath, resolvePath } from './folder.ts';

/**
 * forceflow's LocalFile source: one file, or every file of a folder (recursively, in path order, skipping
 * names starting with `_` or `.` and empty files), all read as `fileType`. A relative `path` resolves from
 * `baseDir` (the flow file's folder). A missing path fails with FILE_NOT_FOUND when the source is opened.
 */
export function createLocalFileSource(props: LocalFileSourceProperties, deps: { readonly baseDir?: string; readonly batchSize?: number; readonly input?: InputOptions } = {}): Source {
  const path = resolvePath(props.path, deps.baseDir);
  return createFileSource(createFolderStore({ path }), {
    fileType: props.fileType,
    entity: entityFromPath(path),
    ...(deps.batchSize === undefined ? {} : { batchSize: deps.batchSize }),
    ...(deps.input === undefined ? {} : { input: deps.input }),
  });
}
