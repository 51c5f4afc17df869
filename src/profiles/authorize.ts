import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ForceflowError } from '../core/errors.ts';
import { loginUrlOf } from '../connectors/salesforce/config.ts';
import { requestToken, type TokenAnswer } from '../connectors/salesforce/oauth.ts';
import { describeProfile, openProfile, saveCredentials, type ProfileContext, type ProfileDescription } from './profiles.ts';
import { effectiveCredentials } from './resolve.ts';
import { canceled } from '../core/cancel.ts';

/** The callback URL forceflow listens on by default (register it on the connected app). */
export const DEFAULT_REDIRECT_URI = 'http://127.0.0.1:1717/OauthRedirect';
export const DEFAULT_AUTHORIZE_SCOPE = 'api refresh_token';

export interface AuthorizeOptions {
  /** Receives the authorize URL to open in a browser (the CLI opens it and prints it). */
  readonly onAuthorizeUrl: (url: string) => void | Promise<void>;
  /**
   * The connected app's callback URL, on a loopback host; port 0 picks a free port. Default: the
   * profile's oAuthRequest.redirectUri, else {@link DEFAULT_REDIRECT_URI}.
   */
  readonly redirectUri?: string;
  readonly scope?: string;
  /** How long to wait for the browser to come back (default 5 minutes). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface AuthorizeResult {
  readonly profile: ProfileDescription;
  readonly instanceUrl: string;
  readonly hasRefreshToken: boolean;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

function page(title: string, text: string): string {
  const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:480px;margin:80px auto;color:#181818}h1{font-size:20px}</style></head>
<body><h1>${esc(title)}</h1><p>${esc(text)}</p></body></html>`;
}

/**
 * `forceflow profiles authorize NAME`: the OAuth 2.0 web server flow with PKCE against the profile's
 * login host (production, sandbox, or the emulator's authorize page), a one-shot callback server on
 * the loopback interface, and the resulting tokens stored encrypted in the profile.
 */
export async function authorizeProfile(ctx: ProfileContext, name: string, options: AuthorizeOptions): Promise<AuthorizeResult> {
  const opened = await openProfile(ctx, name);
  const credentials = await effectiveCredentials(ctx, opened);
  const properties = opened.profile.connectorProfileConfig.connectorProfileProperties.Salesforce;
  if (!credentials.clientId) {
    throw new ForceflowError('PROFILE_INVALID', `Profile "${name}": authorizing needs the connected app's client id. Set clientCredentialsArn (a secret with clientId and clientSecret) or, for local use, clientId/clientSecret in the profile.`, { details: { profile: name } });
  }
  const requested = options.redirectUri ?? credentials.oAuthRequest?.redirectUri ?? DEFAULT_REDIRECT_URI;
  const wanted = URL.canParse(requested) ? new URL(requested) : undefined;
  if (!wanted || wanted.protocol !== 'http:' || !LOOPBACK.has(wanted.hostname)) {
    throw new ForceflowError('PROFILE_INVALID', `Profile "${name}": the callback URL ${requested} must be http:// on 127.0.0.1 or localhost, so that forceflow can receive it. Register such a callback URL on the connected app (default ${DEFAULT_REDIRECT_URI}).`, { details: { profile: name } });
  }
  const loginUrl = loginUrlOf(properties);
  const verifier = randomBytes(48).toString('base64url');
  const challenge = createHash('sha256').update(verifier, 'ascii').digest('base64url');
  const state = randomBytes(24).toString('base64url');
  const timeoutMs = options.timeoutMs ?? 5 * 60_000;

  let settle: { resolve: (code: string) => void; reject: (e: ForceflowError) => void } | undefined;
  const codeArrived = new Promise<string>((resolve, reject) => {
    settle = { resolve, reject };
  });
  let redirectUri = '';
  let finish: ((ok: boolean, text: string) => void) | undefined;
  const pageDone = new Map<string, (ok: boolean, text: string) => void>();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', redirectUri);
    if (req.method !== 'GET' || url.pathname !== wanted.pathname) {
      res.writeHead(404, { 'Content-Type': 'text/plain', Connection: 'close' });
      res.end('Not found');
      return;
    }
    if (url.searchParams.get('state') !== state) {
      res.writeHead(400, { 'Content-Type': 'text/html;charset=utf-8', Connection: 'close' });
      res.end(page('forceflow: unexpected callback', 'This callback does not belong to the authorization forceflow started. Close this window.'));
      return;
    }
    const error = url.searchParams.get('error');
    finish = (ok, text) => {
      res.writeHead(ok ? 200 : 400, { 'Content-Type': 'text/html;charset=utf-8', 'Cache-Control': 'no-store', Connection: 'close' });
      res.end(page(ok ? `forceflow: profile "${name}" authorized` : 'forceflow: authorization failed', text));
    };
    pageDone.set('current', finish);
    if (error !== null) {
      const description = url.searchParams.get('error_description') ?? '';
      settle?.reject(new ForceflowError('SF_AUTH_FAILED', `Salesforce refused to authorize profile "${name}": ${error}${description ? `: ${description}` : ''}. Run forceflow profiles authorize ${name} again and choose Allow; check the connected app's callback URL (${redirectUri}) and OAuth scopes.`, { details: { profile: name, oauthError: error } }));
      return;
    }
    const code = url.searchParams.get('code');
    if (code === null) {
      settle?.reject(new ForceflowError('SF_AUTH_FAILED', `Profile "${name}": the callback carried no authorization code. Run forceflow profiles authorize ${name} again.`, { details: { profile: name } }));
      return;
    }
    settle?.resolve(code);
  });
  const listenHost = wanted.hostname === '[::1]' ? '::1' : '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new ForceflowError('CONFIG_INVALID', `Profile "${name}": cannot listen for the OAuth callback on ${listenHost}:${wanted.port || 80} (${error.code ?? error.message}). Free the port or pass another --redirect-uri registered on the connected app.`, { cause: error })),
    );
    server.listen(Number(wanted.port || 80), listenHost, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const callback = new URL(wanted.href);
  callback.port = String(port);
  redirectUri = callback.href;

  const timer = setTimeout(() => settle?.reject(new ForceflowError('SF_AUTH_FAILED', `Profile "${name}": no answer from the browser within ${Math.round(timeoutMs / 1000)} s. Run forceflow profiles authorize ${name} again and complete the login.`, { details: { profile: name } })), timeoutMs);
  const onAbort = (): void => settle?.reject(canceled(`Authorizing profile "${name}" was cancelled.`, { details: { profile: name } }));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const authorizeUrl = new URL(`${loginUrl}/services/oauth2/authorize`);
    authorizeUrl.search = new URLSearchParams({
      response_type: 'code',
      client_id: credentials.clientId,
      redirect_uri: redirectUri,
      scope: options.scope ?? DEFAULT_AUTHORIZE_SCOPE,
      state,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      prompt: 'login consent',
    }).toString();
    ctx.log.info({ profile: name, loginUrl, redirectUri }, 'waiting for the browser to authorize the profile');
    await options.onAuthorizeUrl(authorizeUrl.href);
    let code: string;
    try {
      code = await codeArrived;
    } catch (error) {
      pageDone.get('current')?.(false, (error as Error).message);
      throw error;
    }

    let token: TokenAnswer;
    try {
      token = await requestToken(
        loginUrl,
        { type: 'authorization_code', code, clientId: credentials.clientId, ...(credentials.clientSecret ? { clientSecret: credentials.clientSecret } : {}), redirectUri, codeVerifier: verifier },
        { profileName: name, log: ctx.log, ...(options.signal ? { signal: options.signal } : {}) },
      );
    } catch (error) {
      finish?.(false, 'Salesforce refused the authorization code; see the forceflow output.');
      throw error;
    }
    const stored = opened.credentials;
    // A refresh token kept in the clientCredentialsArn secret wins over the profile's at run time, so
    // the new one replaces it there (else runs would go on with the old, perhaps revoked, token).
    const arn = stored.clientCredentialsArn;
    const refreshInSecret = arn !== undefined && token.refreshToken !== undefined && typeof (await ctx.secrets.json(arn, name))['refreshToken'] === 'string';
    if (refreshInSecret && token.refreshToken !== undefined) {
      try {
        await ctx.secrets.update(arn, name, { refreshToken: token.refreshToken });
      } catch (error) {
        finish?.(false, 'The new refresh token could not be stored in its secret; see the forceflow output.');
        throw error;
      }
      ctx.log.info({ profile: name }, 'new refresh token stored in its secret');
    }
    const next = { ...stored, oAuth2GrantType: 'AUTHORIZATION_CODE' as const, accessToken: token.accessToken, ...(token.refreshToken && !refreshInSecret ? { refreshToken: token.refreshToken } : {}) };
    const instanceUrl = token.instanceUrl;
    await saveCredentials(ctx, opened, next, { ...properties, instanceUrl });
    if (!token.refreshToken) ctx.log.warn({ profile: name }, 'Salesforce returned no refresh token: add the refresh_token scope to the connected app, or runs will stop once the access token expires');
    ctx.log.info({ profile: name, instanceUrl }, 'profile authorized; tokens stored encrypted');
    finish?.(true, 'The tokens are stored encrypted. You can close this window.');
    return { profile: await describeProfile(ctx, name), instanceUrl, hasRefreshToken: token.refreshToken !== undefined };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    // Let the browser's page finish writing; sockets close after it (Connection: close).
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => server.closeAllConnections(), 2_000);
      server.close(() => {
        clearTimeout(force);
        resolve();
      });
      server.closeIdleConnections();
    });
  }
}
