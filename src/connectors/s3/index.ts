export { createS3Client, s3Error } from './client.ts';
export type { S3ClientOptions } from './client.ts';
export { createS3Destination } from './destination.ts';
export type { S3DestinationDeps } from './destination.ts';
export { createS3Source } from './source.ts';
export { createS3Store, stagingPrefix } from './bucket.ts';
export type { S3StoreOptions } from './bucket.ts';
export * from './properties.ts';

// ---------------------------------------------------------------------------------------------------
// The connector's factory (src/connectors/registry.ts registers it).

import { defineConnector, S3_OPERATORS, type AnyConnectorFactory } from '../../core/connector-factory.ts';
import { resolveOutputFormat } from '../files/properties.ts';
import { removeStagingPrefix, stagingPrefix as staging } from './bucket.ts';
import { createS3Destination as createDestination } from './destination.ts';
import { createS3Source as createSource } from './source.ts';
import { S3DestinationFlowPropertiesSchema, S3SourcePropertiesSchema, type S3DestinationFlowProperties, type S3DestinationPlan, type S3SourcePlan, type S3SourceProperties } from './properties.ts';

/** Amazon S3: a source (every object under a prefix) and a file destination (staged, published when the run succeeds). */
export function s3Connector(): AnyConnectorFactory {
  return defineConnector<S3SourceProperties, S3DestinationFlowProperties, S3SourcePlan, S3DestinationPlan>({
    connectorType: 'S3',
    sourceProperties: S3SourcePropertiesSchema,
    destinationProperties: S3DestinationFlowPropertiesSchema,
    operators: S3_OPERATORS,
    needsProfile: false,
    resourceKinds: ['S3_STAGING'],
    async removeResource(resource, services) {
      if (resource.kind === 'S3_STAGING') await removeStagingPrefix(services.s3Client(), resource.bucket, resource.prefix);
    },
    capabilities: { source: true, destination: true, incremental: 'files', pushdownFilters: false, writeOperations: ['INSERT'], files: true },
    compileSource(p) {
      const plan: S3SourcePlan = { connectorType: 'S3', properties: p };
      return { plan, entity: (p.bucketPrefix ?? '').split('/').filter(Boolean).pop() ?? p.bucketName };
    },
    compileDestination(p) {
      const { errorHandlingConfig, ...properties } = p;
      const plan: S3DestinationPlan = {
        connectorType: 'S3', bucketName: p.bucketName, outputFormat: resolveOutputFormat(p.s3OutputFormatConfig), properties,
        ...(p.bucketPrefix !== undefined ? { bucketPrefix: p.bucketPrefix } : {}),
      };
      return { plan, ...(errorHandlingConfig ? { errorHandling: errorHandlingConfig } : {}), buckets: [[p.bucketName, 'destinationConnectorProperties.S3.bucketName']] };
    },
    createSource(plan, services) {
      return createSource(plan.properties, { client: services.s3Client(), input: services.input });
    },
    async createDestination(plan, services, settings) {
      await services.recordResource({ kind: 'S3_STAGING', bucket: plan.properties.bucketName, prefix: staging(plan.properties.bucketPrefix, services.executionId) });
      // The flow's kmsArn is AppFlow's key for "encrypting the data in the S3 bucket using Amazon S3 SSE-KMS".
      return createDestination(plan.properties, {
        flowName: services.flowName, executionId: services.executionId, schemaVersion: settings.schemaVersion, startedAt: settings.startedAt,
        ...(settings.outputSchema ? { outputSchema: settings.outputSchema } : {}), partitionKeys: settings.partitionKeys,
        client: services.s3Client(), ...(services.kmsArn === undefined ? {} : { kmsKeyId: services.kmsArn }),
      });
    },
  });
}
