import { S3Client } from '@aws-sdk/client-s3';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import { ForceflowError } from '../../core/errors.ts';

/**
 * An S3 client from the AWS SDK's usual chain: region, credentials (env, profile, SSO, IMDS, ...) and the
 * endpoint. The SDK itself reads `AWS_ENDPOINT_URL_S3` (and `AWS_ENDPOINT_URL`), so any S3-compatible store
 * works; forceflow only adds path-style addressing when such an endpoint is set, because local stores
 * (s3rver, MinIO) do not serve virtual-hosted bucket names.
 *
 * `env` defaults to `process.env`; passing one (e.g. a local S3's `env`) configures the client from it
 * without touching the process environment.
 *
 * Uploads (issue 13: the CPU of S3 output), integrity of a part's or object's bytes:
 * - no extra checksum: `requestChecksumCalculation` is `WHEN_REQUIRED` (the SDK's default, `WHEN_SUPPORTED`, adds a
 *   CRC32 of every part), unless AWS_REQUEST_CHECKSUM_CALCULATION=WHEN_SUPPORTED asks for it;
 * - over HTTPS a binary body is sent with `x-amz-content-sha256: UNSIGNED-PAYLOAD` (S3 accepts it over TLS, whose
 *   record MACs protect the bytes in transit; the request itself stays signed), so the SDK does not hash it;
 *   over plain HTTP (a local S3) the body's SHA-256 is signed as usual. See {@link payloadHashHeader}.
 */
export interface S3ClientOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly region?: string;
  readonly endpoint?: string;
}

export function createS3Client(options: S3ClientOptions = {}): S3Client {
  const env = options.env;
  const read = (name: string): string | undefined => (env === undefined ? process.env[name] : env[name]);
  const endpoint = options.endpoint ?? read('AWS_ENDPOINT_URL_S3') ?? read('AWS_ENDPOINT_URL');
  const config: S3ClientConfig = {};
  if (endpoint !== undefined && endpoint !== '') {
    config.forcePathStyle = true;
    if (options.endpoint !== undefined || env !== undefined) config.endpoint = endpoint;
  }
  const region = options.region ?? (env === undefined ? undefined : env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION']);
  if (region !== undefined) config.region = region;
  if (env !== undefined) {
    const accessKeyId = env['AWS_ACCESS_KEY_ID'];
    const secretAccessKey = env['AWS_SECRET_ACCESS_KEY'];
    if (accessKeyId !== undefined && secretAccessKey !== undefined) {
      const sessionToken = env['AWS_SESSION_TOKEN'];
      config.credentials = { accessKeyId, secretAccessKey, ...(sessionToken === undefined ? {} : { sessionToken }) };
    }
    const responseChecksum = env['AWS_RESPONSE_CHECKSUM_VALIDATION'];
    if (responseChecksum?.toUpperCase() === 'WHEN_REQUIRED') config.responseChecksumValidation = 'WHEN_REQUIRED';
  }
  config.requestChecksumCalculation = read('AWS_REQUEST_CHECKSUM_CALCULATION')?.toUpperCase() === 'WHEN_SUPPORTED' ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED';
  const client = new S3Client(config);
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request;
      if (HttpRequest.isInstance(request)) {
        const header = payloadHashHeader(request.protocol, request.body);
        if (header !== undefined) request.headers['x-amz-content-sha256'] = header;
      }
      return next(args);
    },
    { step: 'build', name: 'forceflowUnsignedPayloadOverTls' },
  );
  return client;
}

/**
 * The `x-amz-content-sha256` forceflow sets on a request before it is signed: `UNSIGNED-PAYLOAD` for a binary
 * body (UploadPart, PutObject) over HTTPS; otherwise none, and the signer hashes the body (small XML bodies, and
 * every body over plain HTTP, where nothing else protects it).
 */
export function payloadHashHeader(protocol: string, body: unknown): 'UNSIGNED-PAYLOAD' | undefined {
  return protocol === 'https:' && ArrayBuffer.isView(body) ? 'UNSIGNED-PAYLOAD' : undefined;
}

interface AwsErrorLike {
  readonly name?: string;
  readonly Code?: string;
  readonly message?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

const DENIED = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'AllAccessDisabled', 'AccountProblem']);

/** An S3 SDK error as a ForceflowError: S3_ACCESS_DENIED, FILE_NOT_FOUND (no such bucket or key) or S3_ERROR. */
export function s3Error(error: unknown, action: string, where: string): ForceflowError {
  if (error instanceof ForceflowError) return error;
  const e = (error ?? {}) as AwsErrorLike;
  const name = e.name ?? e.Code ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  const text = `${action} ${where} failed: ${name}${e.message !== undefined && e.message !== name ? ` (${e.message})` : ''}`;
  const details = { s3Code: name, httpStatus: status, location: where };
  if (DENIED.has(name) || status === 403) return new ForceflowError('S3_ACCESS_DENIED', text, { details, cause: error });
  if (name === 'NoSuchBucket') return new ForceflowError('FILE_NOT_FOUND', `The S3 bucket of ${where} does not exist.`, { details, cause: error });
  if (name === 'NoSuchKey' || status === 404) return new ForceflowError('FILE_NOT_FOUND', `${where} does not exist.`, { details, cause: error });
  return new ForceflowError('S3_ERROR', text, { details, cause: error });
}
