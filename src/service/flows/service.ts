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
  onClose(hook: () => Promise<void>): void;
}

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
  const executor = createExecutor({ flows: store, state, profiles: profiles.resolver, log: deps.log.child({ component: 'executor' }), now: deps.now, runOptions: { ...runOptions, registry: deps.registry } });
  // The run state is closed by its owner (startService) after every close hook, so after this drain.
  deps.onClose(async () => executor.drain(deps.gracePeriodMs));
  // Runs an earlier service process left InProgress (killed mid-run) end as Error before anything is scheduled.
  await executor.recoverInterrupted();
  const scheduler = new Scheduler({ clock: deps.clock, store: store.scheduler, executor, log: deps.log });
  // Registered last, so it stops first: no fire starts a run while the executor drains.
  deps.onClose(() => scheduler.close());
  // Every Active scheduled flow is scheduled again; fires missed while the service was down make one run.
  await scheduler.start();
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
