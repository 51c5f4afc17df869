import type { ErrorCode } from '../../core/errors.ts';
import { isForceflowError } from '../../core/errors.ts';
import { ApiError, type ApiErrorName } from '../api-error.ts';

/**
 * Which AppFlow error answers each engine error code. A `Record` over every code, so a new code in
 * src/core/errors.ts does not compile until it is given its API error here (docs/service.md lists them).
 */
export const API_ERROR_FOR_CODE: Readonly<Record<ErrorCode, ApiErrorName>> = {
  CONFIG_INVALID: 'ValidationException',
  FLOW_INVALID: 'ValidationException',
  PROFILE_INVALID: 'ValidationException',
  PROFILE_NOT_FOUND: 'ResourceNotFoundException',
  PROFILE_EXISTS: 'ConflictException',
  INPUT_INVALID: 'ValidationException',
  FILTER_VALUE_INVALID: 'ValidationException',
  FIELD_NOT_FOUND: 'ValidationException',
  OBJECT_NOT_FOUND: 'ValidationException',
  FILE_NOT_FOUND: 'ValidationException',
  RUN_NOT_FOUND: 'ResourceNotFoundException',
  SF_AUTH_FAILED: 'ConnectorAuthenticationException',
  SF_SESSION_INVALID: 'ConnectorAuthenticationException',
  SF_REQUEST_LIMIT_EXCEEDED: 'ConnectorServerException',
  API_BUDGET_RESERVE: 'ServiceQuotaExceededException',
  API_BUDGET_RESERVE_REACHED: 'ServiceQuotaExceededException',
  SF_QUERY_INVALID: 'ConnectorServerException',
  SF_API_ERROR: 'ConnectorServerException',
  SF_UNAVAILABLE: 'ConnectorServerException',
  SF_BULK_JOB_FAILED: 'ConnectorServerException',
  SF_BULK_JOB_TIMEOUT: 'ConnectorServerException',
  SF_BULK_JOB_FAILED_TEMPORARY: 'ConnectorServerException',
  SF_WRITE_OUTCOME_UNKNOWN: 'ConnectorServerException',
  TOKEN_REFUSED: 'UnrecognizedClientException',
  COGNITO_UNAVAILABLE: 'InternalServerException',
  S3_ERROR: 'ConnectorServerException',
  S3_ACCESS_DENIED: 'AccessDeniedException',
  KMS_ERROR: 'ValidationException',
  SECRET_NOT_FOUND: 'ValidationException',
  SECRET_INVALID: 'ValidationException',
  DECRYPT_FAILED: 'ConnectorAuthenticationException',
  STATE_ERROR: 'InternalServerException',
  RUN_CANCELED: 'ConflictException',
  RUN_SIZE_LIMIT: 'ServiceQuotaExceededException',
  RECORD_VALIDATION_FAILED: 'ConnectorServerException',
  DESTINATION_WRITE_FAILED: 'ConnectorServerException',
  JOURNAL_INPUT_CHANGED: 'ConflictException',
  FLOW_LOCKED: 'ConflictException',
  RUN_INTERRUPTED: 'ConflictException',
  WORKER_LOST: 'ConflictException',
  SERVICE_STOPPING: 'ConflictException',
  APPFLOW_API_ERROR: 'InternalServerException',
  EMULATOR_ERROR: 'InternalServerException',
  INTERNAL: 'InternalServerException',
};

/** What an InternalServerException says (details go to the log, under the request id). */
export function internalMessage(requestId: string): string {
  return `An internal error occurred; the service logged it under request id ${requestId}. Retry, and report it if it persists.`;
}

/**
 * The one mapping from anything a handler throws to the API's answer: an {@link ApiError} as it is; a
 * ForceflowError by its code (its message is written for users and carries no secret), except codes that
 * answer InternalServerException, whose message is replaced; anything else is InternalServerException
 * with nothing of the original. `internal` says whether the caller should log the original.
 */
export function apiErrorFrom(error: unknown, requestId: string): { error: ApiError; internal: boolean } {
  if (error instanceof ApiError) return { error, internal: error.type === 'InternalServerException' };
  if (isForceflowError(error)) {
    const type = API_ERROR_FOR_CODE[error.code];
    if (type !== 'InternalServerException') return { error: new ApiError(type, error.message), internal: false };
  }
  return { error: new ApiError('InternalServerException', internalMessage(requestId)), internal: true };
}
