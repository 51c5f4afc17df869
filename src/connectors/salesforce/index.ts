export { createSalesforceSource, type SalesforceSourceOptions, type SalesforceReadStats } from './source.ts';
export { SalesforceClient, DEFAULT_RETRY, type RetryPolicy } from './http.ts';
export { createTokenProvider, signJwtAssertion, type TokenProvider, type SalesforceSession, type ResolvedCredentials } from './auth.ts';
export { requestToken, type TokenGrant, type TokenAnswer, type TokenRequestOptions } from './oauth.ts';
export { SalesforceConnectorProfileSchema, DEFAULT_API_VERSION, type SalesforceConnectorProfile } from './config.ts';
export { describeObject, SfObject, type SfField } from './describe.ts';
export { buildSelect, buildCount, escapeSoqlString, soqlLiteral, filterCondition } from './soql.ts';
export { connectSalesforce, parseSalesforceProfile, type ConnectOptions } from './connect.ts';
export { createSalesforceDestination, resolveTarget, type SalesforceDestination, type SalesforceDestinationConfig, type SalesforceDestinationOptions, type SalesforceWriteResult } from './destination.ts';
