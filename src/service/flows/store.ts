import { type Kysely, sql } from 'kysely';
import { ForceflowError } from '../../core/errors.ts';
import type { FlowDefinition } from '../../flows/schema.ts';
import type { FireRecord, ScheduledFlow, SchedulerStore } from '../scheduler.ts';
import { openServiceDatabase, type ServiceDatabaseOptions } from '../db.ts';
import { prepareServiceSchema } from '../migrations/index.ts';

/** AppFlow's flow statuses (Deprecated is in the model but never set here). */
export type FlowStatus = 'Active' | 'Suspended' | 'Draft' | 'Errored' | 'Deleted';

/**
 * The members of a flow definition as the client sent them (CreateFlow, then UpdateFlow): description, kmsArn,
 * triggerConfig, sourceFlowConfig, destinationFlowConfigList, tasks, metadataCatalogConfig. DescribeFlow echoes
 * them unchanged (Terraform and Airflow compare and round-trip them).
 */
export type FlowMembers = Record<string, unknown>;

export interface StoredFlow {
  readonly name: string;
  readonly arn: string;
  readonly definition: FlowMembers;
  readonly status: FlowStatus;
  readonly statusMessage: string | null;
  readonly createdAt: Date;
  readonly lastUpdatedAt: Date;
  readonly createdBy: string;
  readonly lastUpdatedBy: string;
  readonly schemaVersion: number;
  readonly schemaFingerprint: string;
  /** When StartFlow last activated the flow (null: never). */
  readonly activatedAt: Date | null;
  /** Failed scheduled runs in a row (reset by a successful run or an activation): flowErrorDeactivationThreshold counts these. */
  readonly consecutiveFailures: number;
  readonly tags: Readonly<Record<string, string>>;
}

export interface NewFlow {
  readonly name: string;
  readonly arn: string;
  readonly definition: FlowMembers;
  readonly status: FlowStatus;
  readonly at: Date;
  readonly by: string;
  readonly schemaFingerprint: string;
  readonly tags: Readonly<Record<string, string>>;
}

export interface FlowUpdate {
  readonly definition: FlowMembers;
  readonly status: FlowStatus;
  readonly schemaFingerprint: string;
  readonly at: Date;
  readonly by: string;
}

/**
 * The service's flows: definitions, status and tags (clientToken replies are the protocol layer's). Every method is asynchronous and
 * written with kysely's portable builder (no SQLite-only SQL), so a PostgreSQL dialect can replace SQLite.
 */
export interface FlowStore {
  /** Insert a flow; false when a flow of that name exists. */
  create(flow: NewFlow): Promise<boolean>;
  get(name: string): Promise<StoredFlow | undefined>;
  /** Flows by name, after `after` (exclusive), at most `limit`. */
  list(options: { readonly after?: string; readonly limit: number }): Promise<StoredFlow[]>;
  count(): Promise<number>;
  /** Replace the definition; schemaVersion goes up by one when the fingerprint changed. Undefined when absent. */
  update(name: string, change: FlowUpdate): Promise<StoredFlow | undefined>;
  /** Change the status (and its message); activating (to Active) sets activatedAt and resets the count of failed runs in a row. */
  setStatus(name: string, status: FlowStatus, message: string | null, at: Date): Promise<StoredFlow | undefined>;
  /** Count a run's end: +1 on Error, back to 0 on Successful (Canceled changes nothing). Returns the count. */
  recordRunEnd(name: string, status: string): Promise<number>;
  /** Suspend the flow with `flowStatusMessage` = reason if it is Active (atomically); true when it was. */
  suspendActive(name: string, reason: string): Promise<boolean>;
  delete(name: string): Promise<boolean>;
  tag(name: string, tags: Readonly<Record<string, string>>): Promise<void>;
  /** The scheduler's view (src/service/scheduler.ts): Active Scheduled flows, the fires log, suspension. */
  readonly scheduler: SchedulerStore;
  /** A flow's fires log, newest first. */
  fires(name: string, limit?: number): Promise<FireRecord[]>;
  untag(name: string, keys: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

interface FlowsTable {
  name: string;
  arn: string;
  definition: string;
  status: string;
  status_message: string | null;
  created_at: string;
  last_updated_at: string;
  created_by: string;
  last_updated_by: string;
  schema_version: number;
  schema_fingerprint: string;
  consecutive_failures: number;
  activated_at: string | null;
}
interface FlowTagsTable {
  flow_name: string;
  tag_key: string;
  tag_value: string;
}
interface FlowFiresTable {
  flow_name: string;
  scheduled_at: string;
  fired_at: string;
  outcome: string;
  catch_up: number;
  execution_id: string | null;
  reason: string | null;
}
// A type alias (not an interface) so kysely's withTables<FlowTables>() accepts it.
export type FlowTables = {
  flows: FlowsTable;
  flow_tags: FlowTagsTable;
  flow_fires: FlowFiresTable;
};

function toFlow(row: FlowsTable, tags: Record<string, string>): StoredFlow {
  return {
    name: row.name,
    arn: row.arn,
    definition: JSON.parse(row.definition) as FlowMembers,
    status: row.status as FlowStatus,
    statusMessage: row.status_message,
    createdAt: new Date(row.created_at),
    lastUpdatedAt: new Date(row.last_updated_at),
    createdBy: row.created_by,
    lastUpdatedBy: row.last_updated_by,
    schemaVersion: Number(row.schema_version),
    schemaFingerprint: row.schema_fingerprint,
    consecutiveFailures: Number(row.consecutive_failures),
    activatedAt: row.activated_at === null ? null : new Date(row.activated_at),
    tags,
  };
}

/** The flow store over a service database migrated by src/service/migrations/ (SQLite or PostgreSQL). */
export async function createFlowStore(db: Kysely<FlowTables>, options: { readonly ownsDb?: boolean; readonly now?: () => Date } = {}): Promise<FlowStore> {
  const now = options.now ?? (() => new Date());
  const guard = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof ForceflowError) throw error;
      throw new ForceflowError('STATE_ERROR', `The service's flow store could not ${what}: ${(error as Error).message}.`, { cause: error });
    }
  };
  const tagsOf = async (names: readonly string[]): Promise<Map<string, Record<string, string>>> => {
    const out = new Map<string, Record<string, string>>(names.map((n) => [n, {}]));
    if (names.length === 0) return out;
    const rows = await db.selectFrom('flow_tags').selectAll().where('flow_name', 'in', names).orderBy('tag_key').execute();
    for (const r of rows) (out.get(r.flow_name) as Record<string, string>)[r.tag_key] = r.tag_value;
    return out;
  };
  const get = async (name: string): Promise<StoredFlow | undefined> => {
    const row = await db.selectFrom('flows').selectAll().where('name', '=', name).executeTakeFirst();
    if (!row) return undefined;
    return toFlow(row, (await tagsOf([name])).get(name) ?? {});
  };
  const putTags = async (trx: Kysely<FlowTables>, name: string, tags: Readonly<Record<string, string>>): Promise<void> => {
    for (const [key, value] of Object.entries(tags)) {
      await trx.insertInto('flow_tags').values({ flow_name: name, tag_key: key, tag_value: value })
        .onConflict((oc) => oc.columns(['flow_name', 'tag_key']).doUpdateSet({ tag_value: value }))
        .execute();
    }
  };
  return {
    create: (flow) => guard('create the flow', async () => db.transaction().execute(async (trx) => {
      const result = await trx.insertInto('flows').values({
        name: flow.name, arn: flow.arn, definition: JSON.stringify(flow.definition), status: flow.status, status_message: null,
        created_at: flow.at.toISOString(), last_updated_at: flow.at.toISOString(), created_by: flow.by, last_updated_by: flow.by,
        schema_version: 1, schema_fingerprint: flow.schemaFingerprint, consecutive_failures: 0, activated_at: null,
      }).onConflict((oc) => oc.column('name').doNothing()).executeTakeFirst();
      if (Number(result.numInsertedOrUpdatedRows ?? 0n) === 0) return false;
      await trx.deleteFrom('flow_tags').where('flow_name', '=', flow.name).execute();
      await trx.deleteFrom('flow_fires').where('flow_name', '=', flow.name).execute();
      await putTags(trx, flow.name, flow.tags);
      return true;
    })),
    get: (name) => guard('read the flow', () => get(name)),
    list: ({ after, limit }) => guard('list flows', async () => {
      let q = db.selectFrom('flows').selectAll().orderBy('name').limit(limit);
      if (after !== undefined) q = q.where('name', '>', after);
      const rows = await q.execute();
      const tags = await tagsOf(rows.map((r) => r.name));
      return rows.map((r) => toFlow(r, tags.get(r.name) ?? {}));
    }),
    count: () => guard('count flows', async () => {
      const row = await db.selectFrom('flows').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      return Number(row.n);
    }),
    update: (name, change) => guard('update the flow', async () => {
      const done = await db.transaction().execute(async (trx) => {
        const row = await trx.selectFrom('flows').select(['schema_version', 'schema_fingerprint']).where('name', '=', name).executeTakeFirst();
        if (!row) return false;
        const version = row.schema_fingerprint === change.schemaFingerprint ? Number(row.schema_version) : Number(row.schema_version) + 1;
        await trx.updateTable('flows').set({
          definition: JSON.stringify(change.definition), status: change.status, schema_version: version, schema_fingerprint: change.schemaFingerprint,
          last_updated_at: change.at.toISOString(), last_updated_by: change.by,
        }).where('name', '=', name).execute();
        return true;
      });
      return done ? get(name) : undefined;
    }),
    setStatus: (name, status, message, at) => guard('change the flow status', async () => {
      const result = await db.updateTable('flows').set({ status, status_message: message, last_updated_at: at.toISOString(), ...(status === 'Active' ? { consecutive_failures: 0, activated_at: at.toISOString() } : {}) }).where('name', '=', name).executeTakeFirst();
      return Number(result.numUpdatedRows) === 0 ? undefined : get(name);
    }),
    recordRunEnd: (name, status) => guard('count the run', async () => {
      // One statement (UPDATE … RETURNING, on both backends): the count answered is the one this run made.
      const row = status === 'Error' || status === 'Successful'
        ? await db.updateTable('flows').set({ consecutive_failures: status === 'Error' ? sql<number>`consecutive_failures + 1` : 0 }).where('name', '=', name).returning('consecutive_failures').executeTakeFirst()
        : await db.selectFrom('flows').select('consecutive_failures').where('name', '=', name).executeTakeFirst();
      return Number(row?.consecutive_failures ?? 0);
    }),
    suspendActive: (name, reason) => guard('suspend the flow', async () => {
      const result = await db.updateTable('flows').set({ status: 'Suspended', status_message: reason.slice(0, 2048), last_updated_at: now().toISOString() }).where('name', '=', name).where('status', '=', 'Active').executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    }),
    delete: (name) => guard('delete the flow', async () => db.transaction().execute(async (trx) => {
      await trx.deleteFrom('flow_tags').where('flow_name', '=', name).execute();
      await trx.deleteFrom('flow_fires').where('flow_name', '=', name).execute();
      const result = await trx.deleteFrom('flows').where('name', '=', name).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    })),
    tag: (name, tags) => guard('tag the flow', async () => db.transaction().execute(async (trx) => putTags(trx, name, tags))),
    untag: (name, keys) => guard('untag the flow', async () => {
      if (keys.length === 0) return;
      await db.deleteFrom('flow_tags').where('flow_name', '=', name).where('tag_key', 'in', keys).execute();
    }),
    fires: (name, limit = 100) => guard('read the fires log', async () => {
      const rows = await db.selectFrom('flow_fires').selectAll().where('flow_name', '=', name).orderBy('fired_at', 'desc').limit(limit).execute();
      return rows.map((r) => ({
        flowName: r.flow_name, scheduledAt: new Date(r.scheduled_at), firedAt: new Date(r.fired_at), outcome: r.outcome as FireRecord['outcome'], catchUp: Number(r.catch_up) === 1,
        ...(r.execution_id === null ? {} : { executionId: r.execution_id }), ...(r.reason === null ? {} : { reason: r.reason }),
      }));
    }),
    scheduler: {
      listActive: () => guard('list active flows', async () => {
        const rows = await db.selectFrom('flows').selectAll().where('status', '=', 'Active').orderBy('name').execute();
        const out: ScheduledFlow[] = [];
        for (const row of rows) {
          const definition = JSON.parse(row.definition) as { triggerConfig?: FlowDefinition['triggerConfig'] };
          if (definition.triggerConfig?.triggerType !== 'Scheduled') continue;
          const last = await db.selectFrom('flow_fires').select('fired_at').where('flow_name', '=', row.name).orderBy('fired_at', 'desc').limit(1).executeTakeFirst();
          out.push({
            flowName: row.name, triggerConfig: definition.triggerConfig, activatedAt: new Date(row.activated_at ?? row.last_updated_at),
            ...(last ? { lastFireAt: new Date(last.fired_at) } : {}), consecutiveFailures: Number(row.consecutive_failures),
          });
        }
        return out;
      }),
      recordFire: (fire) => guard('record a fire', async () => {
        await db.insertInto('flow_fires').values({
          flow_name: fire.flowName, scheduled_at: fire.scheduledAt.toISOString(), fired_at: fire.firedAt.toISOString(), outcome: fire.outcome,
          catch_up: fire.catchUp ? 1 : 0, execution_id: fire.executionId ?? null, reason: fire.reason ?? null,
        }).execute();
      }),
      suspend: (flowName, reason) => guard('suspend the flow', async () => {
        await db.updateTable('flows').set({ status: 'Suspended', status_message: reason.slice(0, 2048), last_updated_at: now().toISOString() }).where('name', '=', flowName).execute();
      }),
    },
    async close() {
      if (options.ownsDb) await db.destroy();
    },
  };
}

/** The flow store in the service database (SQLite service.db in the state folder, or PostgreSQL at `url`), closing it on close(). */
export async function openFlowStore(options: ServiceDatabaseOptions & { readonly autoMigrate?: boolean }): Promise<FlowStore> {
  const db = openServiceDatabase(options);
  try {
    await prepareServiceSchema(db, { autoMigrate: options.autoMigrate ?? options.url === undefined });
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return createFlowStore(db.withTables<FlowTables>() as unknown as Kysely<FlowTables>, { ownsDb: true });
}

/** The flow store in `service.db` of a state folder (migrated as the service migrates it), closing it on close(). */
export async function openSqliteFlowStore(stateDir: string): Promise<FlowStore> {
  return openFlowStore({ stateDir });
}
