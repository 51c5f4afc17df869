import type { ProfileResolver, RunFlowOptions } from '../../flows/runner.ts';
import type { RunStateStore } from '../../flows/state.ts';
import type { ServiceState } from '../state.ts';
import type { Clock } from '../clock.ts';
import { createExecutor, type Executor } from '../executor.ts';
import { Scheduler } from '../scheduler.ts';
import type { Operation } from '../operation.ts';
import type { Logger } from '../../core/logger.ts';
import type { ConnectorRegistry } from '../../connectors/registry.ts';
import type { ServiceDatabase } from '../db.ts';
import { flowOperations } from '../operations/flows.ts';
import type { Kysely } from 'kysely';
import { createFlowStore, type FlowStore, type FlowTables } from './store.ts';
import { databaseKind } from '../db.ts';
import { createQueueExecutor, DEFAULT_RUN_LEASE_MS, openBoss, RunClaims, type ClaimTables } from '../queue.ts';
import { startRunWorker } from '../worker.ts';

export interface FlowProfiles {
  /** Whether a connector profile of that name exists. */
  exists(name: string): Promise<boolean>;
  /** Profiles for runs, by name. */
  readonly resolver: ProfileResolver;
}

/** What the flow part needs of the service (a subset of ServiceDeps, src/service/operations/index.ts). */
export interface FlowServiceDeps {
  readonly db: Kysely<ServiceDatabase>;
  /** Where the run history is kept (runs.db, or the PostgreSQL service database); its owner closes it. */
  readonly state: Pick<ServiceState, 'runs'>;
  readonly log: Logger;
  /** The service clock: the scheduler's timers and every timestamp (startService's `clock`; tests inject a manual one). */
  readonly clock: Clock;
  /** The connectors flows may name (the service's one registry). */
  readonly registry: ConnectorRegistry;
  readonly now: () => Date;
  readonly gracePeriodMs: number;
  /** The PostgreSQL URL of `db` (the distributed mode's pg-boss queue lives there too); absent on SQLite. */
  readonly databaseUrl?: string;
  /** The distributed mode (PostgreSQL): also run flows in this process (`serve --run-flows`), with this many at once. */
  readonly runFlows?: number;
  /** The distributed mode: a run's lease (default 30 s). */
  readonly runLeaseMs?: number;
  onClose(hook: () => Promise<void>): void;
}

/** How often a service process of the distributed mode re-reads the Active scheduled flows (other processes' StartFlow, StopFlow, UpdateFlow). */
export const SCHEDULE_SYNC_MS = 2000;

export interface FlowService {
  readonly store: FlowStore;
  readonly state: RunStateStore;
  /** Runs flows in this process (the scheduler starts its fires through it). */
  readonly executor: Executor;
  readonly scheduler: Scheduler;
  readonly operations: Operation[];
}

/**
 * The flow part of the service: the flow store in the service database, the run history of `deps.state` (runs.db,
 * shared with the command line, or PostgreSQL), the executor, and the flow operations. On close the executor
 * drains (running runs get the grace period) before the run state closes.
 */
export interface FlowServiceOptions {
  /** Extra runFlow options for every run (S3 client, Salesforce retry and polling, size guard). */
  readonly runOptions?: Pick<RunFlowOptions, 's3Client' | 'salesforce' | 'maxBytes' | 'defaultLookbackSeconds'>;
  /** Flows per account (default 1,000, AppFlow's quota). */
  readonly maxFlows?: number;
}

export async function openFlowService(deps: FlowServiceDeps, profiles: FlowProfiles, options: FlowServiceOptions = {}): Promise<FlowService> {
  const { runOptions } = options;
  const store = await createFlowStore(deps.db.withTables<FlowTables>() as unknown as Kysely<FlowTables>, { now: deps.now });
  const state = deps.state.runs;
  const distributed = deps.databaseUrl !== undefined && databaseKind(deps.db) === 'postgres';
  let executor: Executor;
  if (distributed) {
    // The distributed mode (docs/service.md): runs go through the pg-boss queue to `forceflow worker` processes.
    const boss = await openBoss({ url: deps.databaseUrl as string, log: deps.log });
    deps.onClose(() => boss.stop({ graceful: true, wait: true, timeout: 5000 }));
    const claims = new RunClaims(deps.db.withTables<ClaimTables>() as unknown as Kysely<ClaimTables>);
    executor = createQueueExecutor({ boss, claims, flows: store, state, log: deps.log.child({ component: 'queue' }), now: deps.now });
    if (deps.runFlows !== undefined && deps.runFlows > 0) {
      const worker = await startRunWorker({ boss, claims, flows: store, state, profiles: profiles.resolver, log: deps.log, now: deps.now, runOptions: { ...runOptions, registry: deps.registry }, concurrency: deps.runFlows, leaseMs: deps.runLeaseMs ?? DEFAULT_RUN_LEASE_MS });
      deps.onClose(() => worker.close(deps.gracePeriodMs));
    }
  } else {
    executor = createExecutor({ flows: store, state, profiles: profiles.resolver, log: deps.log.child({ component: 'executor' }), now: deps.now, runOptions: { ...runOptions, registry: deps.registry } });
  }
  // The run state is closed by its owner (startService) after every close hook, so after this drain.
  deps.onClose(async () => executor.drain(deps.gracePeriodMs));
  // Runs an earlier service process left InProgress (killed mid-run) end as Error before anything is scheduled.
  await executor.recoverInterrupted();
  const scheduler = new Scheduler({ clock: deps.clock, store: store.scheduler, executor, log: deps.log, failuresCountedElsewhere: distributed });
  // Registered last, so it stops first: no fire starts a run while the executor drains.
  deps.onClose(() => scheduler.close());
  // Every Active scheduled flow is scheduled again; fires missed while the service was down make one run.
  await scheduler.start();
  if (distributed) {
    // Every service process schedules every Active flow (each fire is enqueued once: fireExecutionId); they follow
    // each other's StartFlow, StopFlow and UpdateFlow through the store.
    const triggers = new Map<string, string>();
    let syncing: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      syncing = scheduler.sync(triggers).catch((error: unknown) => deps.log.warn({ err: (error as Error).message }, 'could not follow the scheduled flows'));
    }, SCHEDULE_SYNC_MS);
    timer.unref();
    deps.onClose(async () => {
      clearInterval(timer);
      await syncing;
    });
  }
  const operations = flowOperations({ flows: store, state, executor, scheduler, registry: deps.registry, profileExists: (name) => profiles.exists(name), ...(options.maxFlows === undefined ? {} : { maxFlows: options.maxFlows }) });
  return { store, state, executor, scheduler, operations };
}

/** The connector profile names a stored definition refers to (source and every destination). */
function profileNames(definition: Readonly<Record<string, unknown>>): string[] {
  const configs = [definition['sourceFlowConfig'], ...(Array.isArray(definition['destinationFlowConfigList']) ? definition['destinationFlowConfigList'] : [])];
  const names: string[] = [];
  for (const config of configs) {
    const name = config !== null && typeof config === 'object' ? (config as Record<string, unknown>)['connectorProfileName'] : undefined;
    if (typeof name === 'string') names.push(name);
  }
  return names;
}

/** The flows whose source or destination uses the connector profile `name` (DeleteConnectorProfile refuses it without forceDelete). */
export async function flowsUsingProfile(store: FlowStore, name: string): Promise<string[]> {
  const users: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.list({ ...(after === undefined ? {} : { after }), limit: 100 });
    for (const flow of page) if (profileNames(flow.definition).includes(name)) users.push(flow.name);
    if (page.length < 100) return users;
    after = page[page.length - 1]?.name;
  }
}
