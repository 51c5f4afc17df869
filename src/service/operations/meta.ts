import type { ProfileContext } from '../../profiles/profiles.ts';
import type { Operation } from '../operation.ts';
import { PageTokens } from '../paging.ts';
import { connectorOperations } from './connectors.ts';
import { MetadataCache, type MetadataCacheOptions } from './metadata-cache.ts';
import { profileOperations } from './profiles.ts';

export interface MetaOperationsDeps {
  /**
   * The profile store, KMS and Secrets Manager, as `forceflow profiles` opens them (e.g.
   * `openProfileContext({ log, home: stateDir, kms })` from src/profiles; close it on shutdown).
   */
  readonly profiles: ProfileContext;
  /** Names of the flows that use a connector profile (the flow store answers). */
  readonly profileInUse: (connectorProfileName: string) => Promise<string[]>;
  readonly metadataCache?: MetadataCacheOptions;
  readonly pageTokens?: PageTokens;
}

/**
 * The connector profile and connector metadata operations, sharing one metadata cache (cleared for a
 * profile when it is updated or deleted) and one page-token key.
 *
 * @example
 * // in composeOperations (src/service/operations/index.ts):
 * ...metaOperations({ profiles: openProfileContext({ log, home: stateDir, kms }), profileInUse: (name) => flows.namesUsingProfile(name) })
 */
export function metaOperations(deps: MetaOperationsDeps): Operation[] {
  const metadataCache = new MetadataCache(deps.metadataCache);
  const pageTokens = deps.pageTokens ?? new PageTokens();
  return [
    ...profileOperations({ profiles: deps.profiles, profileInUse: deps.profileInUse, metadataCache, pageTokens }),
    ...connectorOperations({ profiles: deps.profiles, metadataCache, pageTokens }),
  ];
}
