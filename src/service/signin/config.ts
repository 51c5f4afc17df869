import { z } from 'zod';

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
});

export type SignInConfig = z.infer<typeof signInConfigSchema>;
