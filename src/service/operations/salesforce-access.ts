import type { Logger } from '../../core/logger.ts';
import type { RetryPolicy } from '../../core/retry.ts';
import { connectSalesforce } from '../../connectors/salesforce/connect.ts';
import type { SalesforceClient } from '../../connectors/salesforce/http.ts';
import type { ProfileContext } from '../../profiles/profiles.ts';
import { resolveProfile } from '../../profiles/resolve.ts';

/**
 * Salesforce calls made while answering an API request retry briefly: the caller is waiting, and its
 * SDK retries on its own.
 */
export const API_CALL_RETRY: RetryPolicy = { retries: 2, baseDelayMs: 200, maxDelayMs: 2_000, maxRetryAfterMs: 5_000 };

/** AppFlow's connector profile ARN. */
export function connectorProfileArn(region: string, accountId: string, name: string): string {
  return `arn:aws:appflow:${region}:${accountId}:connectorprofile/${name}`;
}

/** A Salesforce client for a stored profile (decrypted credentials, refreshed tokens written back as for runs). */
export async function salesforceClientFor(profiles: ProfileContext, name: string, log: Logger, apiVersion?: string): Promise<SalesforceClient> {
  const { profile, tokens } = await resolveProfile({ ...profiles, log }, name);
  return connectSalesforce(profile, { tokens, log, retry: API_CALL_RETRY, ...(apiVersion === undefined ? {} : { apiVersion }) }).client;
}
