import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { ForceflowError } from '../../core/errors.ts';
import type { EmulatorOptions } from '../options.ts';
import { makeId } from '../ids.ts';
import { ObjectSchema, type SObjectDescribe } from './schema.ts';
import { MemoryTable, OrgStore, type StoredRecord, type Table } from './store.ts';
import { GeneratedTable } from './generated/table.ts';
import type { ReferenceTarget } from './generated/values.ts';
import { DataDirPersistence, readSavedState, type SavedState } from './persistence.ts';

/** Saves the org's state to `--data DIR` (no-op in memory). */
export interface StorePersistence {
  /** Note that records changed; saving may be deferred. */
  markDirty(objectName: string): void;
  /** Write everything pending now (called on close). */
  flush(): Promise<void>;
  /**
   * Put every table back to its baseline: the seed records, and the generated tables with an empty
   * overlay (control endpoint `POST /__emulator/reset`). The saved state, if any, is rewritten.
   */
  reset(): void;
}

/** Where the seed org lives: fixtures/org/{describe,records}/<Object>.json. */
export const SEED_DIR = fileURLToPath(new URL('../../../fixtures/org/', import.meta.url));

/** Objects that `--generate` refuses: the org has exactly one Organization, and Users carry the login. */
const NOT_GENERATABLE = new Set(['organization', 'user']);

/** The most records one generated object can hold (ids have 9 base-62 counter digits; keep well inside). */
export const MAX_GENERATED = 1_000_000_000_000;

/** The options the org's tables are built from. */
export type StoreOptions = Pick<EmulatorOptions, 'dataDir' | 'generate' | 'seed' | 'logger'>;

export interface SeedOrg {
  readonly schemas: readonly ObjectSchema[];
  readonly records: ReadonlyMap<string, readonly StoredRecord[]>;
}

/** Read the seed org's describes and records from `dir` (default fixtures/org). */
export function loadSeed(dir: string = SEED_DIR): SeedOrg {
  const schemas: ObjectSchema[] = [];
  const records = new Map<string, readonly StoredRecord[]>();
  for (const file of readdirSync(join(dir, 'describe')).filter((f) => f.endsWith('.json')).sort()) {
    const describe = JSON.parse(readFileSync(join(dir, 'describe', file), 'utf8')) as SObjectDescribe;
    schemas.push(new ObjectSchema(describe));
    let rows: StoredRecord[] = [];
    try {
      rows = JSON.parse(readFileSync(join(dir, 'records', file), 'utf8')) as StoredRecord[];
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    records.set(describe.name.toLowerCase(), rows);
  }
  return { schemas, records };
}

/** Check `--generate` against the seed's objects; canonical names and counts. */
export function resolveGenerate(schemas: readonly ObjectSchema[], generate: Readonly<Record<string, number>> | undefined): Map<string, { schema: ObjectSchema; count: number }> {
  const out = new Map<string, { schema: ObjectSchema; count: number }>();
  if (!generate) return out;
  const known = schemas.filter((s) => !NOT_GENERATABLE.has(s.name.toLowerCase()));
  for (const [name, count] of Object.entries(generate)) {
    const schema = schemas.find((s) => s.name.toLowerCase() === name.toLowerCase());
    if (!schema || NOT_GENERATABLE.has(schema.name.toLowerCase())) {
      const why = schema ? `${schema.name} cannot be generated` : `the org has no object "${name}"`;
      throw new ForceflowError('EMULATOR_ERROR', `--generate ${name}=${count}: ${why}. Objects that can be generated: ${known.map((s) => s.name).join(', ')}.`, {
        details: { object: name, known: known.map((s) => s.name) },
      });
    }
    if (!Number.isSafeInteger(count) || count < 0 || count > MAX_GENERATED) {
      throw new ForceflowError('EMULATOR_ERROR', `--generate ${name}=${count}: the count must be an integer from 0 to ${MAX_GENERATED}.`);
    }
    out.set(schema.name.toLowerCase(), { schema, count });
  }
  return out;
}

/** The default user's id: the seed User whose Username is the emulator's admin. */
function defaultUserId(seed: SeedOrg): string {
  for (const u of seed.records.get('user') ?? []) if (String(u['Username']).toLowerCase() === 'admin@forceflow.emulator') return String(u['Id']);
  return makeId('005', 1);
}

/** Fresh tables at the baseline: seed records in memory, generated tables without overlay. */
export function baselineTables(seed: SeedOrg, options: StoreOptions, clock: () => number, saved?: SavedState): Table[] {
  const generate = resolveGenerate(seed.schemas, options.generate);
  const targets = new Map<string, ReferenceTarget>();
  for (const [key, g] of generate) targets.set(key, { keyPrefix: g.schema.keyPrefix, generatedCount: g.count });
  const userId = defaultUserId(seed);
  const tables: Table[] = [];
  for (const schema of seed.schemas) {
    const key = schema.name.toLowerCase();
    const g = generate.get(key);
    const savedTable = saved?.tables.get(key);
    if (g) {
      const table = new GeneratedTable({
        schema,
        count: g.count,
        seed: options.seed ?? 1,
        clock,
        vocabulary: seed.records.get(key) ?? [],
        generatedTargets: targets,
        defaultUserId: userId,
      });
      if (savedTable?.kind === 'overlay' && savedTable.count === g.count && savedTable.seed === (options.seed ?? 1)) {
        table.loadOverlay(savedTable.entries, savedTable.nextCounter);
      }
      tables.push(table);
      continue;
    }
    const table = new MemoryTable(schema, { clock });
    const rows = savedTable?.kind === 'memory' ? savedTable.records : (seed.records.get(key) ?? []);
    for (const r of rows) table.load(r);
    tables.push(table);
  }
  return tables;
}

/** Build the org's tables: the seed org from fixtures/, generated objects, and persisted state. */
export function buildStore(options: StoreOptions, clock: () => number): { store: OrgStore; persistence: StorePersistence } {
  const seed = loadSeed();
  const store = new OrgStore();
  const saved = options.dataDir ? readSavedState(options.dataDir, options.logger) : undefined;
  for (const t of baselineTables(seed, options, clock, saved)) store.add(t);
  const reload = (): void => {
    for (const t of baselineTables(seed, options, clock)) store.add(t);
  };
  if (!options.dataDir) {
    return { store, persistence: { markDirty() {}, async flush() {}, reset: reload } };
  }
  const persistence = new DataDirPersistence(options.dataDir, store, { seed: options.seed ?? 1, logger: options.logger, reload });
  return { store, persistence };
}
