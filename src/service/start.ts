import { resolve } from 'node:path';
import { KMSClient } from '@aws-sdk/client-kms';
import type { FastifyInstance } from 'fastify';
import { ForceflowError, isForceflowError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { defaultStateDir } from '../flows/state.ts';
import { DEFAULT_KMS_KEY_ID } from '../profiles/crypto.ts';
import { systemClock, type Clock } from './clock.ts';
import { parseServiceConfig, type ServiceConfig } from './config.ts';
import { DATABASE_URL_ENV, databaseKind, openServiceDatabase, redactDatabaseUrl } from './db.ts';
import type { AccessKey } from './http/sigv4.ts';
import { consoleAssets } from './console/assets.ts';
import { buildApiApp } from './http/app.ts';
import { SqlIdempotencyStore } from './idempotency.ts';
import { KeyStore } from './keys.ts';
import { prepareServiceSchema } from './migrations/index.ts';
import { openServiceState, type ServiceState } from './state.ts';
import type { Operation } from './operation.ts';
import { BearerRouter, CognitoAuthenticator } from './signin/bearer.ts';
import { SignInService } from './signin/exchange.ts';
import { composeOperations, type ServiceDeps } from './operations/index.ts';
import { defaultRegistry } from '../connectors/registry.ts';

export const DEFAULT_REGION = 'us-east-1';
/** The account id in ARNs when none is configured (AWS's documentation example account). */
export const DEFAULT_ACCOUNT_ID = '123456789012';
export const DEFAULT_GRACE_PERIOD_SECONDS = 30;

export interface ServiceOptions extends ServiceConfig {
  readonly log: Logger;
  /** The service clock: API Date headers, SigV4's window, timestamps, schedules (tests inject a manual one). */
  readonly clock?: Clock;
  /**
   * The schedules' clock (the scheduler's timers, flow activation and fire times) when it differs from `clock`: an
   * accelerated test clock (FORCEFLOW_TEST_CLOCK), while requests are still signed and checked in real time.
   */
  readonly scheduleClock?: Clock;
  /** KMS for the access keys' secrets (default: the AWS SDK chain, honouring AWS_ENDPOINT_URL_KMS). */
  readonly kms?: KMSClient;
  /** KMS key for new secrets (default $FORCEFLOW_KMS_KEY_ID or alias/forceflow). */
  readonly kmsKeyId?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Operations to serve instead of the composed list (tests of the protocol layer). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly operations?: (deps: ServiceDeps) => Promise<Operation<any>[]>;
}

/** The environment a client needs (the AWS SDK and CLI read these). */
export interface ServiceEnv {
  readonly AWS_ENDPOINT_URL_APPFLOW: string;
  readonly AWS_REGION: string;
  /** The AWS CLI v1 reads the region from AWS_DEFAULT_REGION only. */
  readonly AWS_DEFAULT_REGION: string;
  readonly AWS_ACCESS_KEY_ID: string;
  readonly AWS_SECRET_ACCESS_KEY: string;
}

export interface RunningService {
  readonly endpoint: string;
  readonly region: string;
  readonly accountId: string;
  readonly stateDir: string;
  /** The local default key. */
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly env: ServiceEnv;
  readonly app: FastifyInstance;
  readonly keys: KeyStore;
  /** Sign in with Salesforce, when `signIn` is configured: principals, signing keys, the exchange. */
  readonly signIn?: SignInService;
  /** Register work to finish on close (after the API stopped taking requests; reverse order). */
  onClose(hook: () => Promise<void>): void;
  /** Stop taking requests, run the close hooks (running runs get the grace period), close the state. */
  close(): Promise<void>;
}

/**
 * Start the forceflow service: open the state folder (service.db next to runs.db and profiles.db), or the
 * PostgreSQL database of `database` / FORCEFLOW_DATABASE_URL, which then holds all of it (openServiceState),
 * check its schema, make
 * sure the local default access key exists, build the AppFlow API with the composed operations and
 * listen (127.0.0.1 and a free port by default).
 *
 * @example
 * const svc = await startService({ log });
 * const appflow = new AppflowClient({ endpoint: svc.endpoint, region: svc.region,
 *   credentials: { accessKeyId: svc.accessKeyId, secretAccessKey: svc.secretAccessKey } });
 */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const { log: rootLog, clock: clockOption, scheduleClock, kms: kmsOption, kmsKeyId: kmsKeyOption, env: envOption, operations: operationsOption, ...rest } = options;
  const config = parseServiceConfig(rest, 'startService options');
  const env = envOption ?? process.env;
  const log = rootLog.child({ component: 'service' });
  const clock = clockOption ?? systemClock();
  const now = (): Date => clock.now();
  const stateDir = resolve(config.stateDir ?? defaultStateDir(env));
  const region = config.region ?? DEFAULT_REGION;
  const accountId = config.accountId ?? DEFAULT_ACCOUNT_ID;
  const host = config.host ?? '127.0.0.1';
  const keyFromEnv = env['FORCEFLOW_KMS_KEY_ID'];
  const kmsKeyId = kmsKeyOption ?? (keyFromEnv !== undefined && keyFromEnv !== '' ? keyFromEnv : DEFAULT_KMS_KEY_ID);
  const kms = kmsOption ?? new KMSClient({});
  const gracePeriodMs = (config.gracePeriodSeconds ?? DEFAULT_GRACE_PERIOD_SECONDS) * 1000;

  const urlFromEnv = env[DATABASE_URL_ENV];
  const databaseUrl = config.database ?? (urlFromEnv !== undefined && urlFromEnv !== '' ? urlFromEnv : undefined);

  const hooks: Array<() => Promise<void>> = [];
  const db = openServiceDatabase({ url: databaseUrl, stateDir });
  let app: FastifyInstance | undefined;
  let state: ServiceState | undefined;
  const cleanup = async (): Promise<void> => {
    await app?.close();
    for (const hook of hooks.slice().reverse()) {
      try {
        await hook();
      } catch (error) {
        log.error({ err: error }, 'A close hook of the service failed');
      }
    }
    // After the hooks: the executor has drained, so no run writes its state any more.
    state?.close();
    await db.destroy();
    if (!kmsOption) kms.destroy();
  };
  try {
    // The embedded SQLite database migrates itself; a shared PostgreSQL one is migrated by `forceflow migrate`
    // (one deliberate step for every process using it), and an unmigrated or newer schema refuses the start.
    await prepareServiceSchema(db, { autoMigrate: databaseKind(db) === 'sqlite' });
    // Run state, connector profiles and the write journal: runs.db and profiles.db in the state folder on
    // SQLite, the service database on PostgreSQL (src/service/state.ts).
    state = openServiceState({ db, stateDir });
    const keys = await KeyStore.open(db, { stateDir, kms, kmsKeyId, accountId });
    let defaultKey: AccessKey;
    try {
      await keys.ensure(config.keys ?? []);
      defaultKey = await keys.defaultKey();
    } catch (error) {
      if (!isForceflowError(error)) throw error;
      throw new ForceflowError(
        error.code,
        `The service seals its access keys' secrets with KMS key ${kmsKeyId} (FORCEFLOW_KMS_KEY_ID; AWS_ENDPOINT_URL_KMS for a local KMS such as the emulator's), and that failed: ${error.message}`,
        { cause: error, details: error.details },
      );
    }
    // One connector registry for the process: validation, compilation and runs all use it.
    const deps: ServiceDeps = { db, state, stateDir, log, registry: defaultRegistry(), clock: scheduleClock ?? clock, now: scheduleClock ? () => scheduleClock.now() : now, region, accountId, kms, kmsKeyId, gracePeriodMs, ...(config.lookbackSeconds === undefined ? {} : { lookbackSeconds: config.lookbackSeconds }), ...(config.apiReserve === undefined ? {} : { apiReserve: config.apiReserve }), ...(databaseUrl === undefined ? {} : { databaseUrl }), ...(config.runFlows === undefined ? {} : { runFlows: config.runFlows }), ...(config.runLeaseSeconds === undefined ? {} : { runLeaseMs: config.runLeaseSeconds * 1000 }), onClose: (hook) => void hooks.push(hook) };
    const operations = await (operationsOption ?? composeOperations)(deps);
    const idempotency = await SqlIdempotencyStore.open(db);
    const signIn = config.signIn === undefined ? undefined : await SignInService.open({ config: config.signIn, db, kms, kmsKeyId, accountId, log: log.child({ component: 'signin' }), now: () => now().getTime() });
    const cognito = config.cognito === undefined ? undefined : new CognitoAuthenticator(config.cognito, accountId, () => now().getTime());
    // Bearer tokens: ours (sign in with Salesforce) and, when configured, a Cognito pool's; the token's issuer picks.
    const bearer = cognito === undefined ? signIn : {
      authenticate: (token: string) => new BearerRouter([...(signIn ? [signIn] : []), cognito]).authenticate(token),
      register: (server: FastifyInstance) => signIn?.register(server),
      publicPaths: signIn?.publicPaths ?? [],
    };
    app = buildApiApp({ operations, keys, idempotency, region, accountId, log, now, host, allowHosts: config.allowHosts ?? [], allowOrigins: config.allowOrigins ?? [], ...(bearer ? { signIn: bearer } : {}), console: consoleAssets(config.signIn) });
    try {
      await app.listen({ port: config.port ?? 0, host });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      const why = code === 'EADDRINUSE' ? 'another program uses that port' : code === 'EADDRNOTAVAIL' ? 'this machine has no such address' : code === 'EACCES' ? 'not allowed to use that port' : (error as Error).message;
      throw new ForceflowError('CONFIG_INVALID', `The service cannot listen on ${host}:${config.port ?? 0} (${code}: ${why}). Choose another --port (0 picks a free one) or --host.`, { cause: error });
    }
    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : config.port ?? 0;
    const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
    const endpoint = `http://${urlHost}:${port}`;
    signIn?.setEndpoint(endpoint);
    log.info({ endpoint, region, stateDir, database: databaseUrl === undefined ? 'sqlite' : redactDatabaseUrl(databaseUrl), accessKeyId: defaultKey.accessKeyId, operations: operations.length }, 'AppFlow API listening');
    let closing: Promise<void> | undefined;
    const running: RunningService = {
      endpoint,
      region,
      accountId,
      stateDir,
      accessKeyId: defaultKey.accessKeyId,
      secretAccessKey: defaultKey.secretAccessKey,
      env: { AWS_ENDPOINT_URL_APPFLOW: endpoint, AWS_REGION: region, AWS_DEFAULT_REGION: region, AWS_ACCESS_KEY_ID: defaultKey.accessKeyId, AWS_SECRET_ACCESS_KEY: defaultKey.secretAccessKey },
      app,
      keys,
      ...(signIn ? { signIn } : {}),
      onClose: (hook) => void hooks.push(hook),
      close: () => (closing ??= cleanup().then(() => log.info('Service stopped'))),
    };
    return running;
  } catch (error) {
    await cleanup().catch(() => undefined);
    throw error;
  }
}
