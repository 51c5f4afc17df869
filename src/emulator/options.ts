import type { Logger } from '../core/logger.ts';
import type { FaultSpec } from './faults.ts';

/** How to start the emulator (`startEmulator`, `buildEmulator`, `forceflow emulator`). */
export interface EmulatorOptions {
  /** TCP port; 0 (default) picks a free one. */
  readonly port?: number;
  /** Interface to listen on; loopback by default. */
  readonly host?: string;
  /** Web page origins (`http://localhost:3000`) allowed to call the emulator (CORS); none by default. */
  readonly allowOrigins?: readonly string[];
  /** Further host names it answers to (`host.docker.internal`), beyond loopback names, IP literals and `host`. */
  readonly allowHosts?: readonly string[];
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
  /** Fault injection: a spec string (see docs/emulator-faults.md) or an object. */
  readonly faults?: string | FaultSpec;
  /** Milliseconds a Bulk job spends InProgress before completing (default 0: the first poll sees it done). */
  readonly bulkProcessingDelayMs?: number;
  /**
   * Result throughput of each Bulk query job, in bytes per second (default 0: unlimited). Like Salesforce, whose
   * per-job download rate is bounded, so several jobs in parallel read faster than one (docs/emulator-bulk.md).
   */
  readonly bulkQueryBytesPerSecond?: number;
  readonly logger?: Logger;
  /** Clock in epoch ms, for tests. */
  readonly clock?: () => number;
}
