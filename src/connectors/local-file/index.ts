export { checkDestinationFolder, createLocalFileDestination } from './destination.ts';
export type { LocalFileDestinationDeps } from './destination.ts';
export { createLocalFileSource } from './source.ts';
export { createFolderStore, entityFromPath, resolvePath } from './folder.ts';
export type { FolderStoreOptions } from './folder.ts';
export * from './properties.ts';

// ---------------------------------------------------------------------------------------------------
// The connector's factory (src/connectors/registry.ts registers it).

import { basename, extname, join, resolve } from 'node:path';
import { defineConnector, SALESFORCE_OPERATORS, type AnyConnectorFactory } from '../../core/connector-factory.ts';
import { resolveOutputFormat } from '../files/properties.ts';
import { createLocalFileDestination as createDestination } from './destination.ts';
import { createLocalFileSource as createSource } from './source.ts';
import { removeStagingFolder } from './folder.ts';
import { LocalFileDestinationPropertiesSchema, LocalFileSourcePropertiesSchema, type LocalFileDestinationPlan, type LocalFileDestinationProperties, type LocalFileSourcePlan, type LocalFileSourceProperties } from './properties.ts';

/** forceflow's LocalFile: a file or folder as the source, a folder as the destination (the S3 destination's layout). */
export function localFileConnector(): AnyConnectorFactory {
  return defineConnector<LocalFileSourceProperties, LocalFileDestinationProperties, LocalFileSourcePlan, LocalFileDestinationPlan>({
    connectorType: 'LocalFile',
    sourceProperties: LocalFileSourcePropertiesSchema,
    destinationProperties: LocalFileDestinationPropertiesSchema,
    // Its tasks take the Salesforce operators, keyed by LocalFile or, as an S3 flow's tasks are, by S3.
    operators: SALESFORCE_OPERATORS,
    operatorKeys: ['LocalFile', 'S3'],
    resourceKinds: ['LOCAL_STAGING'],
    async removeResource(resource) {
      if (resource.kind === 'LOCAL_STAGING') await removeStagingFolder(resource.path);
    },
    needsProfile: false,
    capabilities: { source: true, destination: true, incremental: 'files', pushdownFilters: false, writeOperations: ['INSERT'], files: true },
    compileSource(p, ctx) {
      const path = resolve(ctx.baseDir, p.path);
      const plan: LocalFileSourcePlan = { connectorType: 'LocalFile', properties: { ...p, path } };
      return { plan, entity: basename(path, extname(path)) || 'LocalFile' };
    },
    compileDestination(p, ctx) {
      const path = resolve(ctx.baseDir, p.path);
      const plan: LocalFileDestinationPlan = { connectorType: 'LocalFile', path, outputFormat: resolveOutputFormat(p.outputFormatConfig), properties: { ...p, path } };
      return { plan };
    },
    createSource(plan, services) {
      return createSource(plan.properties, { baseDir: services.baseDir, input: services.input });
    },
    async createDestination(plan, services, settings) {
      await services.recordResource({ kind: 'LOCAL_STAGING', path: join(plan.path, '_temporary', services.executionId) });
      return createDestination(plan.properties, {
        flowName: services.flowName, executionId: services.executionId, schemaVersion: settings.schemaVersion, startedAt: settings.startedAt,
        ...(settings.outputSchema ? { outputSchema: settings.outputSchema } : {}), partitionKeys: settings.partitionKeys, baseDir: services.baseDir,
      });
    },
  });
}
