import { createWriteStream, existsSync, readFileSync, readdirSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { ForceflowError } from '../../core/errors.ts';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from '../../core/private-fs.ts';
import type { Logger } from '../../core/logger.ts';
import { GeneratedTable } from './generated/table.ts';
import { MemoryTable, type OrgStore, type StoredRecord } from './store.ts';

/**
 * `--data DIR`: the org's state across restarts. One file per object, `DIR/<Object>.jsonl`:
 * a header line, then one record per line (in-memory tables: every record, deleted ones included;
 * generated tables: only the overlay, as `[counter, record|null]`). Files are written to a temp file
 * and renamed, so a crash never leaves half a file. Saving is debounced after `markDirty`.
 */
export const STATE_FORMAT = 1;
const DEBOUNCE_MS = 200;

export type SavedTable =
  | { readonly kind: 'memory'; readonly object: string; readonly records: readonly StoredRecord[] }
  | {
      readonly kind: 'overlay';
      readonly object: string;
      readonly count: number;
      readonly seed: number;
      readonly nextCounter: number;
      readonly entries: readonly (readonly [number, StoredRecord | null])[];
    };

export interface SavedState {
  /** By lower-cased object name. */
  readonly tables: ReadonlyMap<string, SavedTable>;
}

interface Header {
  format: number;
  object: string;
  kind: 'memory' | 'overlay';
  count?: number;
  seed?: number;
  nextCounter?: number;
}

/** The emulator's own files in `--data DIR`: the tables, aws.json (src/emulator/aws/state.ts) and their temp files. */
function isStateFile(name: string): boolean {
  return /\.jsonl(\.tmp-\d+)?$/.test(name) || /^aws\.json(\.tmp)?$/.test(name);
}

/** Read `DIR/*.jsonl` (creating DIR when absent). Undefined when nothing was saved yet. */
export function readSavedState(dir: string, log?: Logger): SavedState | undefined {
  ensurePrivateDir(dir, isStateFile); // records, keys and secrets: owner-only (0700 folder, 0600 files)
  const tables = new Map<string, SavedTable>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.jsonl'))) {
    const path = join(dir, file);
    const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
    try {
      const header = JSON.parse(lines[0] ?? '') as Header;
      if (header.format !== STATE_FORMAT) throw new Error(`unsupported format ${String(header.format)}`);
      const body = lines.slice(1).map((l) => JSON.parse(l) as unknown);
      if (header.kind === 'memory') {
        tables.set(header.object.toLowerCase(), { kind: 'memory', object: header.object, records: body as StoredRecord[] });
      } else {
        tables.set(header.object.toLowerCase(), {
          kind: 'overlay',
          object: header.object,
          count: header.count ?? -1,
          seed: header.seed ?? -1,
          nextCounter: header.nextCounter ?? 0,
          entries: body as [number, StoredRecord | null][],
        });
      }
    } catch (error) {
      throw new ForceflowError('EMULATOR_ERROR', `The saved org state ${path} cannot be read (${(error as Error).message}); move it away to start from the seed.`, {
        cause: error,
      });
    }
  }
  log?.info({ dir, objects: [...tables.values()].map((t) => t.object) }, 'emulator state loaded');
  return tables.size > 0 ? { tables } : undefined;
}

/** Write lines to `path` atomically (temp file + rename), with backpressure. */
async function writeAtomically(path: string, lines: Iterable<string>): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const out = createWriteStream(tmp, { encoding: 'utf8', mode: PRIVATE_FILE_MODE });
  try {
    for (const line of lines) {
      if (!out.write(line)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    await rename(tmp, path);
  } catch (error) {
    out.destroy();
    await rm(tmp, { force: true });
    throw error;
  }
}

function* memoryLines(table: MemoryTable): Iterable<string> {
  yield `${JSON.stringify({ format: STATE_FORMAT, object: table.schema.name, kind: 'memory' })}\n`;
  for (const r of table.all()) yield `${JSON.stringify(r)}\n`;
}

function* overlayLines(table: GeneratedTable, seed: number): Iterable<string> {
  const { entries, nextCounter } = table.overlay();
  yield `${JSON.stringify({ format: STATE_FORMAT, object: table.schema.name, kind: 'overlay', count: table.size, seed, nextCounter })}\n`;
  for (const e of entries) yield `${JSON.stringify(e)}\n`;
}

export class DataDirPersistence {
  private readonly dir: string;
  private readonly store: OrgStore;
  private readonly seed: number;
  private readonly log: Logger | undefined;
  private readonly reload: () => void;
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(dir: string, store: OrgStore, options: { seed: number; logger: Logger | undefined; reload: () => void }) {
    this.dir = dir;
    this.store = store;
    this.seed = options.seed;
    this.log = options.logger;
    this.reload = options.reload;
    if (!existsSync(dir)) ensurePrivateDir(dir, isStateFile);
  }

  markDirty(objectName: string): void {
    const table = this.store.table(objectName);
    if (!table) return;
    this.dirty.add(table.schema.name);
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.save().catch((error: unknown) => this.log?.error({ err: error, dir: this.dir }, 'emulator state save failed'));
    }, DEBOUNCE_MS);
    this.timer.unref();
  }

  reset(): void {
    this.reload();
    for (const t of this.store.tables()) this.dirty.add(t.schema.name);
    this.markDirty(this.store.tables()[0]?.schema.name ?? '');
  }

  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    await this.save();
  }

  /** Save the dirty tables, one after another; writes never overlap. */
  private save(): Promise<void> {
    const names = [...this.dirty];
    this.dirty.clear();
    this.writing = this.writing.catch(() => undefined).then(async () => {
      for (const name of names) {
        const table = this.store.storedTable(name);
        const path = join(this.dir, `${name}.jsonl`);
        if (table instanceof MemoryTable) await writeAtomically(path, memoryLines(table));
        else if (table instanceof GeneratedTable) await writeAtomically(path, overlayLines(table, this.seed));
      }
    });
    return this.writing;
  }
}
