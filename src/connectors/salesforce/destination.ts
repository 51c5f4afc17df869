import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyRow, hasExactKeys } from '../../formats/rows.ts';
import type { Destination, RecordFailure, RunContext, WriteOptions, WriteProgress, WriteResult } from '../../core/connector.ts';
import { ForceflowError } from '../../core/errors.ts';
import type { ApiPreference, RecordBatch, Row, TransferApi } from '../../core/types.ts';
import { DESTINATION_BULK_THRESHOLD, select } from '../../api-selection/select.ts';
import { createErrorSink, type ErrorSink, type ErrorSinkTarget } from '../files/error-sink.ts';
import { BulkWriter, type BulkWriterOptions } from './bulk-writer.ts';
import { describeObject, type SfField, type SfObject } from './describe.ts';
import type { SalesforceClient } from './http.ts';
import { RestWriter, type RestItem, type RestWriterOptions } from './rest-writer.ts';
import { executionJournal, executionJournalNone, type ExecutionJournal, type WriteJournal } from './journal.ts';
import { Recovery, type RecoveryCounts } from './recovery.ts';
import { CsvSpool, DEFAULT_JOB_BYTES, DEFAULT_MIN_JOB_BYTES, type SpoolFile } from './spool.ts';
import { MISSING_ARGUMENT, type WriteColumn, type WriteOperation, type WriteReporter, type WriteTarget } from './write-plan.ts';
import { BULK_NULL, VALUE_NOT_CONVERTIBLE, ValueConversionError, toBulkValue } from './write-values.ts';
import { throwIfCanceled } from '../../core/cancel.ts';

/**
 * The Salesforce destination: INSERT, UPDATE (by Id), UPSERT (by an external id) and DELETE (by Id) of one
 * object, through sObject Collections (REST) or Bulk API 2.0, with AppFlow's errorHandlingConfig.
 *
 * Before anything is sent, the destination fields are checked against the object's describe: unknown fields
 * (FIELD_NOT_FOUND), fields the operation cannot set, a missing Id mapping for UPDATE/DELETE or external id
 * for UPSERT (FLOW_INVALID).
 *
 * API choice (AUTOMATIC): up to 1,000 records are held in memory. If the input ends first (fewer than 1,000),
 * they go through REST; otherwise those and every later record are spooled to CSV files on disk (spool.ts,
 * never held in memory) and written through Bulk API 2.0, one job per file of at most 100 MB. BULKV2 and
 * REST_SYNC force one API (REST_SYNC streams: at most `concurrency` calls of 200 records in flight).
 *
 * Errors: a record that fails is data (WriteResult.failed, the error file), never an exception, unless
 * failOnFirstDestinationError is true: then no further record is sent once one failed, and the write ends with
 * DESTINATION_WRITE_FAILED whose details say what was already written. Retries and unknown outcomes: see
 * rest-writer.ts, bulk-writer.ts and docs/salesforce-destination.md.
 */
export interface SalesforceDestinationConfig {
  readonly object: string;
  readonly writeOperationType: WriteOperation;
  /** UPSERT: [external id field]; UPDATE/DELETE: ["Id"] (the default). */
  readonly idFieldNames: readonly string[];
  readonly apiPreference: ApiPreference;
  /** AppFlow's default (the console's) is true. */
  readonly failOnFirstDestinationError: boolean;
}

export interface SalesforceDestinationOptions {
  /** For the error file's key: `<flowName>/<executionId>/errors.csv`. */
  readonly flowName?: string;
  readonly executionId?: string;
  /** Where failed records go (S3 bucketName/bucketPrefix or a local folder); none: they are only counted and returned. */
  readonly errorTarget?: ErrorSinkTarget;
  /** Parent folder of the spool (default the OS temp folder); the spool is removed when the write ends. */
  readonly tempDir?: string;
  /** AUTOMATIC's threshold (default 1,000, AppFlow's). */
  readonly bulkThreshold?: number;
  /** Largest CSV upload per Bulk job (default 100 MB). */
  readonly jobBytes?: number;
  /**
   * UPDATE, UPSERT, DELETE (jobs start while the input is read): a spool file of at least this size goes to its
   * job as soon as no other job waits behind the one Salesforce is processing (default 16 MB; see spool.ts).
   */
  readonly minJobBytes?: number;
  /** Failures kept in WriteResult.failed (all of them go to the error file; default 10,000). */
  readonly maxFailuresKept?: number;
  readonly rest?: RestWriterOptions;
  readonly bulk?: BulkWriterOptions;
  /**
   * The write journal (the state store's): jobs and calls are recorded before they are sent and settled once
   * matched, and a write first recovers the unfinished writes of earlier runs of the flow (recovery.ts).
   */
  readonly journal?: WriteJournal;
}

/** What a Salesforce write adds to WriteResult. */
export interface SalesforceWriteResult extends WriteResult {
  /** What was recovered of earlier runs that did not finish (when there were any). */
  readonly recovery?: RecoveryCounts & { readonly jobIds: readonly string[] };
  readonly created: number;
  readonly updated: number;
  readonly unknown: number;
  readonly failedCount: number;
}

const TEXTUAL_ID = 'Id';

function flowInvalid(message: string, details: Record<string, unknown> = {}): ForceflowError {
  return new ForceflowError('FLOW_INVALID', message, { details });
}

/** Resolve the destination fields against describe; throws before anything is written. */
export function resolveTarget(object: SfObject, config: SalesforceDestinationConfig, keys: readonly string[]): WriteTarget {
  const op = config.writeOperationType;
  const where = `destinationConnectorProperties.Salesforce (${op} ${object.name})`;
  const idName = config.idFieldNames[0];
  const keyFor = (name: string): string | undefined => keys.find((k) => k.toLowerCase() === name.toLowerCase());

  if (op === 'UPDATE' || op === 'DELETE') {
    if (idName !== undefined && idName.toLowerCase() !== TEXTUAL_ID.toLowerCase()) {
      throw flowInvalid(`${where}: idFieldNames is ${JSON.stringify(config.idFieldNames)}, but ${op} matches records by their Id. Set idFieldNames to ["Id"], or use UPSERT to match on an external id field.`, { idFieldNames: config.idFieldNames });
    }
    const key = keyFor(TEXTUAL_ID);
    const idField = object.field(TEXTUAL_ID);
    if (key === undefined || idField === undefined) {
      throw flowInvalid(`${where}: ${op} needs the record Id, but no field is mapped to Id. Map the source field holding the Salesforce record Id to the destination field Id.`, { fields: keys });
    }
    const idColumn: WriteColumn = { key, field: idField };
    if (op === 'DELETE') return { object, operation: op, columns: [idColumn], idColumn };
  }

  let externalIdField: SfField | undefined;
  if (op === 'UPSERT') {
    if (idName === undefined) {
      throw flowInvalid(`${where}: UPSERT needs idFieldNames, the external id field to match on, for example ["External_Id__c"].`);
    }
    const f = object.field(idName);
    if (f === undefined) {
      throw new ForceflowError('FIELD_NOT_FOUND', `${where}: idFieldNames names "${idName}", which ${object.name} does not have. Field names come from the object's describe.`, { details: { object: object.name, field: idName } });
    }
    if (!(f.externalId || f.idLookup || f.type === 'id')) {
      throw flowInvalid(`${where}: ${f.name} is not an External ID field of ${object.name}, so UPSERT cannot match on it. Mark it External ID in Salesforce, or choose another field.`, { field: f.name });
    }
    if (keyFor(f.name) === undefined) {
      throw flowInvalid(`${where}: UPSERT matches on ${f.name}, but no field is mapped to ${f.name}. Map the source field holding the external id to ${f.name}.`, { field: f.name });
    }
    externalIdField = f;
  }

  const unknown = keys.filter((k) => object.field(k) === undefined);
  if (unknown.length > 0) {
    throw new ForceflowError('FIELD_NOT_FOUND', `${where}: ${object.name} has no field${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `"${u}"`).join(', ')}. Map to fields of the object's describe; nothing was written.`, {
      details: { object: object.name, fields: unknown },
    });
  }
  // Field names are case-insensitive: two keys may name one field (a Bulk job would fail on the repeated
  // column; REST would send one value and drop the other).
  const byField = new Map<string, string[]>();
  for (const key of keys) {
    const name = (object.field(key) as SfField).name;
    byField.set(name, [...(byField.get(name) ?? []), key]);
  }
  const repeated = [...byField].filter(([, ks]) => ks.length > 1);
  if (repeated.length > 0) {
    throw flowInvalid(`${where}: ${repeated.map(([name, ks]) => `${ks.map((k) => `"${k}"`).join(' and ')} both map to ${object.name}.${name}`).join('; ')} (field names are case-insensitive). Map each Salesforce field once; nothing was written.`, {
      fields: repeated.map(([name, ks]) => ({ field: name, keys: ks })),
    });
  }
  const columns: WriteColumn[] = [];
  const problems: string[] = [];
  for (const key of keys) {
    const field = object.field(key) as SfField;
    if (field.name === TEXTUAL_ID) {
      if (op === 'INSERT') problems.push('Id (INSERT creates records; Salesforce assigns their Id. Remove the mapping, or use UPDATE/UPSERT)');
      else if (op === 'UPSERT' && externalIdField?.name !== TEXTUAL_ID) problems.push('Id (UPSERT matches on the external id; remove the Id mapping)');
      columns.push({ key, field });
      continue;
    }
    const ok = op === 'INSERT' ? field.createable : op === 'UPDATE' ? field.updateable : field.createable || field.updateable || field === externalIdField;
    if (!ok) problems.push(`${field.name} (not ${op === 'INSERT' ? 'createable' : op === 'UPDATE' ? 'updateable' : 'createable or updateable'})`);
    columns.push({ key, field });
  }
  if (problems.length > 0) {
    throw flowInvalid(`${where}: ${op} cannot set ${problems.join('; ')}. Remove those mappings; nothing was written.`, { fields: problems });
  }
  const idColumn = op === 'UPDATE' ? columns.find((c) => c.field.name === TEXTUAL_ID) : undefined;
  const markerColumn = op === 'INSERT' ? columns.find((c) => c.field.externalId) : undefined;
  return {
    object, operation: op, columns,
    ...(idColumn ? { idColumn } : {}),
    ...(externalIdField ? { externalIdField } : {}),
    ...(markerColumn ? { markerColumn } : {}),
  };
}

/** Counts outcomes, feeds the error file and stops the write on the first failure when told to. */
class Reporter implements WriteReporter {
  writtenCount = 0;
  created = 0;
  failedCount = 0;
  unknownCount = 0;
  readonly kept: RecordFailure[] = [];
  first: RecordFailure | undefined;
  private chain: Promise<void> = Promise.resolve();
  private readonly sink: ErrorSink | undefined;
  private readonly failFast: boolean;
  private readonly maxKept: number;

  constructor(sink: ErrorSink | undefined, failFast: boolean, maxKept: number) {
    this.sink = sink;
    this.failFast = failFast;
    this.maxKept = maxKept;
  }

  get stopped(): boolean {
    return this.failFast && this.first !== undefined;
  }

  written(count: number, created = 0): void {
    this.writtenCount += count;
    this.created += created;
  }

  failed(failures: readonly RecordFailure[], unknown = false): Promise<void> {
    if (failures.length === 0) return Promise.resolve();
    this.first ??= failures[0];
    this.failedCount += failures.length;
    if (unknown) this.unknownCount += failures.length;
    for (const f of failures) if (this.kept.length < this.maxKept) this.kept.push(f);
    const sink = this.sink;
    if (sink === undefined) return Promise.resolve();
    // Serialised: REST calls finish concurrently, the file is one stream.
    this.chain = this.chain.then(() => sink.add(failures));
    return this.chain;
  }
}

export interface SalesforceDestination extends Destination {
  write(batches: AsyncIterable<RecordBatch>, ctx: RunContext, writeOptions?: WriteOptions): Promise<SalesforceWriteResult>;
}

export function createSalesforceDestination(client: SalesforceClient, config: SalesforceDestinationConfig, options: SalesforceDestinationOptions = {}): SalesforceDestination {
  const threshold = options.bulkThreshold ?? DESTINATION_BULK_THRESHOLD;

  return {
    async write(batches: AsyncIterable<RecordBatch>, ctx: RunContext, writeOptions: WriteOptions = {}): Promise<SalesforceWriteResult> {
      const object = config.object;
      const callsBefore = client.apiCalls;
      let target: WriteTarget | undefined;
      let sink: ErrorSink | undefined;
      let reporter: Reporter | undefined;
      let api: TransferApi | undefined;
      let apiReason: string | undefined;
      let spoolDir: string | undefined;
      let spool: CsvSpool | undefined;
      let rest: RestWriter | undefined;
      let bulk: BulkWriter | undefined;
      let buffered: RestItem[] = [];
      let count = 0;
      let published = false;
      // Set once the write has told the caller how far it got (WriteOptions.onProgress).
      let progressReported = false;
      const reportProgress = (progress: WriteProgress): void => {
        progressReported = true;
        writeOptions.onProgress?.(progress);
      };
      const flowName = options.flowName ?? object;
      const executionId = options.executionId ?? new Date().toISOString().replace(/[:.]/g, '-');
      const journal = options.journal;
      const tracked = trackUnsettled(journal === undefined ? executionJournalNone : executionJournal(journal, executionId));
      let journalOpen = false;
      let recovery: Recovery | undefined;
      let recoveryDir: string | undefined;
      let recoveryJobs: string[] = [];
      let recovered: string[] = [];

      /**
       * The write ended (successfully or with an error): forget its journal, and the unfinished runs it
       * recovered, unless a job or call of its own is still unsettled (its outcome unknown): then everything
       * stays for the next run to recover.
       */
      const closeJournal = async (): Promise<void> => {
        if (!journalOpen || journal === undefined) return;
        journalOpen = false;
        if (tracked.unsettled > 0) {
          ctx.log.warn({ executionId, unsettled: tracked.unsettled }, 'the write ended with jobs or calls whose outcome is not known; the next run of the flow recovers them');
          return;
        }
        await journal.finish(recovery === undefined || recovery.resolved ? [executionId, ...recovered] : [executionId]);
      };
      const startRest = (): RestWriter => new RestWriter(client, target as WriteTarget, reporter as Reporter, ctx, options.rest, tracked);
      let originalOf: ((row: Row) => Row) | undefined;
      const spoolRows = async (items: readonly RestItem[]): Promise<void> => {
        const t = target as WriteTarget;
        const s = spool as CsvSpool;
        originalOf ??= originalsOf(t);
        const conversionFailures: RecordFailure[] = [];
        for (const { index, row } of items) {
          const failure = bulkCells(t, index, row);
          if (Array.isArray(failure)) await s.add(index, failure, sentAsIs(t, row, failure) ? undefined : originalOf(row));
          else conversionFailures.push(failure);
        }
        await (reporter as Reporter).failed(conversionFailures);
      };
      const startBulk = async (): Promise<void> => {
        spoolDir = await mkdtemp(join(options.tempDir ?? tmpdir(), 'forceflow-sf-'));
        // Update, upsert and delete: each spool file goes to its job as soon as it is closed, while the next
        // one is spooled (a bad row later in the input stops the write part-way; running again after fixing
        // the input repeats those writes harmlessly). Insert is not idempotent: its jobs start only once the
        // whole input was read and converted, so a bad row late in a file never leaves a partial insert that
        // a corrected rerun would insert twice.
        const writer = new BulkWriter(client, target as WriteTarget, reporter as Reporter, ctx, spoolDir, options.bulk, tracked);
        bulk = writer;
        const early = (target as WriteTarget).operation !== 'INSERT';
        spool = new CsvSpool(spoolDir, (target as WriteTarget).columns.map((c) => c.field.name), {
          maxBytes: options.jobBytes ?? DEFAULT_JOB_BYTES,
          originals: true,
          identity: writer.identity,
          // Early jobs are as large as what was spooled while Salesforce processed the job before (at least
          // 16 MB, at most 100 MB): it starts on a small first job while the input is still read, and is not
          // left waiting for a large file when the input is read at about the pace it writes.
          ...(early ? { onFile: (file: SpoolFile) => writer.enqueue(file), minBytes: options.minJobBytes ?? DEFAULT_MIN_JOB_BYTES, rollEarly: () => writer.waiting === 0 } : {}),
        });
      };

      // The input, indexed; the first non-empty batch resolves the target (describe) and the error file.
      async function* indexed(): AsyncGenerator<RestItem[]> {
        for await (const batch of batches) {
          throwIfCanceled(ctx.signal);
          if (batch.rows.length === 0) continue;
          if (target === undefined) {
            const described = await describeObject(client, object);
            const keys = batch.schema.fields.map((f) => f.name);
            target = resolveTarget(described, config, keys);
            if (options.errorTarget !== undefined) {
              sink = createErrorSink(options.errorTarget, { flowName, executionId, fields: target.columns.map((c) => c.key) });
            }
            reporter = new Reporter(sink, config.failOnFirstDestinationError, options.maxFailuresKept ?? 10_000);
          }
          const items = batch.rows.map((row, i): RestItem => ({ index: count + i, row }));
          count += items.length;
          yield items;
        }
      }

      try {
        const it = indexed();
        const first = await it.next();
        let input: AsyncIterable<RestItem[]> = first.done ? it : prepend(first.value, it);
        if (!first.done && journal !== undefined) {
          const t = target as WriteTarget;
          const prior = (await journal.open(flowName)).filter((e) => e.executionId !== executionId);
          await journal.begin({ flowName, executionId, object: t.object.name, operation: t.operation, startedAt: new Date().toISOString() });
          journalOpen = true;
          const unfinished = prior.filter((e) => e.entries.length > 0);
          if (unfinished.length > 0) {
            ctx.log.warn({ executions: unfinished.map((e) => e.executionId), entries: unfinished.reduce((n, e) => n + e.entries.length, 0) }, 'an earlier run of this flow did not finish its Salesforce write; recovering it before sending anything');
            recoveryDir = await mkdtemp(join(options.tempDir ?? tmpdir(), 'forceflow-sf-recover-'));
            const dir = recoveryDir;
            recovery = new Recovery(unfinished, t, dir, ctx);
            await recovery.stage(input, originalsOf(t), (index, row) => bulkCells(t, index, row));
            recovery.verify();
            let recoverBulk: BulkWriter | undefined;
            let recoverRest: RestWriter | undefined;
            await recovery.resolve(
              reporter as Reporter,
              () => (recoverBulk ??= new BulkWriter(client, t, reporter as Reporter, ctx, dir, options.bulk, tracked)),
              () => (recoverRest ??= startRest()),
            );
            recoveryJobs = recoverBulk?.stats.jobs ?? [];
            input = recovery.replay();
          }
          // Executions with no entry sent nothing; those with entries are recovered now.
          recovered = prior.map((e) => e.executionId);
        }
        if (target !== undefined) {
          if (config.apiPreference === 'REST_SYNC') {
            ({ api, reason: apiReason } = select({ direction: 'destination', preference: 'REST_SYNC', recordCount: 0 }));
            rest = startRest();
          } else if (config.apiPreference === 'BULKV2') {
            ({ api, reason: apiReason } = select({ direction: 'destination', preference: 'BULKV2', recordCount: 0 }));
            await startBulk();
          }
        }
        for await (const items of input) {
          if (reporter?.stopped || bulk?.failed === true) break;
          if (rest !== undefined) {
            await rest.add(items);
          } else if (spool !== undefined) {
            await spoolRows(items);
            if (reporter?.stopped) break;
          } else {
            // AUTOMATIC, undecided: hold up to the threshold in memory.
            buffered.push(...items);
            if (buffered.length >= threshold) {
              api = 'BULKV2';
              await startBulk();
              const held = buffered;
              buffered = [];
              await spoolRows(held);
              if (reporter?.stopped) break;
            }
          }
        }

        if (target !== undefined && reporter !== undefined) {
          if (api === undefined) {
            // AUTOMATIC and the input ended below the threshold.
            ({ api, reason: apiReason } = select({ direction: 'destination', preference: 'AUTOMATIC', recordCount: buffered.length }));
            rest = startRest();
            await rest.add(buffered);
            buffered = [];
          }
          if (rest !== undefined) await rest.finish();
          if (spool !== undefined) {
            const files: SpoolFile[] = await spool.finish();
            if (config.apiPreference === 'AUTOMATIC') apiReason = select({ direction: 'destination', preference: 'AUTOMATIC', recordCount: spool.rows + reporter.failedCount }).reason;
            ctx.log.info({ object, records: spool.rows, jobs: spool.files }, 'spooled for Bulk API 2.0');
            // Update, upsert, delete: the files went to their jobs as they were closed; insert: they go now
            // (no job is sent once the reporter stopped).
            if ((target as WriteTarget).operation === 'INSERT') for (const file of files) (bulk as BulkWriter | undefined)?.enqueue(file);
            await (bulk as BulkWriter | undefined)?.drain();
          }
        }

        let errorFile: string | null = null;
        if (sink !== undefined) {
          errorFile = (await sink.finish()).key;
          published = true;
        }
        await closeJournal();
        const r = reporter;
        const written = r?.writtenCount ?? 0;
        const created = r?.created ?? 0;
        const updated = config.writeOperationType === 'UPSERT' ? written - created : config.writeOperationType === 'UPDATE' ? written : 0;
        const outputs = bulk?.stats.jobs ?? [];
        if (r?.stopped && r.first !== undefined) {
          const f = r.first;
          reportProgress({ written, failed: r.failedCount, errorFile, ...(recovery ? { recovery: { ...recovery.counts, jobIds: recoveryJobs } } : {}) });
          throw new ForceflowError(
            'DESTINATION_WRITE_FAILED',
            `Record ${f.index} failed to ${config.writeOperationType.toLowerCase()} ${object}: ${f.errorCode}: ${f.message} failOnFirstDestinationError is true, so the run stopped: ${written} record(s) were already written${api ? ` through ${api}` : ''}, ${r.failedCount} failed${errorFile ? ` (listed in ${errorFile})` : ''}, the rest were not sent.`,
            {
              details: {
                object, operation: config.writeOperationType, api: api ?? null, written, created, updated, failed: r.failedCount, unknown: r.unknownCount,
                firstFailure: { index: f.index, errorCode: f.errorCode, message: f.message, ...(f.fields ? { fields: f.fields } : {}) },
                errorFile, jobs: outputs, apiCalls: client.apiCalls - callsBefore,
                ...(recovery ? { recovery: { ...recovery.counts, jobIds: recoveryJobs } } : {}),
              },
            },
          );
        }
        ctx.log.info({ object, operation: config.writeOperationType, api, written, created, failed: r?.failedCount ?? 0, unknown: r?.unknownCount ?? 0, errorFile }, 'salesforce write finished');
        return {
          written,
          failed: r?.kept ?? [],
          failedCount: r?.failedCount ?? 0,
          created,
          updated,
          unknown: r?.unknownCount ?? 0,
          ...(api ? { api } : {}),
          ...(apiReason ? { apiReason } : {}),
          outputs,
          ...(errorFile ? { errorFile } : {}),
          apiCalls: client.apiCalls - callsBefore,
          ...(recovery ? { recovery: { ...recovery.counts, jobIds: recoveryJobs } } : {}),
        };
      } catch (error) {
        // A job already sent finishes (its rows are reported) before the spool folder goes; queued files are not sent.
        const writer = bulk as BulkWriter | undefined;
        writer?.halt();
        await writer?.drain().catch(() => undefined);
        await spool?.discard();
        await recovery?.discard();
        await rest?.settle();
        await closeJournal().catch((e: unknown) => ctx.log.warn({ err: (e as Error).message }, 'could not update the write journal'));
        let errorFile: string | null = null;
        if (sink !== undefined && !published) {
          // Keep what failed visible even when the write stops on an error.
          try {
            errorFile = (await sink.finish()).key;
          } catch {
            await sink.abort().catch(() => undefined);
          }
        }
        const recovered = recovery ? { ...recovery.counts, jobIds: recoveryJobs } : undefined;
        const stopped = withProgress(error, reporter, api, errorFile, client.apiCalls - callsBefore, recovered);
        if (!progressReported && stopped !== error && reporter !== undefined) {
          reportProgress({ written: reporter.writtenCount, failed: reporter.failedCount, errorFile, ...(recovered ? { recovery: recovered } : {}) });
        }
        throw stopped;
      } finally {
        if (spoolDir !== undefined) await rm(spoolDir, { recursive: true, force: true }).catch(() => undefined);
        if (recoveryDir !== undefined) await rm(recoveryDir, { recursive: true, force: true }).catch(() => undefined);
      }
    },
  };
}

/**
 * An error that ends the write part-way (Salesforce unavailable after the retries, a Bulk job that could not be
 * reconciled...), with what had already happened: the same code and kind, the message saying how many records
 * were written and failed, and `details` with `written`, `created`, `failed`, `unknown` and `errorFile`.
 */
function withProgress(error: unknown, reporter: Reporter | undefined, api: TransferApi | undefined, errorFile: string | null, apiCalls: number, recovery?: RecoveryCounts & { readonly jobIds: readonly string[] }): unknown {
  if (!(error instanceof ForceflowError) || reporter === undefined) return error;
  if (error.code === 'DESTINATION_WRITE_FAILED' || (reporter.writtenCount === 0 && reporter.failedCount === 0)) return error;
  const written = reporter.writtenCount;
  const failed = reporter.failedCount;
  return new ForceflowError(
    error.code,
    `${error.message} The write stopped part-way: ${written} record(s) had been written${api ? ` through ${api}` : ''} and ${failed} failed${errorFile ? ` (listed in ${errorFile})` : ''}; the others were not confirmed written (UPSERT is safe to run again).`,
    { cause: error.cause ?? error, details: { ...error.details, written, created: reporter.created, failed, unknown: reporter.unknownCount, errorFile, apiCalls, ...(recovery ? { recovery } : {}) } },
  );
}

/**
 * The destination fields of a record as it came (what the error file lists if it fails). A row holding exactly
 * the destination keys, in order (a Map_all or plain rename), is its own original: no copy.
 */
function originalsOf(target: WriteTarget): (row: Row) => Row {
  const keys = target.columns.map((c) => c.key);
  return (row) => {
    if (hasExactKeys(row, keys)) return row;
    const out: Row = emptyRow();
    for (const key of keys) {
      const v = row[key];
      if (v !== undefined) out[key] = v;
    }
    return out;
  };
}

/**
 * Whether a record is exactly what its Bulk cells read back give (write-plan.ts recordFromCells: the target's
 * keys in order, each a non-empty string sent as it is, or null sent as `#N/A`): then the spool keeps no copy
 * of it (its original is rebuilt from the cells when a failure is reported). Typically a CSV input's rows.
 */
function sentAsIs(target: WriteTarget, row: Row, cells: readonly string[]): boolean {
  const columns = target.columns;
  let i = 0;
  for (const key in row) {
    const column = columns[i];
    if (column === undefined || key !== column.key) return false;
    const v = row[key];
    const cell = cells[i];
    if (v === null ? cell !== BULK_NULL : v !== cell || cell === '' || cell === BULK_NULL) return false;
    i++;
  }
  return i === columns.length;
}

/** A record's Bulk CSV cells, or the failure that keeps it from being sent. */
function bulkCells(target: WriteTarget, index: number, row: Row): string[] | RecordFailure {
  const idc = target.idColumn;
  if (idc !== undefined) {
    const id = row[idc.key];
    if (id === null || id === undefined || id === '' || typeof id !== 'string') {
      return { index, record: row, errorCode: MISSING_ARGUMENT, message: `${idc.field.name} not specified: ${target.operation} needs the record's Id (from the field mapped to ${idc.field.name}).`, fields: [idc.field.name] };
    }
  }
  try {
    return target.columns.map((c) => toBulkValue(c.field, row[c.key]));
  } catch (error) {
    if (error instanceof ValueConversionError) return { index, record: row, errorCode: VALUE_NOT_CONVERTIBLE, message: error.message, fields: [error.field] };
    throw error;
  }
}


/** The first batch again, then the rest of the iterator. */
async function* prepend<T>(first: T, rest: AsyncIterator<T>): AsyncGenerator<T> {
  yield first;
  for (;;) {
    const next = await rest.next();
    if (next.done) return;
    yield next.value;
  }
}

/** An execution journal that counts the entries recorded and not yet settled. */
function trackUnsettled(inner: ExecutionJournal): ExecutionJournal & { readonly unsettled: number } {
  const open = new Set<number>();
  return {
    get unsettled(): number {
      return open.size;
    },
    async record(entry) {
      const seq = await inner.record(entry);
      open.add(seq);
      return seq;
    },
    async settle(seq, outcome) {
      await inner.settle(seq, outcome);
      open.delete(seq);
    },
  };
}
