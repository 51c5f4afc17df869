import { AwsState } from './aws/state.ts';
import { BulkService } from './bulk/service.ts';
import { registerBulkRoutes } from './bulk/routes.ts';
import type { Org, OrgRouter } from './context.ts';
import { registerControlRoutes, registerFaultRoutes } from './control.ts';
import { registerAwsRoutes } from './aws/routes.ts';
import { FaultInjector } from './faults.ts';
import { Router } from './http.ts';
import { makeId } from './ids.ts';
import { ApiLimits } from './limits.ts';
import { registerOAuthRoutes } from './oauth/routes.ts';
import { AuthService } from './oauth/service.ts';
import type { EmulatorOptions } from './options.ts';
import { buildStore } from './org/seed.ts';
import { registerRestRoutes } from './rest/routes.ts';

/** Every route of the emulator. */
export function buildRouter(): OrgRouter {
  const router: OrgRouter = new Router();
  registerOAuthRoutes(router);
  registerRestRoutes(router);
  registerBulkRoutes(router);
  registerFaultRoutes(router);
  registerControlRoutes(router);
  registerAwsRoutes(router);
  return router;
}

/**
 * The one place the emulator is wired: the org's state (store, limits, clock), its services, each given
 * only what it uses, and the router. `startEmulator` serves the result over HTTP; tests that drive the
 * engines directly may use it without a server (`org.baseUrl` stays empty until something listens).
 */
export function buildEmulator(options: EmulatorOptions = {}): { org: Org; router: OrgRouter } {
  const clock = options.clock ?? Date.now;
  const orgId = makeId('00D', 1);
  const { store, persistence } = buildStore(options, clock);
  const limits = new ApiLimits(options.dailyApiLimit ?? 1_000_000);
  const faults = new FaultInjector({ limits, seed: options.seed }, options.faults);
  const callCounts = new Map<string, number>();
  const org: Org = {
    options,
    log: options.logger,
    clock,
    orgId,
    store,
    persistence,
    limits,
    faults,
    auth: new AuthService({ store, orgId, clock, baseUrl: () => org.baseUrl, tokenTtlSeconds: options.tokenTtlSeconds ?? 7200 }),
    bulk: new BulkService({ store, clock, faults, persistence, processingDelayMs: options.bulkProcessingDelayMs ?? 0, ...(options.bulkQueryBytesPerSecond === undefined ? {} : { queryBytesPerSecond: options.bulkQueryBytesPerSecond }) }),
    aws: new AwsState({ ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }), clock }),
    callCounts,
    baseUrl: '',
    countCall(key: string): void {
      callCounts.set(key, (callCounts.get(key) ?? 0) + 1);
    },
  };
  return { org, router: buildRouter() };
}
