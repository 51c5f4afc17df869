import { chmodSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Modes of folders and files that hold credentials or org data: the owner's only (docs/profiles.md). */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Create `dir` owner-only (0700), or make an existing one owner-only together with its own files directly in
 * it (0600; `ownFile` picks them by name, so a user's other files in the folder keep their modes): a folder
 * that keeps secrets is not left readable by other users because an older version or a person made it.
 * No-op on Windows, where modes do not apply. A file removed meanwhile by another process is skipped.
 */
export function ensurePrivateDir(dir: string, ownFile: (name: string) => boolean): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (process.platform === 'win32') return;
  chmodSync(dir, PRIVATE_DIR_MODE);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isFile() || !ownFile(entry.name)) continue;
    try {
      chmodSync(join(dir, entry.name), PRIVATE_FILE_MODE);
    } catch (error) {
      // Another process sharing the folder may remove a file between the listing and the chmod (SQLite drops
      // its -wal and -shm files when the last connection closes): a file that is gone needs no mode.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}
