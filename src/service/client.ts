import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { ForceflowError } from '../core/errors.ts';
import { NodeSha256 } from './http/sigv4.ts';

/** Where an AppFlow API is and the key to sign with (the facts `forceflow serve` prints). */
export interface AppflowEndpoint {
  readonly endpoint: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** A JSON object as AppFlow's REST-JSON protocol sends it (timestamps are epoch seconds). */
export type AppflowJson = Record<string, unknown>;

/**
 * A minimal AppFlow API client: `POST /<operation-path>` with a JSON body, signed with AWS Signature Version 4
 * by @smithy/signature-v4 (the signer the AWS SDK itself uses), over fetch. The demo uses it, so that product
 * code does not need `@aws-sdk/client-appflow` (a devDependency; tests and benchmarks use the real SDK client).
 * A refused call throws APPFLOW_API_ERROR with AWS's error name (`x-amzn-ErrorType`) and message, and the
 * name and HTTP status in `details` (`errorType`, `status`).
 *
 * @example
 * const appflow = appflowClient(JSON.parse(serveLine));
 * const { executionId } = await appflow.call('start-flow', { flowName: 'accounts-to-s3' });
 */
export interface AppflowClient {
  call<T extends AppflowJson = AppflowJson>(operationPath: string, input: AppflowJson): Promise<T>;
}

export function appflowClient(target: AppflowEndpoint): AppflowClient {
  const url = new URL(target.endpoint);
  const signer = new SignatureV4({
    credentials: { accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey },
    region: target.region,
    service: 'appflow',
    sha256: NodeSha256,
  });
  return {
    async call<T extends AppflowJson>(operationPath: string, input: AppflowJson): Promise<T> {
      const path = `/${operationPath.replace(/^\/+/, '')}`;
      const body = JSON.stringify(input);
      const request = new HttpRequest({
        method: 'POST',
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port === '' ? {} : { port: Number(url.port) }),
        path,
        headers: { host: url.host, 'content-type': 'application/json' },
        body,
      });
      const signed = await signer.sign(request);
      const headers = { ...signed.headers };
      delete headers['host']; // fetch sets it from the URL (the same value that was signed)
      const res = await fetch(new URL(path, url), { method: 'POST', headers, body });
      const text = await res.text();
      let json: AppflowJson = {};
      try {
        const parsed: unknown = text === '' ? {} : JSON.parse(text);
        if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) json = parsed as AppflowJson;
      } catch {
        // not JSON: reported below with the status
      }
      if (res.ok) return json as T;
      const errorType = res.headers.get('x-amzn-errortype')?.split(':')[0] ?? `HTTP ${res.status}`;
      const message = typeof json['message'] === 'string' ? json['message'] : text.slice(0, 200);
      throw new ForceflowError('APPFLOW_API_ERROR', `${operationPath} answered ${errorType} (HTTP ${res.status}): ${message}`, { details: { errorType, status: res.status, operation: operationPath } });
    },
  };
}
