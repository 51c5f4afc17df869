import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppflowClient } from '@aws-sdk/client-appflow';
import { KMSClient } from '@aws-sdk/client-kms';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from '../../src/service/http/sigv4.ts';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import type { Operation } from '../../src/service/operation.ts';
import type { ServiceDeps } from '../../src/service/operations/index.ts';
import { startService, type RunningService, type ServiceOptions } from '../../src/service/start.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { createProfile, openProfileContext } from '../../src/profiles/index.ts';
import { captureContext } from '../helpers/run-context.ts';

export interface ServiceHarness {
  /** The emulator: Salesforce, and the KMS that seals the access keys (and profiles). */
  readonly emu: RunningEmulator;
  readonly svc: RunningService;
  /** A real AppFlow client over HTTP, signing with the service's default key. */
  readonly appflow: AppflowClient;
  readonly kms: KMSClient;
  readonly stateDir: string;
  /** Captured log lines (JSON) and text, to check what the service logs. */
  readonly logLines: Array<Record<string, unknown>>;
  readonly logText: () => string;
  /** Another client for the same service (other credentials, region, retries). */
  client(options?: { accessKeyId?: string; secretAccessKey?: string; region?: string; maxAttempts?: number }): AppflowClient;
  close(): Promise<void>;
}

export interface HarnessOptions extends Partial<Omit<ServiceOptions, 'log' | 'kms' | 'operations'>> {
  /** Operations to serve; by default the composed list of src/service/operations/index.ts. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly operations?: (deps: ServiceDeps) => Promise<Operation<any>[]>;
  /** Use this emulator instead of starting one (it is then not closed). */
  readonly emulator?: RunningEmulator;
}

/**
 * The service on 127.0.0.1 and a random port, in a temporary state folder, with the emulator's KMS, and
 * a real `AppflowClient` (@aws-sdk/client-appflow) pointed at it with the default key's credentials.
 */
export async function startHarness(options: HarnessOptions = {}): Promise<ServiceHarness> {
  const { emulator, ...serviceOptions } = options;
  const emu = emulator ?? (await startEmulator());
  const stateDir = serviceOptions.stateDir ?? mkdtempSync(join(tmpdir(), 'ff-service-'));
  const kms = new KMSClient({ endpoint: emu.aws.kmsEndpoint, region: emu.aws.region, credentials: { accessKeyId: emu.aws.accessKeyId, secretAccessKey: emu.aws.secretAccessKey }, maxAttempts: 1 });
  const captured = captureContext();
  let svc: RunningService;
  try {
    svc = await startService({ ...serviceOptions, stateDir, log: captured.log, kms, env: {} });
  } catch (error) {
    kms.destroy();
    if (!emulator) await emu.close();
    if (serviceOptions.stateDir === undefined) rmSync(stateDir, { recursive: true, force: true });
    throw error;
  }
  const clients: AppflowClient[] = [];
  const client: ServiceHarness['client'] = (o = {}) => {
    const c = new AppflowClient({
      endpoint: svc.endpoint,
      region: o.region ?? svc.region,
      credentials: { accessKeyId: o.accessKeyId ?? svc.accessKeyId, secretAccessKey: o.secretAccessKey ?? svc.secretAccessKey },
      maxAttempts: o.maxAttempts ?? 1,
    });
    clients.push(c);
    return c;
  };
  const appflow = client();
  return {
    emu,
    svc,
    appflow,
    kms,
    stateDir,
    logLines: captured.lines,
    logText: captured.text,
    client,
    async close() {
      for (const c of clients) c.destroy();
      await svc.close();
      kms.destroy();
      if (!emulator) await emu.close();
      if (serviceOptions.stateDir === undefined) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/**
 * Stores the emulator's connector profile (named as the emulator names it) in the service's profile store
 * (profiles.db of its state folder, credentials KMS-sealed), as `forceflow profiles create` would.
 */
export async function storeEmulatorProfile(h: Pick<ServiceHarness, 'emu' | 'stateDir' | 'kms'>): Promise<void> {
  const ctx = openProfileContext({ log: silentLogger(), home: h.stateDir, kms: h.kms });
  try {
    await createProfile(ctx, h.emu.connectorProfile);
  } finally {
    ctx.close();
  }
}

export interface SignedFetchOptions {
  /** Path and query as sent (default `/`). */
  readonly path?: string;
  readonly method?: string;
  readonly body?: string;
  /** The signing date (default now): an old one tests the clock rule. */
  readonly date?: Date;
  readonly region?: string;
  readonly service?: string;
  readonly accessKeyId?: string;
  readonly secret?: string;
  readonly headers?: Record<string, string>;
  /** Send this body instead of the signed one (tampering after signing). */
  readonly tamper?: string;
  /** Also sign `x-amz-content-sha256` (the JS SDK does; the CLI v1 does not). */
  readonly contentSha?: boolean;
}

export interface SignedFetchResult {
  readonly status: number;
  readonly headers: Headers;
  readonly json: Record<string, unknown>;
}

/**
 * A request signed with @smithy/signature-v4 (the SDK's own signer) and sent with fetch, for what the SDK
 * will not send: malformed JSON, old signing dates, tampered bodies, other scopes. Signs with the
 * service's default key unless told otherwise.
 */
export async function signedFetch(svc: Pick<RunningService, 'endpoint' | 'region' | 'accessKeyId' | 'secretAccessKey'>, o: SignedFetchOptions = {}): Promise<SignedFetchResult> {
  const url = new URL(svc.endpoint);
  const body = o.body ?? '';
  const path = o.path ?? '/';
  const q = path.indexOf('?');
  const query: Record<string, string | string[]> = {};
  if (q >= 0) {
    for (const [k, v] of new URLSearchParams(path.slice(q + 1))) {
      const prev = query[k];
      query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
  }
  const method = o.method ?? 'POST';
  const request = new HttpRequest({
    method,
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: q >= 0 ? path.slice(0, q) : path,
    query,
    headers: {
      host: url.host,
      ...(body === '' ? {} : { 'content-type': 'application/json' }),
      ...(o.contentSha ? { 'x-amz-content-sha256': createHash('sha256').update(body).digest('hex') } : {}),
      ...o.headers,
    },
    ...(body === '' ? {} : { body }),
  });
  const signer = new SignatureV4({
    credentials: { accessKeyId: o.accessKeyId ?? svc.accessKeyId, secretAccessKey: o.secret ?? svc.secretAccessKey },
    region: o.region ?? svc.region,
    service: o.service ?? 'appflow',
    sha256: NodeSha256,
  });
  const signed = await signer.sign(request, { signingDate: o.date ?? new Date() });
  const headers = { ...signed.headers };
  delete headers['host'];
  const sent = o.tamper ?? body;
  const res = await fetch(`${svc.endpoint}${path}`, { method, headers, ...(sent === '' ? {} : { body: sent }) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}
