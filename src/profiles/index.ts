import { KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Logger } from '../core/logger.ts';
import { DEFAULT_KMS_KEY_ID } from './crypto.ts';
import type { ProfileContext } from './profiles.ts';
import { SecretsReader } from './secrets.ts';
import { defaultHome, ProfileStore, type ProfileRepository } from './store.ts';

export { DEFAULT_KMS_KEY_ID, sealForProfile, openForProfile, type Envelope } from './crypto.ts';
export { ProfileStore, defaultHome, type ProfileRepository, type StoredProfile } from './store.ts';
export { SecretsReader, SECRET_CACHE_MS } from './secrets.ts';
export { createProfile, listProfiles, describeProfile, deleteProfile, openProfile, type ProfileContext, type ProfileDescription } from './profiles.ts';
export { resolveProfile, resolveProfileDocument, storedProfileResolver, type ResolvedProfile } from './resolve.ts';
export { authorizeProfile, type AuthorizeOptions, type AuthorizeResult } from './authorize.ts';

export interface OpenProfileContextOptions {
  readonly log: Logger;
  /** State folder (default $FORCEFLOW_HOME or ~/.forceflow). */
  readonly home?: string;
  /** A profile store to use instead of profiles.db in `home` (the service's, src/service/state.ts); close() leaves it open. */
  readonly store?: ProfileRepository;
  readonly env?: NodeJS.ProcessEnv;
  /** Clients to use instead of the AWS SDK default chain (which honours AWS_ENDPOINT_URL_KMS / _SECRETS_MANAGER). */
  readonly kms?: KMSClient;
  readonly secretsManager?: SecretsManagerClient;
}

/**
 * The profile store and AWS clients for the CLI or an embedding program; close() releases them.
 *
 * @example
 * const profiles = openProfileContext({ log });
 * try { await runFlow({ flow, profiles: storedProfileResolver(profiles), log }); } finally { profiles.close(); }
 */
export function openProfileContext(options: OpenProfileContextOptions): ProfileContext & { close(): void } {
  const env = options.env ?? process.env;
  const store = options.store ?? ProfileStore.open(options.home ?? defaultHome(env));
  const kms = options.kms ?? new KMSClient({});
  const sm = options.secretsManager ?? new SecretsManagerClient({});
  const keyFromEnv = env['FORCEFLOW_KMS_KEY_ID'];
  return {
    store,
    kms,
    secrets: new SecretsReader(sm),
    log: options.log,
    defaultKeyId: keyFromEnv !== undefined && keyFromEnv !== '' ? keyFromEnv : DEFAULT_KMS_KEY_ID,
    close() {
      if (!options.store) store.close();
      if (!options.kms) kms.destroy();
      if (!options.secretsManager) sm.destroy();
    },
  };
}
