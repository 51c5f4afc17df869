import type { ServerResponse } from 'node:http';
import { sendText, type EmuRequest } from '../http.ts';
import type { Org } from '../context.ts';
import { escapeHtml, NO_STORE, oauthParams, param, redirect } from './params.ts';
import { scopeList, type ConnectedApp } from './service.ts';

/** The parameters of `/services/oauth2/authorize` that travel through the login and approval forms. */
const CARRIED = ['response_type', 'client_id', 'redirect_uri', 'state', 'scope', 'code_challenge', 'code_challenge_method', 'nonce', 'prompt', 'display'] as const;

interface AuthorizeRequest {
  readonly app: ConnectedApp;
  readonly redirectUri: string;
  readonly responseType: 'code' | 'token';
  readonly state: string | undefined;
  readonly scope: string;
  readonly codeChallenge: string | undefined;
  readonly codeChallengeMethod: 'S256' | 'plain' | undefined;
  readonly nonce: string | undefined;
  readonly prompt: string[];
  readonly params: URLSearchParams;
}

/** What a failed authorize request turns into: an error page (no trusted redirect) or a redirect with error. */
type Failure = { page: { error: string; description: string } } | { redirect: string };

const HTML = 'text/html;charset=UTF-8';

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;background:#f3f3f3;color:#181818;margin:0}
main{max-width:380px;margin:64px auto;background:#fff;border:1px solid #ddd;border-radius:6px;padding:28px}
h1{font-size:20px;margin:0 0 4px}p.sub{color:#555;margin:0 0 20px;font-size:14px}
label{display:block;font-size:13px;margin:12px 0 4px}input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:9px;border:1px solid #bbb;border-radius:4px;font-size:15px}
button{margin-top:18px;padding:10px 16px;border-radius:4px;border:1px solid #0b5cab;background:#0b5cab;color:#fff;font-size:15px;cursor:pointer}
button.secondary{background:#fff;color:#0b5cab;margin-right:8px}.error{background:#fdecea;border:1px solid #e0b4b4;color:#8c1c13;padding:8px;border-radius:4px;font-size:14px}
ul{font-size:14px;padding-left:20px}code{font-size:13px}
</style></head><body><main>
${body}
</main></body></html>`;
}

function hidden(params: URLSearchParams): string {
  return CARRIED.map((k) => {
    const v = params.get(k);
    return v === null ? '' : `<input type="hidden" name="${k}" value="${escapeHtml(v)}">`;
  }).join('');
}

function loginPage(req: AuthorizeRequest, error?: string, username?: string): string {
  return page(
    'Login | forceflow emulator',
    `<h1>Log in to the forceflow emulator</h1><p class="sub">to allow <strong>${escapeHtml(req.app.name)}</strong> access</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/services/oauth2/authorize">${hidden(req.params)}<input type="hidden" name="_step" value="login">
<label for="username">Username</label><input type="text" id="username" name="username" autocomplete="username" value="${escapeHtml(username ?? '')}" required autofocus>
<label for="password">Password</label><input type="password" id="password" name="pw" autocomplete="current-password" required>
<button type="submit" id="Login">Log In</button></form>`,
  );
}

function approvalPage(req: AuthorizeRequest, ticket: string, username: string): string {
  const scopes = scopeList(req.scope)
    .map((s) => `<li><code>${escapeHtml(s)}</code></li>`)
    .join('');
  return page(
    'Allow Access? | forceflow emulator',
    `<h1>Allow Access?</h1><p class="sub"><strong>${escapeHtml(req.app.name)}</strong> is asking to act as <strong>${escapeHtml(username)}</strong>:</p>
<ul>${scopes}</ul>
<form method="post" action="/services/oauth2/authorize">${hidden(req.params)}<input type="hidden" name="_step" value="approve"><input type="hidden" name="ticket" value="${escapeHtml(ticket)}">
<button type="submit" class="secondary" name="decision" value="deny" id="oaapprove_deny">Deny</button><button type="submit" name="decision" value="allow" id="oaapprove">Allow</button></form>`,
  );
}

function errorPage(error: string, description: string): string {
  return page(
    'Remote Access Error | forceflow emulator',
    `<h1>Remote Access Error</h1><p class="error" role="alert"><strong>error=${escapeHtml(error)}</strong><br>error_description=${escapeHtml(description)}</p>
<p class="sub">The request did not name a known connected app and an allowed callback URL, so the browser is not sent back.</p>`,
  );
}

/** Append OAuth response parameters to the callback: in the query for `code`, in the fragment for `token`. */
function callback(redirectUri: string, responseType: 'code' | 'token', values: Record<string, string | undefined>): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) if (v !== undefined) qs.set(k, v);
  if (responseType === 'token') return `${redirectUri}#${qs.toString()}`;
  return `${redirectUri}${redirectUri.includes('?') ? '&' : '?'}${qs.toString()}`;
}

/** Validate an authorize request (from the query string or from one of our forms). */
function parseAuthorize(org: Org, params: URLSearchParams): AuthorizeRequest | Failure {
  const clientId = param(params, 'client_id');
  const app = clientId === undefined ? undefined : org.auth.app(clientId);
  if (!app) return { page: { error: 'invalid_client_id', description: 'client identifier invalid' } };
  const redirectUri = param(params, 'redirect_uri');
  if (redirectUri === undefined || !org.auth.redirectAllowed(app, redirectUri)) {
    return { page: { error: 'redirect_uri_mismatch', description: 'redirect_uri must match configuration' } };
  }
  const state = param(params, 'state');
  const rawType = param(params, 'response_type');
  const responseType = rawType === 'code' || rawType === 'token' ? rawType : undefined;
  const fail = (error: string, description: string): Failure => ({
    redirect: callback(redirectUri, responseType ?? 'code', { error, error_description: description, state }),
  });
  if (!responseType) return fail('unsupported_response_type', 'response type not supported');
  const allowed = org.auth.appScopes(app);
  const requested = scopeList(param(params, 'scope'));
  if (requested.some((s) => !allowed.includes(s))) return fail('invalid_scope', 'the requested scope is not allowed');
  const codeChallenge = param(params, 'code_challenge');
  const method = param(params, 'code_challenge_method');
  if (method !== undefined && method !== 'S256' && method !== 'plain') return fail('invalid_request', 'invalid code_challenge_method');
  if (codeChallenge !== undefined && !/^[A-Za-z0-9._~-]{43,1024}$/.test(codeChallenge)) return fail('invalid_request', 'invalid code_challenge');
  const nonce = param(params, 'nonce');
  return {
    app,
    redirectUri,
    responseType,
    state,
    scope: (requested.length > 0 ? requested : allowed).join(' '),
    codeChallenge,
    // Salesforce hashes with SHA-256 when no method is named (RFC 7636 would assume plain).
    codeChallengeMethod: codeChallenge === undefined ? undefined : method === 'plain' ? 'plain' : 'S256',
    nonce,
    prompt: scopeList(param(params, 'prompt')),
    params,
  };
}

/** The callback URL carrying a code (or, for response_type=token, the tokens). */
function grantRedirect(org: Org, req: AuthorizeRequest, userId: string): string {
  if (req.responseType === 'code') {
    const code = org.auth.createCode({
      clientId: req.app.clientId,
      redirectUri: req.redirectUri,
      userId,
      scope: req.scope,
      ...(req.codeChallenge === undefined ? {} : { codeChallenge: req.codeChallenge }),
      ...(req.codeChallengeMethod === undefined ? {} : { codeChallengeMethod: req.codeChallengeMethod }),
      ...(req.nonce === undefined ? {} : { nonce: req.nonce }),
    });
    return callback(req.redirectUri, 'code', { code, state: req.state });
  }
  const user = org.auth.user(userId) ?? org.auth.defaultUser;
  const { session } = org.auth.issue(user, req.app.clientId, { scope: scopeList(req.scope).filter((s) => s !== 'refresh_token' && s !== 'offline_access').join(' ') });
  const id = org.auth.identityUrl(user.userId);
  const issuedAt = String(session.issuedAt);
  return callback(req.redirectUri, 'token', {
    access_token: session.accessToken,
    signature: org.auth.signature(req.app, id, issuedAt),
    scope: session.scope,
    ...(scopeList(session.scope).includes('openid') ? { id_token: org.auth.idToken(session, req.nonce === undefined ? {} : { nonce: req.nonce }) } : {}),
    instance_url: org.baseUrl,
    id,
    token_type: 'Bearer',
    issued_at: issuedAt,
    state: req.state,
  });
}

function sendPage(res: ServerResponse, status: number, html: string): void {
  sendText(res, status, HTML, html, { ...NO_STORE, 'X-Frame-Options': 'DENY' });
}

/** `GET|POST /services/oauth2/authorize`: login page, approval page, then a 302 to the callback. */
export async function handleAuthorize(req: EmuRequest, res: ServerResponse, org: Org): Promise<void> {
  const params = await oauthParams(req);
  const parsed = parseAuthorize(org, params);
  if ('page' in parsed) {
    sendPage(res, 400, errorPage(parsed.page.error, parsed.page.description));
    return;
  }
  if ('redirect' in parsed) {
    redirect(res, parsed.redirect);
    return;
  }
  const step = req.method === 'POST' ? param(params, '_step') : undefined;
  if (step === undefined) {
    if (parsed.prompt.includes('none')) {
      // No browser session is kept, so a silent authorization can never succeed.
      redirect(res, callback(parsed.redirectUri, parsed.responseType, { error: 'login_required', error_description: 'user is not logged in', state: parsed.state }));
      return;
    }
    sendPage(res, 200, loginPage(parsed, undefined, param(params, 'login_hint')));
    return;
  }
  if (step === 'login') {
    const username = param(params, 'username') ?? '';
    const user = org.auth.checkPassword(username, param(params, 'pw') ?? param(params, 'password') ?? '');
    if (!user) {
      sendPage(res, 200, loginPage(parsed, 'Please check your username and password. If you still can\u2019t log in, contact your Salesforce administrator.', username));
      return;
    }
    if (org.auth.hasApproved(parsed.app.clientId, user.userId) && !parsed.prompt.includes('consent')) {
      redirect(res, grantRedirect(org, parsed, user.userId));
      return;
    }
    sendPage(res, 200, approvalPage(parsed, org.auth.createTicket(user.userId, parsed.app.clientId), user.username));
    return;
  }
  if (step === 'approve') {
    const userId = org.auth.consumeTicket(param(params, 'ticket') ?? '', parsed.app.clientId);
    if (userId === undefined) {
      sendPage(res, 200, loginPage(parsed, 'Your session has expired. Please log in again.'));
      return;
    }
    if (param(params, 'decision') !== 'allow') {
      redirect(res, callback(parsed.redirectUri, parsed.responseType, { error: 'access_denied', error_description: 'end-user denied authorization', state: parsed.state }));
      return;
    }
    org.auth.approve(parsed.app.clientId, userId);
    redirect(res, grantRedirect(org, parsed, userId));
    return;
  }
  sendPage(res, 200, loginPage(parsed));
}
