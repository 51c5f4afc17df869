import { createReadStream, createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ForceflowError } from '../../core/errors.ts';
import type { InputFile } from '../../formats/types.ts';
import { isHidden } from '../files/store.ts';
import type { BlobStore, StagedFile, StagedWrite, StoredFile } from '../files/store.ts';

/**
 * A {@link BlobStore} on a local folder (LocalFile connector), or on one file for reading.
 *
 * Staging: files are written under `<root>/_temporary/<executionId>/<key>` and `publish` renames each into
 * place (a rename within one file system is atomic), then removes the staging folder. A failed run removes its
 * staging folder; nothing under the final names is ever partial.
 */
export interface FolderStoreOptions {
  /** The folder (for writing or reading), or one file (for reading). Absolute, or relative to the process's cwd. */
  readonly path: string;
  readonly executionId?: string;
}

function fsError(error: unknown, action: string, path: string): ForceflowError {
  if (error instanceof ForceflowError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new ForceflowError('FILE_NOT_FOUND', `${path} does not exist.`, { details: { path }, cause: error });
  return new ForceflowError('CONFIG_INVALID', `${action} ${path} failed: ${(error as Error).message}`, { details: { path, errno: code }, cause: error });
}

export function createFolderStore(options: FolderStoreOptions): BlobStore {
  const root = resolve(options.path);
  const stagingRoot = join(root, '_temporary', options.executionId ?? 'read-only');
  const toPath = (base: string, key: string): string => join(base, ...key.split('/'));

  async function removeStaging(): Promise<void> {
    await rm(stagingRoot, { recursive: true, force: true });
    await rmdir(dirname(stagingRoot)).catch(() => undefined); // only when empty
  }

  return {
    location: root,

    create(key: string): StagedWrite {
      const staged = toPath(stagingRoot, key);
      let stream: WriteStream | undefined;
      let failure: Error | undefined;
      let size = 0;
      const ready = mkdir(dirname(staged), { recursive: true }).then(() => {
        stream = createWriteStream(staged);
        stream.on('error', (e) => {
          failure = e;
        });
      });
      const check = (): void => {
        if (failure !== undefined) throw fsError(failure, 'Writing', staged);
      };
      return {
        async write(chunk: Uint8Array): Promise<void> {
          await ready.catch((e: unknown) => {
            throw fsError(e, 'Creating', dirname(staged));
          });
          check();
          size += chunk.byteLength;
          // Resolved once the chunk is written (its callback), not merely buffered: the caller may reuse its memory
          // (StagedWrite.write). The stream writes one chunk at a time, so this is its backpressure as well.
          await new Promise<void>((resolve) => {
            (stream as WriteStream).write(chunk, (e) => {
              if (e) failure ??= e;
              resolve();
            });
          });
          check();
        },
        async close(): Promise<StagedFile> {
          await ready.catch((e: unknown) => {
            throw fsError(e, 'Creating', dirname(staged));
          });
          check();
          const s = stream as WriteStream;
          s.end();
          await once(s, 'close');
          check();
          return { key, size, staged };
        },
        async abort(): Promise<void> {
          await ready.catch(() => undefined);
          // Wait for the stream to close: destroyed while it is still opening its file, it would create the
          // file after the rm below (an aborted error file was left staged that way).
          if (stream !== undefined && !stream.closed) {
            const closed = once(stream, 'close').catch(() => undefined);
            stream.destroy();
            await closed;
          }
          await rm(staged, { force: true }).catch(() => undefined);
          // Then the folders it leaves empty, up to `_temporary` (rmdir stops at the first one still in use).
          for (let folder = dirname(staged); folder !== root && folder.startsWith(dirname(stagingRoot)); folder = dirname(folder)) {
            if (!(await rmdir(folder).then(() => true, () => false))) break;
          }
        },
      };
    },

    async publish(files: readonly StagedFile[]): Promise<string[]> {
      const done: string[] = [];
      try {
        for (const f of files) {
          const target = toPath(root, f.key);
          await mkdir(dirname(target), { recursive: true });
          await rename(f.staged, target);
          done.push(target);
        }
      } catch (error) {
        await Promise.allSettled(done.map((p) => rm(p, { force: true })));
        await removeStaging().catch(() => undefined);
        throw fsError(error, 'Publishing', root);
      }
      await removeStaging().catch(() => undefined);
      return done;
    },

    async discard(): Promise<void> {
      await removeStaging().catch(() => undefined);
    },

    async list(): Promise<StoredFile[]> {
      let info;
      try {
        info = await stat(root);
      } catch (error) {
        throw fsError(error, 'Reading', root);
      }
      if (info.isFile()) return [{ key: root, size: info.size, lastModified: info.mtimeMs }];
      const files: StoredFile[] = [];
      try {
        for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
          if (!entry.isFile()) continue;
          const full = join(entry.parentPath, entry.name);
          const rel = relative(root, full).split(sep).join('/');
          if (isHidden(rel)) continue;
          const { size, mtimeMs } = await stat(full);
          if (size > 0) files.push({ key: full, size, lastModified: mtimeMs });
        }
      } catch (error) {
        throw fsError(error, 'Listing', root);
      }
      const rel = (f: StoredFile): string => relative(root, f.key).split(sep).join('/');
      return files.sort((a, b) => (rel(a) < rel(b) ? -1 : rel(a) > rel(b) ? 1 : 0));
    },

    open(file: StoredFile): InputFile {
      return {
        name: file.key,
        size: file.size,
        async *stream() {
          try {
            for await (const chunk of createReadStream(file.key, { highWaterMark: 256 * 1024 })) yield chunk as Uint8Array;
          } catch (error) {
            throw fsError(error, 'Reading', file.key);
          }
        },
        async read(start: number, end: number): Promise<Uint8Array> {
          const handle = await open(file.key, 'r').catch((e: unknown) => {
            throw fsError(e, 'Reading', file.key);
          });
          try {
            const buffer = Buffer.alloc(Math.max(0, end - start));
            let offset = 0;
            while (offset < buffer.byteLength) {
              const { bytesRead } = await handle.read(buffer, offset, buffer.byteLength - offset, start + offset);
              if (bytesRead === 0) break;
              offset += bytesRead;
            }
            return buffer.subarray(0, offset);
          } finally {
            await handle.close();
          }
        },
      };
    },
  };
}

/** A LocalFile `path` as an absolute path: a relative one resolves from `baseDir` (the flow file's folder; the process's cwd when absent). */
export function resolvePath(path: string, baseDir?: string): string {
  return isAbsolute(path) ? path : resolve(baseDir ?? process.cwd(), path);
}

/** The name a file source gives its entity when the flow does not: the file or folder name without extension. */
export function entityFromPath(path: string): string {
  return basename(path).replace(/\.[^.]*$/, '') || 'records';
}

/** Remove an interrupted run's staging folder (`…/_temporary/<executionId>`), and `_temporary` when empty. */
export async function removeStagingFolder(path: string): Promise<void> {
  // Only ever a run's own staging folder: a damaged state database must not make cleanup remove anything else.
  if (basename(dirname(path)) !== '_temporary') throw new Error(`${path} is not a staging folder (…/_temporary/<executionId>)`);
  await rm(path, { recursive: true, force: true });
  await rmdir(dirname(path)).catch(() => undefined); // only when empty
}
