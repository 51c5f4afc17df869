import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ServiceDatabase } from './db.ts';

/** How long a clientToken is remembered (AppFlow: "The token is active for 8 hours"). */
export const CLIENT_TOKEN_TTL_MS = 8 * 60 * 60 * 1000;

/** The first answer to a request with a clientToken: the hash of its input and its response as sent. */
export interface RememberedCall {
  readonly requestHash: string;
  /** The response body as serialised (JSON text). */
  readonly response: string;
  readonly expiresAt: Date;
}

/** Where the protocol layer remembers clientTokens (see buildApiApp). */
export interface IdempotencyStore {
  get(operation: string, clientToken: string, now: Date): Promise<RememberedCall | undefined>;
  put(operation: string, clientToken: string, call: RememberedCall, now: Date): Promise<void>;
}

interface ClientTokenTable {
  operation: string;
  client_token: string;
  request_hash: string;
  response: string;
  expires_at: string;
}

type Db = Kysely<ServiceDatabase & { client_tokens: ClientTokenTable }>;

/** JSON with object keys sorted at every level, so equal inputs hash equally whatever their key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** SHA-256 of a request's input without its clientToken. */
export function requestHash(input: Record<string, unknown>): string {
  const { clientToken: _token, ...rest } = input;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

/** clientTokens in the service database (`client_tokens`, created by src/service/migrations/), expired rows swept on write. */
export class SqlIdempotencyStore implements IdempotencyStore {
  private constructor(private readonly db: Db) {}

  static async open(db: Kysely<ServiceDatabase>): Promise<SqlIdempotencyStore> {
    const own = db.withTables<{ client_tokens: ClientTokenTable }>();
    return new SqlIdempotencyStore(own);
  }

  async get(operation: string, clientToken: string, now: Date): Promise<RememberedCall | undefined> {
    const row = await this.db
      .selectFrom('client_tokens')
      .selectAll()
      .where('operation', '=', operation)
      .where('client_token', '=', clientToken)
      .where('expires_at', '>', now.toISOString())
      .executeTakeFirst();
    return row ? { requestHash: row.request_hash, response: row.response, expiresAt: new Date(row.expires_at) } : undefined;
  }

  async put(operation: string, clientToken: string, call: RememberedCall, now: Date): Promise<void> {
    await this.db.deleteFrom('client_tokens').where('expires_at', '<=', now.toISOString()).execute();
    const row = { operation, client_token: clientToken, request_hash: call.requestHash, response: call.response, expires_at: call.expiresAt.toISOString() };
    await this.db
      .insertInto('client_tokens')
      .values(row)
      .onConflict((oc) => oc.columns(['operation', 'client_token']).doUpdateSet(row))
      .execute();
  }
}
