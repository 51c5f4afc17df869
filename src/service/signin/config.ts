import { z } from 'zod';
import { ROLES } from './roles.ts';

const bucket = z.strictObject({
  burst: z.number().int().min(1).max(100_000),
  perMinute: z.number().min(0).max(100_000),
});

/** service.json `signIn`: sign in with Salesforce (docs/signin.md). Absent: the API takes SigV4 only. */
export const signInConfigSchema = z.strictObject({
  /** The Salesforce hosts users sign in through (login, test, My Domain); keys come only from these. */
  issuers: z.array(z.union([z.string().min(1), z.strictObject({ issuer: z.string().min(1), jwksUri: z.string().min(1).optional() })])).min(1).max(20),
  /** The connected app's consumer key: the only audience accepted. */
  consumerKey: z.string().min(1).max(256),
  /** Access tokens are accepted (through Salesforce token introspection) only when this is given. */
  introspection: z.strictObject({ url: z.string().min(1), consumerSecret: z.string().min(1) }).optional(),
  /** Refuse id_tokens issued longer ago than this (default 300). */
  maxAgeSeconds: z.number().int().min(1).max(3600).optional(),
  /** The life of the service's tokens (default 900; never longer than the Salesforce token's). */
  tokenLifetimeSeconds: z.number().int().min(1).max(3600).optional(),
  /** Our tokens' `iss` (default the service's URL, http://127.0.0.1:<port>). */
  issuer: z.string().url().optional(),
  /** Our tokens' `aud` (default the issuer). */
  audience: z.string().min(1).optional(),
  /** Token buckets of the exchange endpoint (defaults: 20 then 10 a minute per address, 10 then 5 a minute per user). */
  rateLimit: z.strictObject({ perAddress: bucket.optional(), perUser: bucket.optional() }).optional(),
  /**
   * Refresh tokens for the console (issued when the exchange's `scope` includes `offline_access`): the absolute
   * life of a sign-in in seconds (default 28800, 8 hours; at most 30 days), or false to issue none.
   */
  refreshTokens: z.union([z.literal(false), z.strictObject({ lifetimeSeconds: z.number().int().min(60).max(30 * 86400).optional() })]).optional(),
});

export type SignInConfig = z.infer<typeof signInConfigSchema>;

/**
 * service.json `cognito`: Bearer tokens of an Amazon Cognito user pool are accepted too (docs/signin.md,
 * Amazon Cognito users). Independent of `signIn`: a deployment may have either or both.
 */
export const cognitoConfigSchema = z.strictObject({
  /** The pool, such as eu-west-1_AbCdEf123 (cognito-local: local_…). */
  userPoolId: z.string().regex(/^([a-z]{2}(-[a-z]+)+-\d|local)_[0-9A-Za-z]+$/, 'a user pool id such as eu-west-1_AbCdEf123'),
  /** Default: the region the pool id starts with. */
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region name such as eu-west-1').optional(),
  /** A local pool (cognito-local) or a proxy: tokens' `iss` is `<endpoint>/<userPoolId>` and the keys are fetched there. */
  endpoint: z.string().url('a URL such as http://127.0.0.1:9229').optional(),
  /** The app clients whose tokens are accepted. */
  appClientIds: z.array(z.string().min(1).max(128)).min(1, 'at least one app client id').max(50),
  /** Which tokens are accepted (default ["access"]). */
  tokenUse: z.array(z.enum(['access', 'id'])).min(1).max(2).optional(),
  /** Cognito group → role; a user in none of these groups is refused; in several, gets the highest role. */
  groups: z.record(z.string().min(1).max(128), z.enum(ROLES)).refine((g) => Object.keys(g).length > 0, 'at least one group mapped to a role (viewer, operator or admin)'),
});

export type CognitoConfig = z.infer<typeof cognitoConfigSchema>;
