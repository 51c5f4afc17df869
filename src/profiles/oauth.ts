import { ForceflowError } from '../core/errors.ts';

export interface CodeExchange {
  readonly code: string;
  readonly clientId: string;
  readonly clientSecret?: string;
  readonly redirectUri: string;
  readonly codeVerifier?: string;
}

export interface ExchangedTokens {
  readonly accessToken: string;
  readonly refreshToken?: string;
  readonly instanceUrl: string;
}

/** Exchange an authorization code at `<loginUrl>/services/oauth2/token`; errors name the profile and the fix. */
export async function exchangeAuthorizationCode(loginUrl: string, profileName: string, input: CodeExchange): Promise<ExchangedTokens> {
  const body = new URLSearchParams({ grant_type: 'authorization_code', code: input.code, client_id: input.clientId, redirect_uri: input.redirectUri });
  if (input.clientSecret) body.set('client_secret', input.clientSecret);
  if (input.codeVerifier) body.set('code_verifier', input.codeVerifier);
  let token: { access_token?: string; refresh_token?: string; instance_url?: string; error?: string; error_description?: string };
  try {
    const res = await fetch(`${loginUrl}/services/oauth2/token`, { method: 'POST', body, headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' } });
    token = (await res.json().catch(() => ({}))) as typeof token;
  } catch (error) {
    throw new ForceflowError('SF_UNAVAILABLE', `Profile "${profileName}": could not reach ${loginUrl} to exchange the authorization code: ${(error as Error).message}`, { cause: error });
  }
  if (!token.access_token || !token.instance_url) {
    throw new ForceflowError('SF_AUTH_FAILED', `Salesforce refused the authorization code for profile "${profileName}": ${token.error ?? 'error'}: ${token.error_description ?? 'no token in the answer'}. Codes are single-use and expire after 15 minutes; check the connected app's client id and secret and the callback URL ${input.redirectUri}, then run forceflow profiles authorize ${profileName}.`, {
      details: { profile: profileName, oauthError: token.error ?? 'unknown' },
    });
  }
  return { accessToken: token.access_token, ...(token.refresh_token ? { refreshToken: token.refresh_token } : {}), instanceUrl: token.instance_url.replace(/\/+$/, '') };
}
