/**
 * The one error catalogue of forceflow.
 *
 * Every error the engine throws is a {@link ForceflowError} whose `code` is a key of {@link ERRORS}
 * and whose `kind` says how to recover (after the Singer SDK's grouping):
 * - `config`: the input (flow, profile, file, option) is wrong; fix it and run again.
 * - `auth`: credentials are missing, expired or refused; re-authorise.
 * - `retryable`: a transient failure (429, 5xx, network); running again later may succeed.
 * - `fatal`: anything else; running again unchanged will fail the same way.
 *
 * Code branches on `code` or `kind`, never on message text. Per-record failures are not errors:
 * they are returned as data by the writers.
 * docs/errors.md documents every code (a test keeps the two in step).
 */
export type ErrorKind = 'config' | 'auth' | 'retryable' | 'fatal';

interface CatalogueEntry {
  readonly kind: ErrorKind;
  /** One line on what the code means, used by docs/errors.md. */
  readonly summary: string;
}

export const ERRORS = {
  // Input and configuration
  CONFIG_INVALID: { kind: 'config', summary: 'An option or configuration value is invalid (a wrong command-line option included).' },
  FLOW_INVALID: { kind: 'config', summary: 'A flow definition failed validation; the message names the JSON path.' },
  PROFILE_INVALID: { kind: 'config', summary: 'A connector profile failed validation; the message names the JSON path.' },
  PROFILE_NOT_FOUND: { kind: 'config', summary: 'No connector profile has the given name.' },
  PROFILE_EXISTS: { kind: 'config', summary: 'A connector profile of that name already exists: delete it first, or replace it (--replace; UpdateConnectorProfile in the API).' },
  INPUT_INVALID: { kind: 'config', summary: 'An input file (CSV, JSON lines, Parquet) is malformed, is not UTF-8, or has a line or record past its ceiling (--max-line-bytes, --max-record-bytes); the message names the file and line.' },
  FILTER_VALUE_INVALID: { kind: 'config', summary: 'A filter value cannot be used with its field type.' },
  FIELD_NOT_FOUND: { kind: 'config', summary: 'A flow names a field the object does not have.' },
  OBJECT_NOT_FOUND: { kind: 'config', summary: 'A flow names an object the org does not have.' },
  FILE_NOT_FOUND: { kind: 'config', summary: 'A file, folder or S3 bucket named by a flow or option does not exist.' },
  RUN_NOT_FOUND: { kind: 'config', summary: 'No run with that executionId, or no run history for that flow, in the local state folder.' },
  // Salesforce
  SF_AUTH_FAILED: { kind: 'auth', summary: 'Salesforce refused the OAuth grant (bad client, expired or revoked token, rejected JWT).' },
  SF_SESSION_INVALID: { kind: 'auth', summary: 'The Salesforce session is invalid and could not be refreshed.' },
  SF_REQUEST_LIMIT_EXCEEDED: { kind: 'retryable', summary: "The org's daily API request limit is spent; running again once it resets (a rolling 24 hours) succeeds, or raise it." },
  API_BUDGET_RESERVE: { kind: 'retryable', summary: "Refused before any record moved: the run's estimated API cost would take the org below its API reserve (--api-reserve, the profile's apiReserve); the message names the limit, the remaining figure, the estimate and the reserve." },
  API_BUDGET_RESERVE_REACHED: { kind: 'retryable', summary: "The org's remaining daily API requests fell below the reserve part-way through the run (Sforce-Limit-Info); the run stopped and delivered nothing (a flow may opt in to an early stop that keeps what was read instead)." },
  SF_QUERY_INVALID: { kind: 'config', summary: 'Salesforce rejected the SOQL query (unknown field or object, malformed query).' },
  SF_API_ERROR: { kind: 'fatal', summary: 'Salesforce answered a call with an error that is not retryable.' },
  SF_UNAVAILABLE: { kind: 'retryable', summary: 'Salesforce kept answering 429/5xx or the network failed after all retries.' },
  SF_BULK_JOB_FAILED: { kind: 'fatal', summary: 'A Bulk API 2.0 query job ended Failed for a reason that is not temporary (or was Aborted by someone); the message carries Salesforce\'s errorMessage.' },
  SF_BULK_JOB_TIMEOUT: { kind: 'retryable', summary: 'A Bulk API 2.0 job did not finish before the deadline.' },
  SF_BULK_JOB_FAILED_TEMPORARY: { kind: 'retryable', summary: 'A Bulk API 2.0 query job kept ending Failed for a reason Salesforce gives as temporary ("please retry"), each time run again as a new job, until the retries ran out.' },
  SF_WRITE_OUTCOME_UNKNOWN: { kind: 'fatal', summary: 'Per-record code (error file, never thrown): a write was sent but its outcome could not be learned; the record may or may not exist.' },
  // Sign-in (token exchange, service tokens)
  TOKEN_REFUSED: { kind: 'auth', summary: 'A token presented to sign in or to the control API was refused (bad signature, audience, issuer, expiry, replay, inactive user...). The message never says which check failed; the reason is logged apart.' },
  COGNITO_UNAVAILABLE: { kind: 'retryable', summary: 'The signing keys (JWKS) of the configured Amazon Cognito user pool could not be fetched to check a Bearer token; try again later.' },
  // AWS and local state
  S3_ERROR: { kind: 'retryable', summary: 'An S3 call failed after retries.' },
  S3_ACCESS_DENIED: { kind: 'auth', summary: 'S3 refused access to the bucket or key.' },
  KMS_ERROR: { kind: 'auth', summary: 'KMS refused to generate or decrypt a data key (absent or disabled key, wrong context).' },
  SECRET_NOT_FOUND: { kind: 'config', summary: 'A Secrets Manager secret named by a profile does not exist.' },
  SECRET_INVALID: { kind: 'config', summary: 'A Secrets Manager secret lacks the expected keys.' },
  DECRYPT_FAILED: { kind: 'auth', summary: 'A stored credential failed to decrypt (tampered, copied from another profile, or wrong key).' },
  STATE_ERROR: { kind: 'fatal', summary: 'The local state database could not be opened or written.' },
  // Runs
  RUN_CANCELED: { kind: 'fatal', summary: 'The run was cancelled (signal or Ctrl-C).' },
  RUN_SIZE_LIMIT: { kind: 'fatal', summary: 'The run moved more bytes than its size guard allows.' },
  RECORD_VALIDATION_FAILED: { kind: 'fatal', summary: 'A Validate task whose action terminates the flow found a record that fails its check; the message names the record and field.' },
  DESTINATION_WRITE_FAILED: { kind: 'fatal', summary: 'A record failed to write and the flow fails on the first destination error.' },
  JOURNAL_INPUT_CHANGED: { kind: 'config', summary: 'A Salesforce write of this flow did not finish (crash, kill), and its input or destination changed since, so it cannot be recovered; check what it wrote, then discard its journal with `forceflow recover --discard <executionId>`.' },
  FLOW_LOCKED: { kind: 'retryable', summary: 'Another run of the same flow holds its lock (never two runs of one flow at once); the message names it.' },
  WORKER_LOST: { kind: 'retryable', summary: 'Recorded on a run whose worker (forceflow worker) stopped renewing its lease mid-run (killed, machine gone); the run is not re-run blindly.' },
  RUN_INTERRUPTED: { kind: 'retryable', summary: 'Recorded on a run whose process ended without finishing (killed, crashed, ended by force); found and cleaned up by the next run or runs cleanup.' },
  SERVICE_STOPPING: { kind: 'retryable', summary: 'The service is stopping (SIGTERM, close()) and starts no new runs; start the flow again once it is back.' },
  APPFLOW_API_ERROR: { kind: 'fatal', summary: 'An AppFlow API (forceflow serve, or AWS) refused a call made by forceflow\'s own client (the demo); the message has the error type and the API\'s message.' },
  EMULATOR_ERROR: { kind: 'config', summary: 'The emulator could not start with the given options.' },
  INTERNAL: { kind: 'fatal', summary: 'A bug in forceflow; please report it with the log.' },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof ERRORS;

export interface ForceflowErrorOptions {
  readonly details?: Readonly<Record<string, unknown>>;
  readonly cause?: unknown;
}

export class ForceflowError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: ForceflowErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ForceflowError';
    this.code = code;
    this.kind = ERRORS[code].kind;
    this.details = options.details ?? {};
  }

  /** A plain object for logs and run records; never includes the cause's stack. */
  toJSON(): { code: ErrorCode; kind: ErrorKind; message: string; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, kind: this.kind, message: this.message, details: this.details };
  }
}

export function isForceflowError(error: unknown, code?: ErrorCode): error is ForceflowError {
  return error instanceof ForceflowError && (code === undefined || error.code === code);
}

/** Wrap anything thrown into a ForceflowError, keeping catalogued ones as they are. */
export function toForceflowError(error: unknown, fallback: ErrorCode = 'INTERNAL'): ForceflowError {
  if (error instanceof ForceflowError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ForceflowError(fallback, message, { cause: error });
}

/** Process exit codes of the CLI, by error kind (documented in README). */
export const EXIT_CODES = { ok: 0, fatal: 1, config: 2, auth: 3, retryable: 4, canceled: 130 } as const;

export function exitCodeFor(error: ForceflowError): number {
  if (error.code === 'RUN_CANCELED') return EXIT_CODES.canceled;
  return EXIT_CODES[error.kind];
}
