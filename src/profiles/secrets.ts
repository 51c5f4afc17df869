import { GetSecretValueCommand, PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ForceflowError } from '../core/errors.ts';
import { awsReason } from './crypto.ts';

/** How long a fetched secret stays in memory (never on disk). */
export const SECRET_CACHE_MS = 60_000;

export interface SecretsReaderOptions {
  readonly ttlMs?: number;
  readonly clock?: () => number;
}

/**
 * Reads JSON secrets from Secrets Manager at run time, caching each one briefly in memory.
 * Values are never logged; errors name the secret's id and the profile, never its contents.
 */
export class SecretsReader {
  private readonly client: SecretsManagerClient;
  private readonly ttlMs: number;
  private readonly clock: () => number;
  private readonly cache = new Map<string, { expiresAt: number; value: Promise<Readonly<Record<string, unknown>>> }>();

  constructor(client: SecretsManagerClient, options: SecretsReaderOptions = {}) {
    this.client = client;
    this.ttlMs = options.ttlMs ?? SECRET_CACHE_MS;
    this.clock = options.clock ?? Date.now;
  }

  /** Forget every cached value. */
  clear(): void {
    this.cache.clear();
  }

  /** The secret's SecretString parsed as a JSON object. */
  json(secretId: string, profileName: string): Promise<Readonly<Record<string, unknown>>> {
    const now = this.clock();
    const hit = this.cache.get(secretId);
    if (hit && hit.expiresAt > now) return hit.value;
    const value = this.fetch(secretId, profileName);
    this.cache.set(secretId, { expiresAt: now + this.ttlMs, value });
    value.catch(() => this.cache.delete(secretId));
    return value;
  }

  /**
   * The secret's string values for `required` keys (all must be non-empty strings) and any `optional`
   * keys present. SECRET_INVALID names the missing keys, never the values.
   */
  async fields<R extends string, O extends string>(secretId: string, profileName: string, required: readonly R[], optional: readonly O[] = []): Promise<Record<R, string> & Partial<Record<O, string>>> {
    const json = await this.json(secretId, profileName);
    const missing = required.filter((k) => typeof json[k] !== 'string' || json[k] === '');
    if (missing.length > 0) {
      const present = Object.keys(json).sort();
      const absent = missing.filter((k) => !(k in json));
      const wrong = missing.filter((k) => k in json);
      const problems = [
        ...(absent.length > 0 ? [`lacks the key${absent.length > 1 ? 's' : ''} ${absent.join(', ')} (it has: ${present.length > 0 ? present.join(', ') : 'no keys'})`] : []),
        ...(wrong.length > 0 ? [`has ${wrong.join(', ')}, but not as a non-empty string`] : []),
      ];
      throw new ForceflowError('SECRET_INVALID', `Profile "${profileName}": secret ${secretId} ${problems.join('; and ')}. Store a JSON object with ${required.join(' and ')} as strings, e.g. aws secretsmanager put-secret-value --secret-id ${secretId} --secret-string file://app.json.`, {
        details: { profile: profileName, secretId, missingKeys: missing },
      });
    }
    const out: Record<string, string> = {};
    for (const k of [...required, ...optional]) {
      const v = json[k];
      if (typeof v === 'string' && v !== '') out[k] = v;
    }
    return out as Record<R, string> & Partial<Record<O, string>>;
  }

  /**
   * Set string keys in a JSON secret (a new version through PutSecretValue), keeping its other keys:
   * used to store a rotated refresh token where the profile keeps it. Reads the current value
   * uncached first, so that keys changed elsewhere are not overwritten with stale ones.
   */
  async update(secretId: string, profileName: string, patch: Readonly<Record<string, string>>): Promise<void> {
    this.cache.delete(secretId);
    const current = await this.fetch(secretId, profileName);
    const next = { ...current, ...patch };
    try {
      await this.client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify(next) }));
    } catch (error) {
      throw secretsError(profileName, secretId, error, 'write');
    }
    this.cache.set(secretId, { expiresAt: this.clock() + this.ttlMs, value: Promise.resolve(next) });
  }

  private async fetch(secretId: string, profileName: string): Promise<Readonly<Record<string, unknown>>> {
    let text: string | undefined;
    try {
      const out = await this.client.send(new GetSecretValueCommand({ SecretId: secretId }));
      text = out.SecretString ?? (out.SecretBinary ? Buffer.from(out.SecretBinary).toString('utf8') : undefined);
    } catch (error) {
      throw secretsError(profileName, secretId, error);
    }
    let parsed: unknown;
    try {
      parsed = text === undefined ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new ForceflowError('SECRET_INVALID', `Profile "${profileName}": secret ${secretId} is not a JSON object. Store its value as JSON, e.g. {"clientId":"...","clientSecret":"..."}.`, { details: { profile: profileName, secretId } });
    }
    return parsed as Record<string, unknown>;
  }
}

function secretsError(profileName: string, secretId: string, error: unknown, action: 'read' | 'write' = 'read'): ForceflowError {
  const name = (error as { name?: string }).name ?? 'Error';
  const details = { profile: profileName, secretId, awsError: name };
  if (action === 'write') {
    return new ForceflowError('SECRET_NOT_FOUND', `Profile "${profileName}": writing secret ${secretId} failed (${awsReason(error)}). Allow secretsmanager:PutSecretValue on it to the identity running forceflow (and kms:GenerateDataKey on its key), or keep the refresh token in the profile instead of the secret.`, { details, cause: error });
  }
  switch (name) {
    case 'ResourceNotFoundException':
      return new ForceflowError('SECRET_NOT_FOUND', `Profile "${profileName}": Secrets Manager has no secret ${secretId}. Create it (aws secretsmanager create-secret --name ... --secret-string '{"clientId":"...","clientSecret":"..."}') or correct the profile's clientCredentialsArn.`, { details, cause: error });
    case 'InvalidRequestException':
      return new ForceflowError('SECRET_NOT_FOUND', `Profile "${profileName}": secret ${secretId} is scheduled for deletion. Restore it (aws secretsmanager restore-secret --secret-id ${secretId}) or point clientCredentialsArn at another secret.`, { details, cause: error });
    case 'DecryptionFailure':
      return new ForceflowError('KMS_ERROR', `Profile "${profileName}": Secrets Manager cannot decrypt secret ${secretId} with its KMS key (disabled, deleted or not allowed). Enable the key or allow kms:Decrypt to the identity running forceflow.`, { details, cause: error });
    case 'AccessDeniedException':
      return new ForceflowError('SECRET_NOT_FOUND', `Profile "${profileName}": not allowed to read secret ${secretId}. Allow secretsmanager:GetSecretValue on it to the identity running forceflow (secret policy, see docs/profiles.md).`, { details, cause: error });
    default:
      return new ForceflowError('SECRET_NOT_FOUND', `Profile "${profileName}": reading secret ${secretId} failed (${awsReason(error)}). Check the AWS credentials, region and endpoint (AWS_REGION, AWS_ENDPOINT_URL_SECRETS_MANAGER).`, { details, cause: error });
  }
}
