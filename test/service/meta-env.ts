import type { AppflowClient } from '@aws-sdk/client-appflow';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import type { ProfileContext } from '../../src/profiles/profiles.ts';
import { SecretsReader } from '../../src/profiles/secrets.ts';
import { ProfileStore } from '../../src/profiles/store.ts';
import { NodeSha256 } from '../../src/service/http/sigv4.ts';
import { connectorOperations } from '../../src/service/operations/connectors.ts';
import { MetadataCache } from '../../src/service/operations/metadata-cache.ts';
import { profileOperations } from '../../src/service/operations/profiles.ts';
import { PageTokens } from '../../src/service/paging.ts';
import { startHarness, type ServiceHarness } from './harness.ts';

/**
 * The service (svc-proto's harness: real HTTP, SigV4, the real @aws-sdk/client-appflow) serving the
 * connector profile and metadata operations over the emulator's Salesforce, KMS and Secrets Manager, with
 * the profile context they use (the service's state folder) for direct checks of the store.
 */
export interface MetaEnv {
  readonly emu: RunningEmulator;
  readonly h: ServiceHarness;
  readonly client: AppflowClient;
  readonly region: string;
  readonly accountId: string;
  readonly ctx: ProfileContext;
  readonly sm: SecretsManagerClient;
  /** profileInUse answers: profile name → flow names. */
  readonly inUse: Map<string, string[]>;
  readonly cache: MetadataCache;
  logs(): string;
  createSecret(name: string, value: Record<string, string>): Promise<string>;
  /** A signed POST sent with fetch, answering the raw JSON text (what is on the wire). */
  rawPost(path: string, body: unknown): Promise<{ status: number; text: string }>;
  close(): Promise<void>;
}

export async function metaEnv(): Promise<MetaEnv> {
  const emu = await startEmulator();
  const sm = new SecretsManagerClient({ endpoint: emu.aws.secretsManagerEndpoint, region: emu.aws.region, credentials: { accessKeyId: emu.aws.accessKeyId, secretAccessKey: emu.aws.secretAccessKey }, maxAttempts: 1 });
  const inUse = new Map<string, string[]>();
  const cache = new MetadataCache();
  let ctx: ProfileContext | undefined;
  const h = await startHarness({
    emulator: emu,
    operations: async (deps) => {
      const store = ProfileStore.open(deps.stateDir);
      deps.onClose(async () => store.close());
      ctx = { store, kms: deps.kms, secrets: new SecretsReader(sm), log: deps.log };
      const pageTokens = new PageTokens();
      return [
        ...profileOperations({ profiles: ctx, profileInUse: async (name) => inUse.get(name) ?? [], metadataCache: cache, pageTokens }),
        ...connectorOperations({ profiles: ctx, metadataCache: cache, pageTokens }),
      ];
    },
  });
  if (!ctx) throw new Error('the service did not compose the operations');
  const profiles = ctx;
  return {
    emu,
    h,
    client: h.appflow,
    region: h.svc.region,
    accountId: h.svc.accountId,
    ctx: profiles,
    sm,
    inUse,
    cache,
    logs: h.logText,
    async createSecret(name, value) {
      return (await sm.send(new CreateSecretCommand({ Name: name, SecretString: JSON.stringify(value) }))).ARN ?? '';
    },
    async rawPost(path, body) {
      const url = new URL(h.svc.endpoint);
      const text = JSON.stringify(body);
      const request = new HttpRequest({ method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path, headers: { host: url.host, 'content-type': 'application/json' }, body: text });
      const signer = new SignatureV4({ credentials: { accessKeyId: h.svc.accessKeyId, secretAccessKey: h.svc.secretAccessKey }, region: h.svc.region, service: 'appflow', sha256: NodeSha256 });
      const signed = await signer.sign(request);
      const headers = { ...signed.headers };
      delete headers['host'];
      const res = await fetch(`${h.svc.endpoint}${path}`, { method: 'POST', headers, body: text });
      return { status: res.status, text: await res.text() };
    },
    async close() {
      await h.close();
      sm.destroy();
      await emu.close();
    },
  };
}
