import type { Logger } from '../core/logger.ts';
import type { AwsState } from './aws/state.ts';
import type { BulkService } from './bulk/service.ts';
import type { FaultInjector } from './faults.ts';
import type { Router } from './http.ts';
import type { ApiLimits } from './limits.ts';
import type { AuthService } from './oauth/service.ts';
import type { EmulatorOptions } from './options.ts';
import type { StorePersistence } from './org/seed.ts';
import type { OrgStore } from './org/store.ts';

/**
 * The wired emulator: the org's state and its services, built once by `buildEmulator()` (build.ts).
 * Route handlers reach it through their {@link HandlerContext}; the services themselves never see it (each
 * gets the narrow dependencies it uses), so nothing below the routes imports this module's values.
 */
export interface Org {
  readonly options: EmulatorOptions;
  readonly log: Logger | undefined;
  /** The org's clock in epoch ms (its Date header, audit fields, token lifetimes, date literals). */
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
  readonly callCounts: Map<string, number>;
  /** Set once the server listens: `http://127.0.0.1:PORT`. */
  baseUrl: string;
  countCall(key: string): void;
}

/** What every route handler gets besides the request and the response. */
export interface HandlerContext {
  readonly org: Org;
}

/** The emulator's router: handlers take a {@link HandlerContext}. */
export type OrgRouter = Router<HandlerContext>;
