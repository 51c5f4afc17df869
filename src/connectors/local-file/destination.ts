import { stat, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ForceflowError } from '../../core/errors.ts';
import type { Destination, RunContext, WriteResult } from '../../core/connector.ts';
import type { RecordBatch } from '../../core/types.ts';
import { createLayout } from '../files/layout.ts';
import { writeFiles } from '../files/output.ts';
import type { FileDestinationDeps } from '../files/output.ts';
import type { LocalFileDestinationProperties } from './properties.ts';
import { createFolderStore, resolvePath } from './folder.ts';

export interface LocalFileDestinationDeps extends FileDestinationDeps {
  /** The flow file's folder: a relative `path` resolves from it (the process's cwd when absent). */
  readonly baseDir?: string;
}

/** Kernel pseudo file systems (statfs f_type) that cannot hold a folder of output files. */
const PSEUDO_FILE_SYSTEMS = new Map<number, string>([
  [0x9fa0, 'proc'], [0x62656572, 'sysfs'], [0x64626720, 'debugfs'], [0x73636673, 'securityfs'], [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'], [0x1cd1, 'devpts'], [0x74726163, 'tracefs'], [0xcafe4a11, 'bpf'], [0x6165676c, 'pstore'],
  [0x62656570, 'configfs'], [0xde5e81e4, 'efivarfs'], [0xf97cff8c, 'selinuxfs'], [0x65735543, 'fusectl'],
]);

/**
 * Refuse at once a destination folder that cannot work: one that is a file or a device, or that lies under a
 * kernel pseudo file system (/proc, /sys, …), where creating folders fails or, for /proc, never returns.
 */
export async function checkDestinationFolder(root: string): Promise<void> {
  let existing = root;
  for (;;) {
    const info = await stat(existing).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' || e.code === 'ENOTDIR' ? undefined : Promise.reject(e)));
    if (info) {
      if (!info.isDirectory()) {
        const what = info.isCharacterDevice() ? 'a character device' : info.isBlockDevice() ? 'a block device' : info.isFIFO() ? 'a named pipe' : info.isSocket() ? 'a socket' : 'a file';
        throw new ForceflowError('CONFIG_INVALID', `The LocalFile destination path ${root} cannot hold output files: ${existing} is ${what}, not a folder. Choose a folder (it is created when missing).`, { details: { path: root } });
      }
      break;
    }
    const parent = dirname(existing);
    if (parent === existing) return;
    existing = parent;
  }
  const fs = await statfs(existing).catch(() => undefined);
  const kind = fs === undefined ? undefined : PSEUDO_FILE_SYSTEMS.get(Number(fs.type));
  if (kind !== undefined) {
    throw new ForceflowError('CONFIG_INVALID', `The LocalFile destination path ${root} is on the kernel's ${kind} file system, which cannot hold output files. Choose a folder on a disk.`, { details: { path: root, fileSystem: kind } });
  }
}

/**
 * forceflow's LocalFile destination: the S3 destination's formats, layout, aggregation and partitions, in a
 * folder that plays the bucket (`<path>/<flowName>/<executionId>/…`). Files are staged under
 * `<path>/_temporary/<executionId>/` and renamed into place when the run succeeds.
 */
export function createLocalFileDestination(props: LocalFileDestinationProperties, deps: LocalFileDestinationDeps): Destination {
  return {
    async write(batches: AsyncIterable<RecordBatch>, ctx: RunContext): Promise<WriteResult> {
      const root = resolvePath(props.path, deps.baseDir);
      await checkDestinationFolder(root);
      const store = createFolderStore({ path: root, executionId: deps.executionId });
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
