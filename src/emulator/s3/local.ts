import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { IncomingMessage, type ServerResponse } from 'node:http';
import { ForceflowError } from '../../core/errors.ts';
import { checkForwardedBody, checkLocalS3Request, sendS3Refusal } from './local-guard.ts';
import { uploadHandler } from './uploads.ts';
import { policyProblem } from '../../core/http-guard.ts';
import { selfSignedCertificate } from './certificate.ts';

/**
 * A local S3 (s3rver over real HTTP on the loopback interface) for tests, `forceflow emulator --s3` and the
 * demo. Any process that sets {@link LocalS3.env} talks to it with the AWS SDK's default chain.
 *
 * With `https`, it serves HTTPS with a self-signed certificate made at start (certificate.ts), the way S3 itself is
 * reached (and the way forceflow's uploads skip hashing their bodies: src/connectors/s3/client.ts). The certificate's
 * PEM is written to {@link LocalS3.caFile}, and `env` sets `NODE_EXTRA_CA_CERTS` to it: a node process started with
 * that variable trusts it, as it would a private CA.
 */
export interface LocalS3Options {
  /** Where objects are stored; a fresh temporary folder (removed on close) by default. */
  readonly directory?: string;
  /** The bucket created at start; `forceflow` by default. */
  readonly bucket?: string;
  /** 0 (any free port) by default. */
  readonly port?: number;
  /** 127.0.0.1 by default. */
  readonly host?: string;
  /** Web page origins allowed to call it (see src/core/http-guard.ts); none by default. */
  readonly allowOrigins?: readonly string[];
  /** Further host names it answers to, beyond loopback names, IP literals and `host`. */
  readonly allowHosts?: readonly string[];
  /** Serve HTTPS with a certificate made at start (for `host`, loopback names and `allowHosts`); plain HTTP by default. */
  readonly https?: boolean;
}

export type LocalS3Env = {
  readonly AWS_ENDPOINT_URL_S3: string;
  readonly AWS_ACCESS_KEY_ID: string;
  readonly AWS_SECRET_ACCESS_KEY: string;
  readonly AWS_REGION: string;
  /** With `https`: the certificate's PEM file, for node processes to trust. */
  readonly NODE_EXTRA_CA_CERTS?: string;
};

export interface LocalS3 {
  readonly endpoint: string;
  readonly bucket: string;
  readonly directory: string;
  /** With `https`: the PEM file of its certificate (also its own CA), removed on close. */
  readonly caFile?: string;
  /** With `https`: that certificate's PEM. */
  readonly ca?: string;
  readonly env: LocalS3Env;
  close(): Promise<void>;
}

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  /** Koa's request listener; s3rver's listen() serves whatever it returns. */
  callback(): RequestListener;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

/** s3rver's fixed credentials (it accepts only these; local-guard.ts checks SigV4 signatures against them). */
const ACCESS_KEY_ID = 'S3RVER';
const SECRET_ACCESS_KEY = 'S3RVER';

export async function startLocalS3(options: LocalS3Options = {}): Promise<LocalS3> {
  let S3rver: S3rverConstructor;
  try {
    S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;
  } catch (cause) {
    throw new ForceflowError('EMULATOR_ERROR', 'The local S3 needs the s3rver package: run `npm install s3rver`.', { cause });
  }
  const policy = { host: options.host ?? '127.0.0.1', allowOrigins: options.allowOrigins ?? [], allowHosts: options.allowHosts ?? [] };
  const problem = policyProblem(policy);
  if (problem !== undefined) throw new ForceflowError('EMULATOR_ERROR', `The local S3 cannot start: ${problem}`);
  const bucket = options.bucket ?? 'forceflow';
  const ownDirectory = options.directory === undefined;
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'forceflow-s3-')));
  // s3rver serves HTTPS when given a key and a certificate.
  const tls = options.https === true ? selfSignedCertificate([policy.host, ...policy.allowHosts]) : undefined;
  const tlsDirectory = tls === undefined ? undefined : await mkdtemp(join(tmpdir(), 'forceflow-s3-tls-'));
  const caFile = tlsDirectory === undefined ? undefined : join(tlsDirectory, 'local-s3-ca.pem');
  if (tls !== undefined && caFile !== undefined) await writeFile(caFile, tls.cert, { mode: 0o644 });
  const removeOwn = async (): Promise<void> => {
    if (ownDirectory) await rm(directory, { recursive: true, force: true });
    if (tlsDirectory !== undefined) await rm(tlsDirectory, { recursive: true, force: true });
  };
  const server = new S3rver({
    address: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    directory,
    silent: true,
    configureBuckets: [{ name: bucket }],
    ...(tls === undefined ? {} : { key: tls.key, cert: tls.cert }),
  });
  // Every request passes the guard first: foreign Host/Origin, unsigned or wrongly signed requests, and keys with
  // ".." segments are refused (local-guard.ts). Uploads are then stored by uploads.ts (s3rver's own write path cost
  // several times more CPU than the client sending them); s3rver serves the rest, once a signed body is checked.
  const credentials = { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY };
  const uploads = uploadHandler(directory);
  const serve = server.callback.bind(server);
  server.callback = (): RequestListener => {
    const inner = serve();
    return (req, res) => {
      const refusal = checkLocalS3Request(req, policy, credentials);
      if (refusal) {
        sendS3Refusal(req, res, refusal);
        return;
      }
      if (uploads(req, res)) return;
      checkForwardedBody(req).then(
        (checked) => {
          if (checked instanceof IncomingMessage) inner(checked, res);
          else sendS3Refusal(req, res, checked);
        },
        () => res.destroy(),
      );
    };
  };
  let address: AddressInfo;
  try {
    address = await server.run();
  } catch (cause) {
    await removeOwn();
    throw new ForceflowError('EMULATOR_ERROR', `The local S3 could not listen on port ${options.port ?? 0}.`, { cause });
  }
  const endpoint = `${tls === undefined ? 'http' : 'https'}://${address.address}:${address.port}`;
  return {
    endpoint,
    bucket,
    directory,
    ...(tls === undefined || caFile === undefined ? {} : { caFile, ca: tls.cert }),
    env: {
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_ACCESS_KEY_ID: ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY,
      AWS_REGION: 'us-east-1',
      ...(caFile === undefined ? {} : { NODE_EXTRA_CA_CERTS: caFile }),
    },
    async close(): Promise<void> {
      await server.close();
      await removeOwn();
    },
  };
}
