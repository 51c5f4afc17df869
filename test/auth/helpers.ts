import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { RunningEmulator } from '../../src/emulator/index.ts';

/** The callback every test app registers (the authorize page redirects there; nothing listens). */
export const CALLBACK = 'http://localhost:1717/callback';

export interface TestApp {
  readonly clientId: string;
  readonly clientSecret: string;
}

/** A control-endpoint call; fails the test on a status other than `expected`. */
export async function control(emu: RunningEmulator, method: string, path: string, body?: unknown, expected = 200): Promise<Record<string, unknown>> {
  const res = await fetch(`${emu.controlUrl}${path}`, { method, headers: emu.controlHeaders, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const json = (await res.json()) as Record<string, unknown>;
  expect(res.status, JSON.stringify(json)).toBe(expected);
  return json;
}

/** Register a connected app on the emulator over HTTP. */
export async function registerApp(emu: RunningEmulator, body: Record<string, unknown> = {}): Promise<TestApp> {
  const app = await control(emu, 'POST', '/connected-apps', { redirectUris: [CALLBACK], ...body }, 201);
  return { clientId: String(app['clientId']), clientSecret: String(app['clientSecret']) };
}

function decodeEntities(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|#39);/g, (_m, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e] ?? '');
}

function formFields(html: string, extra: Record<string, string>): URLSearchParams {
  const form = /<form method="post" action="([^"]+)">([\s\S]*?)<\/form>/.exec(html);
  const fields = new URLSearchParams();
  for (const m of (form?.[2] ?? '').matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields.set(m[1] ?? '', decodeEntities(m[2] ?? ''));
  for (const [k, v] of Object.entries(extra)) fields.set(k, v);
  return fields;
}

export interface SignInAnswer {
  readonly access_token: string;
  readonly refresh_token?: string;
  readonly id_token?: string;
  readonly id: string;
  readonly instance_url: string;
}

/**
 * Sign in as a browser app would: the emulator's authorize page (log in, approve), then the
 * authorization code with PKCE, for `app` and `scope`.
 */
export async function signIn(emu: RunningEmulator, app: TestApp, options: { scope?: string; nonce?: string; username?: string } = {}): Promise<SignInAnswer> {
  const verifier = randomBytes(48).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: app.clientId,
    redirect_uri: CALLBACK,
    scope: options.scope ?? 'openid api refresh_token',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...(options.nonce === undefined ? {} : { nonce: options.nonce }),
  });
  const post = (fields: URLSearchParams): Promise<Response> =>
    fetch(`${emu.loginUrl}/services/oauth2/authorize`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(emu.loginUrl).origin },
      body: fields.toString(),
      redirect: 'manual',
    });
  const page = await fetch(`${emu.loginUrl}/services/oauth2/authorize?${query.toString()}`, { redirect: 'manual' });
  expect(page.status).toBe(200);
  let final = await post(formFields(await page.text(), { username: options.username ?? emu.username, pw: emu.password }));
  if (final.status === 200) final = await post(formFields(await final.text(), { decision: 'allow' }));
  expect(final.status).toBe(302);
  const code = new URL(final.headers.get('location') ?? '').searchParams.get('code') ?? '';
  const res = await fetch(`${emu.loginUrl}/services/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, client_id: app.clientId, redirect_uri: CALLBACK, code_verifier: verifier }).toString(),
  });
  const body = (await res.json()) as SignInAnswer;
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body;
}

/** The call counts of the emulator (`GET /__emulator/calls`), by "METHOD /route". */
export async function calls(emu: RunningEmulator): Promise<Record<string, number>> {
  return (await control(emu, 'GET', '/calls'))['calls'] as Record<string, number>;
}
