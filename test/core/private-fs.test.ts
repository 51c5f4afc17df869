import { mkdtempSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensurePrivateDir } from '../../src/core/private-fs.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(process.platform === 'win32')('ensurePrivateDir', () => {
  it('makes the folder 0700 and its own files 0600, leaving other files as they are', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-private-'));
    dirs.push(dir);
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'runs.db'), '');
    writeFileSync(join(dir, 'notes.txt'), '');
    chmodSync(join(dir, 'runs.db'), 0o644);
    chmodSync(join(dir, 'notes.txt'), 0o644);
    ensurePrivateDir(dir, (name) => name.endsWith('.db'));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'runs.db')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'notes.txt')).mode & 0o777).toBe(0o644);
  });

  it('skips a file another process removes between the listing and the chmod (SQLite dropping its -shm file)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-private-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'service.db'), '');
    writeFileSync(join(dir, 'service.db-shm'), '');
    chmodSync(join(dir, 'service.db'), 0o644);
    // The other process's close, at the worst moment: after the folder was listed, before the chmod.
    const own = (name: string): boolean => {
      if (name.endsWith('-shm')) rmSync(join(dir, name));
      return name.startsWith('service.db');
    };
    expect(() => ensurePrivateDir(dir, own)).not.toThrow();
    expect(statSync(join(dir, 'service.db')).mode & 0o777).toBe(0o600);
  });
});
