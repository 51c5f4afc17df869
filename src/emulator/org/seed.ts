import type { EmulatorOptions } from '../org.ts';
import { OrgStore } from './store.ts';

/** Saves the org's state to `--data DIR` (no-op in memory). */
export interface StorePersistence {
  /** Note that records changed; saving may be deferred. */
  markDirty(objectName: string): void;
  /** Write everything pending now (called on close). */
  flush(): Promise<void>;
}

/** Build the org's tables: the seed org from fixtures/, generated objects, and persisted state. */
export function buildStore(_options: EmulatorOptions, _clock: () => number): { store: OrgStore; persistence: StorePersistence } {
  return { store: new OrgStore(), persistence: { markDirty() {}, async flush() {} } };
}
