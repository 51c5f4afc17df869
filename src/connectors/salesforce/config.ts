import { z } from 'zod';
import { apiReserveSchema } from './budget.ts';

/**
 * A Salesforce connector profile in AppFlow's CreateConnectorProfile JSON shape, with forceflow's local
 * extensions (marked). Credentials may be inline (local use) or, from the credentials issue on,
 * references to Secrets Manager; resolution sits behind {@link TokenProvider} in auth.ts.
 */
/** Loopback host names (plain http is allowed only to these: the emulator, a local proxy). */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/**
 * A Salesforce server URL: an origin only (`https://acme.my.salesforce.com`), https, or http to a loopback
 * host. A path, query or fragment would be glued in front of every API path (`/x/services/data/...`) and
 * answered 404 "object not found"; any other scheme is refused here rather than retried as a network error.
 */
function salesforceOrigin(field: string) {
  return z.string().max(256).superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: `${field} "${value}" is not a URL. Give the server's address, e.g. https://acme.my.salesforce.com.` });
      return;
    }
    const origin = `${url.protocol}//${url.host}`;
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
      ctx.addIssue({ code: 'custom', message: `${field} "${origin}" must use https (plain http only to a loopback host such as 127.0.0.1 or localhost, e.g. the emulator). Use https://${url.host || 'your-domain.my.salesforce.com'}.` });
    } else if (url.username !== '' || url.password !== '') {
      ctx.addIssue({ code: 'custom', message: `${field} must not carry a user name or password. Give only ${origin}; credentials go in connectorProfileCredentials.` });
    } else if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
      ctx.addIssue({ code: 'custom', message: `${field} must be the server's address only, without a path, query or fragment. Use "${origin}".` });
    }
  });
}

export const SalesforceProfilePropertiesSchema = z
  .object({
    instanceUrl: salesforceOrigin('instanceUrl').optional(),
    isSandboxEnvironment: z.boolean().optional(),
    usePrivateLinkForMetadataAndAuthorization: z.boolean().optional(),
    /** forceflow extension: the OAuth login host (the emulator's URL); default login/test.salesforce.com. */
    loginUrl: salesforceOrigin('loginUrl').optional(),
    /** forceflow extension: the REST API version to use (AppFlow pins it by connection date; default 58.0). */
    apiVersion: z.string().regex(/^\d{2}\.0$/, 'an API version such as "58.0"').optional(),
    /**
     * forceflow extension: the org's API reserve, what no run may take it below: a percentage of each daily
     * maximum ("20%") or a number of API requests (5000). `--api-reserve` wins over it (docs/salesforce-budget.md).
     */
    apiReserve: apiReserveSchema.optional(),
  })
  .strict();

export const SalesforceProfileCredentialsSchema = z
  .object({
    accessToken: z.string().max(4096).optional(),
    refreshToken: z.string().max(4096).optional(),
    oAuthRequest: z.object({ authCode: z.string().max(4096).optional(), redirectUri: z.string().max(512).optional() }).strict().optional(),
    clientCredentialsArn: z.string().optional(),
    oAuth2GrantType: z.enum(['AUTHORIZATION_CODE', 'JWT_BEARER', 'CLIENT_CREDENTIALS']).optional(),
    jwtToken: z.string().max(8000).optional(),
    /** forceflow extension (local use): the connected app's consumer key, instead of clientCredentialsArn. */
    clientId: z.string().optional(),
    /** forceflow extension (local use): the connected app's consumer secret. */
    clientSecret: z.string().optional(),
    /** forceflow extension: the user a self-signed JWT names (JWT_BEARER with a private key). */
    username: z.string().optional(),
    /** forceflow extension: a PEM private key from which the engine signs a fresh JWT per session. */
    privateKey: z.string().optional(),
  })
  .strict();

export const SalesforceConnectorProfileSchema = z
  .object({
    connectorProfileName: z.string().regex(/^[\w/!@#+=.-]+$/, 'letters, digits and _/!@#+=.- only').max(256),
    connectorType: z.literal('Salesforce'),
    connectionMode: z.enum(['Public', 'Private']).optional(),
    kmsArn: z.string().optional(),
    connectorLabel: z.string().optional(),
    clientToken: z.string().optional(),
    connectorProfileConfig: z
      .object({
        connectorProfileProperties: z.object({ Salesforce: SalesforceProfilePropertiesSchema }).strict(),
        connectorProfileCredentials: z.object({ Salesforce: SalesforceProfileCredentialsSchema }).strict().optional(),
      })
      .strict(),
  })
  .passthrough();

export type SalesforceConnectorProfile = z.infer<typeof SalesforceConnectorProfileSchema>;
export type SalesforceProfileProperties = z.infer<typeof SalesforceProfilePropertiesSchema>;
export type SalesforceProfileCredentials = z.infer<typeof SalesforceProfileCredentialsSchema>;

/** AppFlow's default API version for connections made since 2023-06-30. */
export const DEFAULT_API_VERSION = '58.0';

export function loginUrlOf(props: SalesforceProfileProperties): string {
  if (props.loginUrl) return props.loginUrl.replace(/\/+$/, '');
  return props.isSandboxEnvironment ? 'https://test.salesforce.com' : 'https://login.salesforce.com';
}
