import { ForceflowError } from '../../core/errors.ts';
import { silentLogger, type Logger } from '../../core/logger.ts';
import { formatZodIssues } from '../../core/zod.ts';
import { createTokenProvider, type TokenProvider } from './auth.ts';
import { DEFAULT_API_VERSION, SalesforceConnectorProfileSchema, type SalesforceConnectorProfile } from './config.ts';
import { SalesforceClient, type RetryPolicy } from './http.ts';
import type { ApiBudget } from './budget.ts';
import { createSalesforceSource, type SalesforceSourceOptions } from './source.ts';

export interface ConnectOptions {
  readonly log?: Logger;
  readonly signal?: AbortSignal;
  readonly retry?: RetryPolicy;
  /** Overrides the profile's API version. */
  readonly apiVersion?: string;
  /** A token provider to use instead of the profile's inline credentials (profiles store, Secrets Manager). */
  readonly tokens?: TokenProvider;
  readonly source?: SalesforceSourceOptions;
  /** The org's API budget for the run, given the parsed profile (budget.ts); the client reports to it. */
  readonly budget?: (profile: SalesforceConnectorProfile) => ApiBudget | undefined;
}

/** Parse a connector profile (AppFlow's CreateConnectorProfile JSON) at the boundary. */
export function parseSalesforceProfile(json: unknown, origin = 'profile'): SalesforceConnectorProfile {
  const parsed = SalesforceConnectorProfileSchema.safeParse(json);
  if (!parsed.success) {
    throw new ForceflowError('PROFILE_INVALID', `${origin} is not a valid Salesforce connector profile:\n  ${formatZodIssues(parsed.error).join('\n  ')}\nSee README "Connector profiles".`);
  }
  return parsed.data;
}

/**
 * Connect to Salesforce from a connector profile: a counted, retried HTTP client and a source.
 *
 * @example
 * const { source } = connectSalesforce(JSON.parse(readFileSync('profile.json', 'utf8')));
 * const stream = await source.open({ entity: 'Account', fields: ['Id', 'Name'] }, { log, signal, now: () => new Date() });
 * for await (const batch of stream.batches) for (const row of batch.rows) console.log(row);
 */
export function connectSalesforce(profileJson: unknown, options: ConnectOptions = {}): { client: SalesforceClient; source: ReturnType<typeof createSalesforceSource>; profile: SalesforceConnectorProfile } {
  const profile = parseSalesforceProfile(profileJson);
  const log = options.log ?? silentLogger();
  const props = profile.connectorProfileConfig.connectorProfileProperties.Salesforce;
  const credentials = profile.connectorProfileConfig.connectorProfileCredentials?.Salesforce ?? {};
  const tokens = options.tokens ?? createTokenProvider({ profileName: profile.connectorProfileName, properties: props, credentials }, log, options.signal ? { signal: options.signal } : {});
  const budget = options.budget?.(profile);
  const client = new SalesforceClient({
    ...(budget ? { budget } : {}),
    tokens,
    apiVersion: options.apiVersion ?? props.apiVersion ?? DEFAULT_API_VERSION,
    log: log.child({ connector: 'salesforce', profile: profile.connectorProfileName }),
    profileName: profile.connectorProfileName,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.retry ? { retry: options.retry } : {}),
  });
  return { client, source: createSalesforceSource(client, options.source), profile };
}
