import { z } from 'zod';

/**
 * A Salesforce connector profile in AppFlow's CreateConnectorProfile JSON shape, with forceflow's local
 * extensions (marked). Credentials may be inline (local use) or, from the credentials issue on,
 * references to Secrets Manager; resolution sits behind {@link TokenProvider} in auth.ts.
 */
export const SalesforceProfilePropertiesSchema = z
  .object({
    instanceUrl: z.string().url().max(256).optional(),
    isSandboxEnvironment: z.boolean().optional(),
    usePrivateLinkForMetadataAndAuthorization: z.boolean().optional(),
    /** forceflow extension: the OAuth login host (the emulator's URL); default login/test.salesforce.com. */
    loginUrl: z.string().url().optional(),
    /** forceflow extension: the REST API version to use (AppFlow pins it by connection date; default 58.0). */
    apiVersion: z.string().regex(/^\d{2}\.0$/, 'an API version such as "58.0"').optional(),
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
