import { jsonErrorPosition } from '../core/json-position.ts';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ForceflowError } from '../core/errors.ts';
import { policyProblem } from '../core/http-guard.ts';
import { formatZodIssues } from '../core/zod.ts';
import { cognitoConfigSchema, signInConfigSchema } from './signin/config.ts';
import { apiReserveSchema } from '../connectors/salesforce/budget.ts';

const accessKeySchema = z.strictObject({
  accessKeyId: z.string().regex(/^[A-Z0-9]{16,128}$/, 'an access key id is 16 to 128 upper-case letters and digits (forceflow generates FFLK followed by 16)'),
  secretAccessKey: z.string().min(16, 'a secret access key has at least 16 characters').max(128),
  name: z.string().regex(/^[\w+=,.@-]{1,64}$/, 'an IAM-style user name: 1 to 64 letters, digits and +=,.@_-'),
  readOnly: z.boolean().optional(),
});

/** service.json: every member optional; command-line options win over it. */
export const serviceConfigSchema = z.strictObject({
  port: z.number().int().min(0).max(65535).optional(),
  host: z.string().min(1).optional(),
  stateDir: z.string().min(1).optional(),
  // A PostgreSQL URL for the service's own state (docs/service.md, PostgreSQL storage); absent: service.db (SQLite).
  database: z.string().regex(/^postgres(ql)?:\/\//, 'a PostgreSQL URL such as postgres://postgres@127.0.0.1:5432/forceflow').optional(),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region name such as eu-west-1').optional(),
  accountId: z.string().regex(/^\d{12}$/, 'twelve digits').optional(),
  gracePeriodSeconds: z.number().min(0).max(86400).optional(),
  // The distributed mode (PostgreSQL; docs/service.md): run flows in this process too, this many at once (0: none, the default there).
  runFlows: z.number().int().min(0).max(64).optional(),
  // The distributed mode: a run's lease; a worker silent this long is lost (docs/service.md).
  runLeaseSeconds: z.number().min(1).max(3600).optional(),
  // The lookback of incremental flows without a forceflow:lookbackSeconds tag (docs/flows.md, Incremental runs).
  lookbackSeconds: z.number().int().min(0).max(36000).optional(),
  // The API reserve of Salesforce orgs whose connector profile sets none ("20%" or 5000; docs/salesforce-budget.md).
  apiReserve: apiReserveSchema.optional(),
  allowHosts: z.array(z.string()).optional(),
  allowOrigins: z.array(z.string()).optional(),
  keys: z.array(accessKeySchema).max(100).optional(),
  // Sign in with Salesforce: the token exchange endpoint and Bearer tokens (docs/signin.md).
  signIn: signInConfigSchema.optional(),
  // Bearer tokens of an Amazon Cognito user pool, groups mapped to roles (docs/signin.md, Amazon Cognito users).
  cognito: cognitoConfigSchema.optional(),
});

export type ServiceConfig = z.infer<typeof serviceConfigSchema>;

/** Parse a service configuration (from service.json or a library caller), once, with a clear error. */
export function parseServiceConfig(value: unknown, source = 'service configuration'): ServiceConfig {
  const parsed = serviceConfigSchema.safeParse(value);
  if (!parsed.success) {
    throw new ForceflowError('CONFIG_INVALID', `${source} is not valid: ${formatZodIssues(parsed.error).join('; ')}. See docs/service.md for its members.`);
  }
  const problem = policyProblem({ host: parsed.data.host ?? '127.0.0.1', allowHosts: parsed.data.allowHosts ?? [], allowOrigins: parsed.data.allowOrigins ?? [] });
  if (problem !== undefined) throw new ForceflowError('CONFIG_INVALID', `${source}: ${problem}`);
  return parsed.data;
}

export function loadServiceConfig(file: string): ServiceConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ForceflowError('FILE_NOT_FOUND', `Cannot read the service configuration ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'}). Give the path of a JSON file.`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // Say where, not what: V8's message quotes the text around the error, and service.json may hold secret keys.
    const { line, column } = jsonErrorPosition(text);
    throw new ForceflowError('CONFIG_INVALID', `${file} is not valid JSON at line ${line}, column ${column}. Fix the JSON there (the text is not shown: it may hold secret keys).`);
  }
  return parseServiceConfig(json, file);
}
