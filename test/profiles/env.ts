import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KMSClient } from '@aws-sdk/client-kms';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { ProfileStore } from '../../src/profiles/store.ts';
import { SecretsReader } from '../../src/profiles/secrets.ts';
import type { ProfileContext } from '../../src/profiles/profiles.ts';
import { captureContext } from '../helpers/run-context.ts';

/** An emulator (Salesforce + KMS + Secrets Manager), a temporary FORCEFLOW_HOME and a profile context with captured logs. */
export interface ProfilesEnv {
  readonly emu: RunningEmulator;
  readonly home: string;
  readonly kms: KMSClient;
  readonly sm: SecretsManagerClient;
  readonly ctx: ProfileContext;
  readonly logs: () => string;
  createSecret(name: string, value: Record<string, string> | string): Promise<string>;
  close(): Promise<void>;
}

export async function profilesEnv(): Promise<ProfilesEnv> {
  const emu = await startEmulator();
  const home = mkdtempSync(join(tmpdir(), 'ff-profiles-'));
  const credentials = { accessKeyId: emu.aws.accessKeyId, secretAccessKey: emu.aws.secretAccessKey };
  const kms = new KMSClient({ endpoint: emu.aws.kmsEndpoint, region: emu.aws.region, credentials, maxAttempts: 1 });
  const sm = new SecretsManagerClient({ endpoint: emu.aws.secretsManagerEndpoint, region: emu.aws.region, credentials, maxAttempts: 1 });
  const store = ProfileStore.open(home);
  const captured = captureContext();
  const ctx: ProfileContext = { store, kms, secrets: new SecretsReader(sm), log: captured.log };
  return {
    emu,
    home,
    kms,
    sm,
    ctx,
    logs: captured.text,
    async createSecret(name, value) {
      const out = await sm.send(new CreateSecretCommand({ Name: name, SecretString: typeof value === 'string' ? value : JSON.stringify(value) }));
      return out.ARN ?? '';
    },
    async close() {
      store.close();
      kms.destroy();
      sm.destroy();
      await emu.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** A Salesforce profile for the emulator (AppFlow's CreateConnectorProfile JSON). */
export function sfProfile(emu: RunningEmulator, name: string, credentials: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    connectorProfileName: name,
    connectorType: 'Salesforce',
    connectionMode: 'Public',
    ...extra,
    connectorProfileConfig: {
      connectorProfileProperties: { Salesforce: { instanceUrl: emu.instanceUrl, isSandboxEnvironment: false, loginUrl: emu.loginUrl } },
      connectorProfileCredentials: { Salesforce: credentials },
    },
  };
}
