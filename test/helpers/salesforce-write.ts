import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, expect } from 'vitest';
import { startEmulator } from '../../src/emulator/index.ts';
import type { EmulatorOptions, RunningEmulator } from '../../src/emulator/index.ts';
import type { FaultStats } from '../../src/emulator/faults.ts';
import type { Logger } from '../../src/core/logger.ts';
import type { RecordBatch, Row } from '../../src/core/types.ts';
import { connectSalesforce } from '../../src/connectors/salesforce/connect.ts';
import { createSalesforceDestination } from '../../src/connectors/salesforce/destination.ts';
import type { SalesforceDestinationConfig, SalesforceDestinationOptions, SalesforceWriteResult } from '../../src/connectors/salesforce/destination.ts';
import type { RetryPolicy, SalesforceClient } from '../../src/connectors/salesforce/http.ts';
import { createFolderStore } from '../../src/connectors/local-file/folder.ts';
import type { BlobStore } from '../../src/connectors/files/store.ts';
import { captureContext } from './run-context.ts';

/** Shared scaffolding of the Salesforce write tests: a per-file emulator and temp folder, and quick retries. */

/** The folder store a run's error file goes to (its own staging folder, as the runner gives it). */
export function localErrorTarget(dir: string, executionId: string): BlobStore {
  return createFolderStore({ path: dir, executionId: `${executionId}-errors` });
}

/** Client retries short enough for tests that inject faults. */
export const FAST_RETRY: RetryPolicy = { retries: 8, baseDelayMs: 2, maxDelayMs: 20 };

/** Destination back-offs and Bulk polling short enough for tests. */
export const FAST_DESTINATION: SalesforceDestinationOptions = {
  rest: { rowRetryBaseMs: 2, refusedBaseMs: 2 },
  bulk: { pollInitialMs: 2, pollMaxMs: 20, rowRetryBaseMs: 2 },
};

/** Rows as batches of at most `size`, every field typed string (the names of all rows, in first-seen order). */
export async function* batches(rows: readonly Row[], size = 500): AsyncGenerator<RecordBatch> {
  const names = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const schema = { entity: 'input', fields: names.map((name) => ({ name, type: 'string' as const })) };
  for (let i = 0; i < rows.length; i += size) yield { schema, rows: rows.slice(i, i + size) };
}

/** A destination config: INSERT into Account, AUTOMATIC API, no stop on the first failure, unless `partial` says otherwise. */
export function destinationConfig(partial: Partial<SalesforceDestinationConfig>): SalesforceDestinationConfig {
  return { object: 'Account', writeOperationType: 'INSERT', idFieldNames: [], apiPreference: 'AUTOMATIC', failOnFirstDestinationError: false, ...partial };
}

/** Adds the call counts (as `GET /calls` reports them) of the routes whose key matches `pattern`. */
export function sumCalls(calls: Readonly<Record<string, number>>, pattern: RegExp): number {
  return Object.entries(calls).filter(([k]) => pattern.test(k)).reduce((n, [, v]) => n + v, 0);
}

/** Every `errors.csv` under `errorDir` (none when the folder does not exist). */
export async function errorFiles(errorDir: string): Promise<string[]> {
  const files: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else if (e.name === 'errors.csv') files.push(join(d, e.name));
    }
  };
  await walk(errorDir);
  return files;
}

/** The text of the one error file under `errorDir` (expects exactly one). */
export async function errorFileText(errorDir: string): Promise<string> {
  const files = await errorFiles(errorDir);
  expect(files).toHaveLength(1);
  return readFile(files[0] as string, 'utf8');
}

/** The lines of the one error file under `errorDir` (expects exactly one), keyed by header. */
export async function errorRows(errorDir: string): Promise<Record<string, string>[]> {
  return parse(await errorFileText(errorDir), { columns: true }) as Record<string, string>[];
}

/** The lines of the error file under `errorDir`, or none when no error file was written. */
export async function errorRowsIfAny(errorDir: string): Promise<Record<string, string>[]> {
  const [file] = await errorFiles(errorDir);
  if (file === undefined) return [];
  return parse(await readFile(file, 'utf8'), { columns: true }) as Record<string, string>[];
}

/** A temp folder made before the enclosing suite's tests and removed after them. */
export interface TempDir {
  readonly path: string;
}

/** Registers beforeAll/afterAll in the calling scope: a fresh folder under the OS temp folder named `prefix…`. */
export function tempDir(prefix: string): TempDir {
  let path: string | undefined;
  beforeAll(async () => {
    path = await mkdtemp(join(tmpdir(), prefix));
  });
  afterAll(async () => {
    if (path !== undefined) await rm(path, { recursive: true, force: true });
  });
  return {
    get path(): string {
      if (path === undefined) throw new Error('tempDir: used outside the tests of the suite that made it');
      return path;
    },
  };
}

/** A running emulator and ways to drive it from a test. */
export interface EmulatorEnv {
  readonly emu: RunningEmulator;
  /** Sets the emulator's fault spec ('' clears it) through its control endpoint. */
  readonly faults: (spec: string) => Promise<void>;
  /** Faults injected since the spec was last set. */
  readonly faultStats: () => Promise<FaultStats>;
  /** Calls the emulator served, by route (`GET /calls`). */
  readonly calls: () => Promise<Record<string, number>>;
  /** A client for the emulator with FAST_RETRY. */
  readonly client: (log?: Logger) => SalesforceClient;
  /** Every record of a SOQL query (following nextRecordsUrl); `all` uses queryAll (deleted records too). */
  readonly query: <T = Record<string, unknown>>(soql: string, all?: boolean) => Promise<T[]>;
}

/** Registers beforeAll/afterAll in the calling scope: an emulator started with `options`, closed after the suite. */
export function emulatorEnv(options: EmulatorOptions): EmulatorEnv {
  let running: RunningEmulator | undefined;
  beforeAll(async () => {
    running = await startEmulator(options);
  });
  afterAll(async () => {
    await running?.close();
  });
  const emu = (): RunningEmulator => {
    if (running === undefined) throw new Error('emulatorEnv: used outside the tests of the suite that started it');
    return running;
  };
  const client = (log?: Logger): SalesforceClient => connectSalesforce(emu().connectorProfile, { retry: FAST_RETRY, ...(log === undefined ? {} : { log }) }).client;
  return {
    get emu(): RunningEmulator {
      return emu();
    },
    async faults(spec: string): Promise<void> {
      const res = await fetch(`${emu().controlUrl}/faults`, { method: 'PUT', body: JSON.stringify({ spec }), headers: emu().controlHeaders });
      expect(res.ok).toBe(true);
    },
    async faultStats(): Promise<FaultStats> {
      const res = await fetch(`${emu().controlUrl}/faults`, { headers: emu().controlHeaders });
      return ((await res.json()) as { stats: FaultStats }).stats;
    },
    async calls(): Promise<Record<string, number>> {
      const res = await fetch(`${emu().controlUrl}/calls`, { headers: emu().controlHeaders });
      return ((await res.json()) as { calls: Record<string, number> }).calls;
    },
    client,
    async query<T = Record<string, unknown>>(soql: string, all = false): Promise<T[]> {
      const c = client();
      const out: T[] = [];
      let page = await c.json<{ records: T[]; nextRecordsUrl?: string }>({ method: 'GET', path: all ? '/queryAll' : '/query', query: { q: soql }, call: 'check' });
      out.push(...page.records);
      while (page.nextRecordsUrl) {
        page = await c.json({ method: 'GET', path: page.nextRecordsUrl, call: 'check' });
        out.push(...page.records);
      }
      return out;
    },
  };
}

/** What `WriteEnv.write` gives back. */
export interface WriteOutcome {
  readonly result: SalesforceWriteResult;
  readonly client: SalesforceClient;
  readonly ctx: ReturnType<typeof captureContext>;
  /** The local folder the write's error file went to. */
  readonly errorDir: string;
}

/** An emulator, a temp folder, and a destination runner that writes rows to the emulator. */
export interface WriteEnv extends EmulatorEnv {
  /** The temp folder (spools, error files). */
  readonly dir: string;
  /** A fresh folder name under `dir` for one write's error file. */
  readonly errorDir: () => string;
  /**
   * Writes `rows` (batches of 500) through a destination with FAST_DESTINATION, then `options` (shallow), a fresh
   * local error folder, flow "f" and a fresh execution id; logs are captured in `ctx`.
   */
  readonly write: (config: SalesforceDestinationConfig, rows: readonly Row[], options?: SalesforceDestinationOptions) => Promise<WriteOutcome>;
}

/** Registers beforeAll/afterAll in the calling scope: see emulatorEnv and tempDir. */
export function writeEnv(options: { readonly emulator: EmulatorOptions; readonly tmpPrefix: string }): WriteEnv {
  const env = emulatorEnv(options.emulator);
  const tmp = tempDir(options.tmpPrefix);
  let run = 0;
  const errorDir = (): string => join(tmp.path, `errors-${++run}`);
  return {
    get emu(): RunningEmulator {
      return env.emu;
    },
    faults: env.faults,
    faultStats: env.faultStats,
    calls: env.calls,
    client: env.client,
    query: env.query,
    get dir(): string {
      return tmp.path;
    },
    errorDir,
    async write(config: SalesforceDestinationConfig, rows: readonly Row[], overrides: SalesforceDestinationOptions = {}): Promise<WriteOutcome> {
      const ctx = captureContext();
      const client = env.client(ctx.log);
      const dir = errorDir();
      const dest = createSalesforceDestination(client, config, { flowName: 'f', executionId: `e${run}`, errorTarget: localErrorTarget(dir, `e${run}`), tempDir: tmp.path, ...FAST_DESTINATION, ...overrides });
      const result = await dest.write(batches(rows), ctx);
      return { result, client, ctx, errorDir: dir };
    },
  };
}
