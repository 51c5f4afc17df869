import { z } from 'zod';
import { sfError } from '../errors.ts';
import { sendJson } from '../http.ts';
import type { OrgRouter } from '../context.ts';
import { handleAuthorize } from './authorize.ts';
import { handleIdentity, handleIntrospect, handleKeys, handleOpenIdConfiguration, handleRevoke, handleUserInfo } from './identity.ts';
import type { ConnectedApp } from './service.ts';
import { handleSoap } from './soap.ts';
import { handleToken } from './token.ts';

/** Body of `POST /__emulator/connected-apps`. */
export const ConnectedAppBody = z.strictObject({
  name: z.string().min(1).max(255).optional(),
  clientId: z.string().min(1).max(255).optional(),
  clientSecret: z.string().min(8).max(255).optional(),
  certificatePem: z.string().min(1).optional(),
  redirectUris: z.array(z.string().min(1)).max(100).optional(),
  scope: z.string().optional(),
  refreshTokenRotation: z.boolean().optional(),
  allowLocalhostRedirects: z.boolean().optional(),
  runAs: z.string().optional(),
  introspectAllTokens: z.boolean().optional(),
});

/** Body of `POST /__emulator/tokens/revoke`: one token, or every token of a user (optionally of one app). */
export const RevokeTokensBody = z.union([
  z.strictObject({ token: z.string().min(1) }),
  z.strictObject({ user: z.string().min(1), clientId: z.string().min(1).optional() }),
]);

function invalidBody(error: z.ZodError, hint: string): never {
  const issue = error.issues[0];
  throw sfError(400, 'INVALID_FIELD', `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}. ${hint}`);
}

/** A connected app as the control endpoint shows it. */
export function appJson(app: ConnectedApp): Record<string, unknown> {
  return {
    name: app.name,
    clientId: app.clientId,
    clientSecret: app.clientSecret,
    redirectUris: app.redirectUris,
    scope: app.scope ?? null,
    hasCertificate: app.certificatePem !== undefined,
    refreshTokenRotation: app.refreshTokenRotation === true,
    allowLocalhostRedirects: app.allowLocalhostRedirects === true,
    runAs: app.runAs ?? null,
    introspectAllTokens: app.introspectAllTokens === true,
  };
}

/** OAuth 2.0, OpenID Connect, identity and SOAP login routes, and connected-app registration. */
export function registerOAuthRoutes(router: OrgRouter): void {
  const oauth = { group: 'oauth', auth: false, countsAsApiCall: false } as const;
  router.add('POST', '/services/oauth2/token', oauth, (req, res, { org }) => handleToken(req, res, org));
  router.add(['GET', 'POST'], '/services/oauth2/authorize', oauth, (req, res, { org }) => handleAuthorize(req, res, org));
  router.add(['POST', 'GET'], '/services/oauth2/revoke', oauth, (req, res, { org }) => handleRevoke(req, res, org));
  router.add(['GET', 'POST'], '/services/oauth2/userinfo', oauth, (req, res, { org }) => handleUserInfo(req, res, org));
  router.add('POST', '/services/oauth2/introspect', oauth, (req, res, { org }) => handleIntrospect(req, res, org));
  router.add('GET', '/id/keys', oauth, (req, res, { org }) => handleKeys(req, res, org));
  router.add('GET', '/id/:orgId/:userId', oauth, (req, res, { org }) => handleIdentity(req, res, org));
  router.add('GET', '/.well-known/openid-configuration', oauth, (req, res, { org }) => handleOpenIdConfiguration(req, res, org));
  router.add('POST', '/services/Soap/u/:apiVersion', oauth, (req, res, { org }) => handleSoap(req, res, org));
  router.add('POST', '/services/Soap/u/:apiVersion/:orgId', oauth, (req, res, { org }) => handleSoap(req, res, org));

  const control = { group: 'control', auth: false, countsAsApiCall: false } as const;
  router.add('GET', '/__emulator/connected-apps', control, (_req, res, { org }) => sendJson(res, 200, org.auth.apps.map(appJson)));
  router.add('POST', '/__emulator/connected-apps', control, async (req, res, { org }) => {
    const parsed = ConnectedAppBody.safeParse(await req.json());
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw sfError(400, 'INVALID_FIELD', `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
    }
    let app: ConnectedApp;
    try {
      app = org.auth.registerApp(parsed.data);
    } catch (error) {
      throw sfError(400, 'INVALID_FIELD', (error as Error).message);
    }
    sendJson(res, 201, appJson(app));
  });

  // Users: deactivate and reactivate (the User record's IsActive follows when there is one).
  for (const [action, active] of [['deactivate', false], ['activate', true]] as const) {
    router.add('POST', `/__emulator/users/:user/${action}`, control, (req, res, { org }) => {
      const found = org.auth.anyUser(req.params['user'] ?? '');
      if (!found) throw sfError(404, 'NOT_FOUND', `No user with the username or id ${req.params['user'] ?? ''}.`);
      const { user } = found;
      const table = org.store.table('User');
      if (table?.get(user.userId)) {
        table.update(user.userId, { IsActive: active }, org.auth.defaultUser.userId);
        org.persistence.markDirty('User');
      }
      org.auth.setActive(user.userId, active);
      sendJson(res, 200, { userId: user.userId, username: user.username, active });
    });
  }

  // Salesforce rotates its id_token keys: a new kid signs; the old ones stay published unless dropOld.
  router.add('POST', '/__emulator/id-keys/rotate', control, async (req, res, { org }) => {
    const parsed = z.strictObject({ dropOld: z.boolean().optional() }).safeParse((await req.body()).length === 0 ? {} : await req.json());
    if (!parsed.success) invalidBody(parsed.error, 'Send {} or {"dropOld": true}.');
    sendJson(res, 200, org.auth.rotateSigningKey(parsed.data.dropOld === undefined ? {} : { dropOld: parsed.data.dropOld }));
  });

  // Revocation as an admin does it (Setup > Connected Apps OAuth Usage), or one token as /revoke does.
  router.add('POST', '/__emulator/tokens/revoke', control, async (req, res, { org }) => {
    const parsed = RevokeTokensBody.safeParse(await req.json());
    if (!parsed.success) invalidBody(parsed.error, 'Send {"token": "..."} or {"user": "<username or id>", "clientId"?: "..."}.');
    const body = parsed.data;
    if ('token' in body) {
      sendJson(res, 200, { revoked: org.auth.revoke(body.token) ? 1 : 0 });
      return;
    }
    const found = org.auth.anyUser(body.user);
    if (!found) throw sfError(404, 'NOT_FOUND', `No user with the username or id ${body.user}.`);
    sendJson(res, 200, { revoked: org.auth.revokeUserTokens(found.user.userId, body.clientId) });
  });
}
