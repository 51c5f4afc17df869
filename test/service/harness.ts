import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppflowClient } from '@aws-sdk/client-appflow';
import { KMSClient } from '@aws-sdk/client-kms';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import type { Operation } from '../../src/service/operation.ts';
import type { ServiceDeps } from '../../src/service/operations/index.ts';
import { startService, type RunningService, type ServiceOptions } from '../../src/service/start.ts';
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
