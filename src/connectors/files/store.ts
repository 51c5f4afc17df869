import type { InputFile } from '../../formats/types.ts';

/**
 * Where files go and come from: an S3 bucket and prefix, or a local folder. Keys are relative to the
 * store's root and use `/`.
 *
 * Writes are staged: `create()` starts a file that nobody can see under its final key; `publish()` makes a
 * whole run's files visible at the end of a successful run, and `discard()` removes the staged bytes of a
 * failed one. So a failed or cancelled run never leaves complete-looking partial output.
 */
export interface BlobStore {
  /** `s3://bucket/prefix` or the folder's absolute path, for messages and outputs. */
  readonly location: string;
  /** Starts a staged file. */
  create(key: string, contentType: string): StagedWrite;
  /** Makes staged files visible under their final keys; returns their full names (`s3://…` or paths). */
  publish(files: readonly StagedFile[]): Promise<string[]>;
  /** Removes staged files (best effort: a failure here must not hide the error that caused it). */
  discard(files: readonly StagedFile[]): Promise<void>;
  /** Every file under the root (or the root itself when it names one file), sorted by key. */
  list(): Promise<StoredFile[]>;
  open(file: StoredFile): InputFile;
}

export interface StagedWrite {
  /**
   * Resolves when the chunk is accepted (backpressure) and the store holds no reference to it any more (written,
   * or copied): the caller may then reuse its memory (EncodedLines.release).
   */
  write(chunk: Uint8Array): Promise<void>;
  /** Ends the file; it stays staged until published. */
  close(): Promise<StagedFile>;
  /** Stops the write and removes what was staged. */
  abort(): Promise<void>;
}

export interface StagedFile {
  readonly key: string;
  readonly size: number;
  /** Store-specific: the temporary key or path. */
  readonly staged: string;
}

export interface StoredFile {
  readonly key: string;
  readonly size: number;
  /** When the object or file was last written (epoch ms): S3's LastModified, a file's mtime. */
  readonly lastModified?: number;
}

/** Keys and paths whose relative folders or names start with `_` or `.` are not data (staging, markers). */
export function isHidden(relativeKey: string): boolean {
  return relativeKey.split('/').some((part) => part.startsWith('_') || part.startsWith('.'));
}
