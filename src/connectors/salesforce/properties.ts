import { z } from 'zod';
import type { ApiPreference } from '../../core/types.ts';
import type { WriteOperation } from '../../core/connector-factory.ts';
import { ErrorHandlingConfigSchema } from '../files/properties.ts';

/** AppFlow's SalesforceDataTransferApi values. */
export const DATA_TRANSFER_APIS = ['AUTOMATIC', 'BULKV2', 'REST_SYNC'] as const;

const ObjectNameSchema = z.string().min(1).max(512).regex(/^\S+$/, { error: 'expected an object API name without spaces, such as "Account"' });

/** AppFlow's SalesforceSourceProperties. */
export const SalesforceSourcePropertiesSchema = z.strictObject({
  object: ObjectNameSchema,
  enableDynamicFieldUpdate: z.boolean().optional(),
  includeDeletedRecords: z.boolean().optional(),
  dataTransferApi: z.enum(DATA_TRANSFER_APIS).optional(),
});
export type SalesforceSourceProperties = z.infer<typeof SalesforceSourcePropertiesSchema>;

/** AppFlow's SalesforceDestinationProperties (errorHandlingConfig takes forceflow's localPath too). */
export const SalesforceDestinationPropertiesSchema = z.strictObject({
  object: ObjectNameSchema,
  idFieldNames: z.array(z.string().min(1).max(128)).optional(),
  errorHandlingConfig: ErrorHandlingConfigSchema.optional(),
  writeOperationType: z.enum(['INSERT', 'UPSERT', 'UPDATE', 'DELETE']).optional(),
  dataTransferApi: z.enum(DATA_TRANSFER_APIS).optional(),
});
export type SalesforceDestinationProperties = z.infer<typeof SalesforceDestinationPropertiesSchema>;

/** The Salesforce source's part of a plan, defaults applied. */
export interface SalesforceSourcePlan {
  readonly connectorType: 'Salesforce';
  readonly connectorProfileName?: string;
  readonly apiVersion?: string;
  readonly object: string;
  readonly apiPreference: ApiPreference;
  readonly includeDeletedRecords: boolean;
  readonly enableDynamicFieldUpdate: boolean;
  readonly properties: SalesforceSourceProperties;
  /** Parallel Bulk reads from the flow's tags (split-tags.ts). */
  readonly bulkParallel?: { readonly jobs?: number; readonly minRecords?: number; readonly minBytes?: number };
}

/** The Salesforce destination's part of a plan, defaults applied. */
export interface SalesforceDestinationPlan {
  readonly connectorType: 'Salesforce';
  readonly connectorProfileName?: string;
  readonly apiVersion?: string;
  readonly object: string;
  readonly writeOperationType: WriteOperation;
  /** UPSERT: the external ID field; UPDATE/DELETE: the ID field (default Id). */
  readonly idFieldNames: readonly string[];
  readonly apiPreference: ApiPreference;
}

/** AppFlow's rules between Salesforce destination properties; `path` is the properties' JSON path. */
export function salesforceDestinationProblems(p: SalesforceDestinationProperties, path: string): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  if (p.writeOperationType === 'UPSERT' && (p.idFieldNames ?? []).length === 0) {
    problems.push({ path: `${path}.idFieldNames`, message: 'is required when writeOperationType is UPSERT. Add the external ID field to match on, for example ["External_Id__c"].' });
  }
  if ((p.idFieldNames ?? []).length > 1) {
    problems.push({ path: `${path}.idFieldNames`, message: `lists ${p.idFieldNames?.length} fields; Salesforce matches on one ID field. Keep one.` });
  }
  return problems;
}
