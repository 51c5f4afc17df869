import type { OrgRouter } from '../context.ts';
import { registerMetaRoutes } from './meta.ts';
import { registerQueryRoutes } from './query.ts';
import { registerRecordRoutes } from './records.ts';
import { registerCollectionRoutes } from './collections.ts';

/** Every REST API route under /services/data. */
export function registerRestRoutes(router: OrgRouter): void {
  // Order matters where patterns overlap: collections and query before the generic sobject routes.
  registerMetaRoutes(router);
  registerQueryRoutes(router);
  registerCollectionRoutes(router);
  registerRecordRoutes(router);
}
