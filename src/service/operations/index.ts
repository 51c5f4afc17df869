import type { KMSClient } from '@aws-sdk/client-kms';
import type { Kysely } from 'kysely';
import type { ConnectorRegistry } from '../../connectors/registry.ts';
import type { Logger } from '../../core/logger.ts';
import type { Clock } from '../clock.ts';
import type { ServiceDatabase } from '../db.ts';
import type { ServiceState } from '../state.ts';
import type { Operation } from '../operation.ts';
import { openProfileContext, storedProfileResolver } from '../../profiles/index.ts';
import { flowsUsingProfile, openFlowService } from '../flows/service.ts';
import { metaOperations } from './meta.ts';

/** What operation factories get from startService: state, clocks, identity, and a way to join shutdown. */
export interface ServiceDeps {
  /** The service database (kysely over SQLite service.db or PostgreSQL), migrated. New tables: a migration in src/service/migrations/, viewed with `db.withTables<T>()`. */
  readonly db: Kysely<ServiceDatabase>;
  /** Run state, connector profiles and the write journal, on the database's backend (src/service/state.ts); closed by startService. */
  readonly state: ServiceState;
  /** The state folder (runs.db, profiles.db and service.db on SQLite). */
  readonly stateDir: string;
  readonly log: Logger;
  /** The connectors flows may name: built once at service start (its schema costs ~15 ms), shared by every part. */
  readonly registry: ConnectorRegistry;
  /** The service clock (the scheduler's timers too); `now` is `clock.now`. */
  readonly clock: Clock;
  readonly now: () => Date;
  readonly region: string;
  readonly accountId: string;
  readonly kms: KMSClient;
  /** The KMS key new secrets are sealed with (alias/forceflow or FORCEFLOW_KMS_KEY_ID). */
  readonly kmsKeyId: string;
  /** How long running work may take to finish on close before it is cancelled. */
  readonly gracePeriodMs: number;
  /** The PostgreSQL URL of `db` (absent on SQLite): the distributed mode's run queue is there too. */
  readonly databaseUrl?: string;
  /** The distributed mode: run flows in this process too, this many at once (service.json runFlows, serve --run-flows). */
  readonly runFlows?: number;
  /** The distributed mode: a run's lease in ms (service.json runLeaseSeconds). */
  readonly runLeaseMs?: number;
  /** The lookback of incremental flows without their own (service.json `lookbackSeconds`; default 0). */
  readonly lookbackSeconds?: number;
  /** The API reserve of Salesforce orgs whose profile sets none (service.json `apiReserve`; docs/salesforce-budget.md). */
  readonly apiReserve?: string | number;
  /**
   * Register work for shutdown (e.g. the executor's drain): hooks run after the HTTP server stopped
   * taking requests, in reverse order of registration, before the database closes.
   */
  onClose(hook: () => Promise<void>): void;
}

/**
 * Every operation the service serves, composed in this one place. Each part of the service adds its
 * list here (flows and executions: src/service/flows; connector profiles, entities and connectors:
 * src/service/meta), e.g. `...flowOperations(deps)`. Async so a part can open its tables first.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a table of operations of different input types
export async function composeOperations(deps: ServiceDeps): Promise<Operation<any>[]> {
  // One profile store for every part (flows, profiles, entities, connectors): profiles.db as `forceflow profiles
  // create` keeps it, or the PostgreSQL service database.
  const profileContext = openProfileContext({ log: deps.log, store: deps.state.profiles, kms: deps.kms });
  deps.onClose(async () => profileContext.close());
  const flows = await openFlowService(deps, {
    exists: async (name) => (await profileContext.store.get(name)) !== undefined,
    resolver: storedProfileResolver(profileContext),
  }, {
    runOptions: {
      ...(deps.lookbackSeconds === undefined ? {} : { defaultLookbackSeconds: deps.lookbackSeconds }),
      ...(deps.apiReserve === undefined ? {} : { salesforce: { defaultApiReserve: deps.apiReserve } }),
    },
  });
  const profiles = { ...profileContext, defaultKeyId: deps.kmsKeyId };
  return [
    ...flows.operations,
    ...metaOperations({ profiles, profileInUse: (name) => flowsUsingProfile(flows.store, name) }),
  ];
}
