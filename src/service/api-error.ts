/**
 * AppFlow's error shapes on the wire (REST-JSON): the error name travels in `x-amzn-ErrorType` and the
 * JSON body `{"message": …}`; the AWS SDK picks the exception class by name. This is the service's
 * catalogue of protocol errors; engine errors (src/core/errors.ts) are mapped onto it by code in one
 * place (`apiErrorFrom`, src/service/http/errors.ts).
 */
export const API_ERRORS = {
  ValidationException: 400,
  UnsupportedOperationException: 400,
  ConnectorServerException: 400,
  ConnectorAuthenticationException: 401,
  ServiceQuotaExceededException: 402,
  AccessDeniedException: 403,
  ResourceNotFoundException: 404,
  ConflictException: 409,
  ThrottlingException: 429,
  InternalServerException: 500,
  // Authentication (SigV4) errors, as other REST-JSON AWS services name them.
  MissingAuthenticationTokenException: 403,
  UnrecognizedClientException: 403,
  IncompleteSignatureException: 403,
  InvalidSignatureException: 403,
} as const;

export type ApiErrorName = keyof typeof API_ERRORS;

/** A refusal the API answers with AWS's error shape. `message` must say nothing secret. */
export class ApiError extends Error {
  readonly status: number;
  constructor(readonly type: ApiErrorName, message: string) {
    super(message);
    this.name = type;
    this.status = API_ERRORS[type];
  }
}
