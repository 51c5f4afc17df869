import { isForceflowError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { RetryPolicy } from '../../core/retry.ts';
import { connectSalesforce } from '../../connectors/salesforce/connect.ts';
import type { SalesforceClient } from '../../connectors/salesforce/http.ts';
import type { ProfileContext } from '../../profiles/profiles.ts';
import { resolveProfile } from '../../profiles/resolve.ts';
import { ApiError } from '../api-error.ts';

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

/**
 * An engine error met while using a connector profile (exchanging or refreshing its token, reading its
 * secret, describing the org), as AppFlow answers it: Salesforce refusing the credentials is
 * ConnectorAuthenticationException, any other Salesforce failure ConnectorServerException, a profile or
 * secret that cannot work ValidationException. Engine messages name the profile and the fix and never a
 * credential (src/connectors/salesforce/oauth.ts redacts them), so they are passed on.
 */
export function connectorApiError(error: unknown): unknown {
  if (error instanceof ApiError || !isForceflowError(error)) return error;
  switch (error.code) {
    case 'SF_AUTH_FAILED':
    case 'SF_SESSION_INVALID':
    case 'DECRYPT_FAILED':
      return new ApiError('ConnectorAuthenticationException', `Error while authenticating to connector: ${error.message}`);
    case 'SF_API_ERROR':
    case 'SF_UNAVAILABLE':
    case 'SF_REQUEST_LIMIT_EXCEEDED':
    case 'SF_QUERY_INVALID':
      return new ApiError('ConnectorServerException', `Error while communicating to connector: ${error.message}`);
    case 'PROFILE_INVALID':
    case 'SECRET_INVALID':
    case 'SECRET_NOT_FOUND':
    case 'KMS_ERROR':
      return new ApiError('ValidationException', error.message);
    case 'PROFILE_NOT_FOUND':
      return new ApiError('ResourceNotFoundException', error.message);
    default:
      return error;
  }
}
