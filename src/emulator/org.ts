import type { Logger } from '../core/logger.ts';
import { ApiLimits } from './limits.ts';
import { AuthService } from './oauth/service.ts';
import { FaultInjector, type FaultSpec } from './faults.ts';
import { BulkService } from './bulk/service.ts';
import { buildStore, type StorePersistence } from './org/seed.ts';
import type { OrgStore } from './org/store.ts';
import { makeId } from './ids.ts';
import { AwsState } from './aws/state.ts';

export interface EmulatorOptions {
  /** TCP port; 0 (default) picks a free one. */
  readonly port?: number;
  /** Interface to listen on; loopback by default. */
  readonly host?: string;
  /** Folder that keeps the org's state across restarts; in memory when absent. */
  readonly dataDir?: string;
  /** Generated objects: object name → record count, served without holding them in memory. */
  readonly generate?: Readonly<Record<string, number>>;
  /** Seed of the deterministic generator and of fault injection. */
  readonly seed?: number;
  /** Access-token lifetime in seconds (default 7200). */
  readonly tokenTtlSeconds?: number;
  /** Daily API request limit (default 1,000,000). */
  readonly dailyApiLimit?: number;
  /** Fault injection: a spec string (see README) or an object. */
  readonly faults?: string | FaultSpec;
  /** Milliseconds a Bulk job spends InProgress before completing (default 0: the first poll sees it done). */
  readonly bulkProcessingDelayMs?: number;
  readonly logger?: Logger;
  /** Clock in epoch ms, for tests. */
  readonly clock?: () => number;
}

/** Everything the emulated org knows; handlers reach it through their context. */
export class Org {
  readonly options: EmulatorOptions;
  readonly log: Logger | undefined;
  readonly clock: () => number;
  readonly orgId: string;
  readonly store: OrgStore;
  readonly persistence: StorePersistence;
  readonly limits: ApiLimits;
  readonly auth: AuthService;
  readonly faults: FaultInjector;
  readonly bulk: BulkService;
  /** Emulated AWS KMS keys and Secrets Manager secrets (src/emulator/aws). */
  readonly aws: AwsState;
  /** Calls served, by "METHOD /route-pattern". */
  readonly callCounts = new Map<string, number>();
  /** Set once the server listens: `http://127.0.0.1:PORT`. */
  baseUrl = '';

  constructor(options: EmulatorOptions) {
    this.options = options;
    this.log = options.logger;
    this.clock = options.clock ?? Date.now;
    this.orgId = makeId('00D', 1);
    const built = buildStore(options, this.clock);
    this.store = built.store;
    this.persistence = built.persistence;
    this.limits = new ApiLimits(options.dailyApiLimit ?? 1_000_000);
    this.auth = new AuthService(this);
    this.faults = new FaultInjector(this, options.faults);
    this.bulk = new BulkService(this);
    this.aws = new AwsState({ ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }), clock: this.clock });
  }

  countCall(key: string): void {
    this.callCounts.set(key, (this.callCounts.get(key) ?? 0) + 1);
  }
}
