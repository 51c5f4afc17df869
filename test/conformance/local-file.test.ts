import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { createLocalFileDestination } from '../../src/connectors/local-file/destination.ts';
import { createFolderStore } from '../../src/connectors/local-file/folder.ts';
import { createErrorSink } from '../../src/connectors/files/error-sink.ts';
import { describeBlobStore } from './blob-store.ts';
import { describeFileDestination } from './destination.ts';

/**
 * The conformance suites on LocalFile: each root is a fresh folder. `files()` also reports a folder left empty
 * (as `name/`): a run must not leave staging folders behind either.
 */
async function start() {
  const dir = await mkdtemp(join(tmpdir(), 'forceflow-conformance-'));
  let n = 0;
  return {
    async folder(): Promise<string> {
      n += 1;
      const path = join(dir, `root${n}`);
      await mkdir(path);
      return path;
    },
    common(root: string) {
      const path = (key: string): string => join(root, ...key.split('/'));
      return {
        async files(): Promise<string[]> {
          const entries = await readdir(root, { recursive: true, withFileTypes: true });
          const parents = new Set(entries.map((e) => e.parentPath));
          return entries
            .filter((e) => e.isFile() || (e.isDirectory() && !parents.has(join(e.parentPath, e.name))))
            .map((e) => relative(root, join(e.parentPath, e.name)).split(sep).join('/') + (e.isDirectory() ? '/' : ''))
            .sort();
        },
        read: (key: string) => readFile(path(key)),
        nameOf: path,
        async put(key: string, body: string | Uint8Array): Promise<void> {
          await mkdir(dirname(path(key)), { recursive: true });
          await writeFile(path(key), body);
        },
      };
    },
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

describeBlobStore('LocalFile', async () => {
  const s = await start();
  return {
    async root() {
      const root = await s.folder();
      return {
        ...s.common(root),
        store: (executionId?: string) => createFolderStore({ path: root, ...(executionId === undefined ? {} : { executionId }) }),
        single: (key: string) => createFolderStore({ path: join(root, ...key.split('/')) }),
      };
    },
    close: s.close,
  };
});

describeFileDestination('LocalFile', async () => {
  const s = await start();
  return {
    async root() {
      const root = await s.folder();
      return {
        ...s.common(root),
        destination: (format, deps) => createLocalFileDestination({ path: root, ...(format === undefined ? {} : { outputFormatConfig: format }) }, deps),
        errorSink: (deps) => createErrorSink(createFolderStore({ path: root, executionId: `${deps.executionId}-errors` }), deps),
      };
    },
    close: s.close,
  };
});
