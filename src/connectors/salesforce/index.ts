export { createSalesforceSource, type SalesforceSourceOptions, type SalesforceReadStats } from './source.ts';
export { SalesforceClient, DEFAULT_RETRY, type RetryPolicy } from './http.ts';
export { createTokenProvider, signJwtAssertion, type TokenProvider, type SalesforceSession, type ResolvedCredentials } from './auth.ts';
export { requestToken, type TokenGrant, type TokenAnswer, type TokenRequestOptions } from './oauth.ts';
export { SalesforceConnectorProfileSchema, DEFAULT_API_VERSION, type SalesforceConnectorProfile } from './config.ts';
export { describeObject, SfObject, type SfField } from './describe.ts';
export { buildSelect, buildCount, escapeSoqlString, soqlLiteral, filterCondition } from './soql.ts';
export { connectSalesforce, parseSalesforceProfile, type ConnectOptions } from './connect.ts';
export { createSalesforceDestination, resolveTarget, type SalesforceDestination, type SalesforceDestinationConfig, type SalesforceDestinationOptions, type SalesforceWriteResult } from './destination.ts';
export * from './properties.ts';

// ---------------------------------------------------------------------------------------------------
// The connector's factory (src/connectors/registry.ts registers it).

import { CLEANUP_CALL_TIMEOUT_MS, defineConnector, SALESFORCE_OPERATORS, type AnyConnectorFactory, type ConnectorRunServices } from '../../core/connector-factory.ts';
import type { TokenProvider as Tokens } from './auth.ts';
import { stopBulkQueryJob, type BulkReadOptions } from './bulk-source.ts';
import type { BulkSplitOptions } from './bulk-split.ts';
import { bulkParallelOfTags } from './split-tags.ts';
import { connectSalesforce as connect } from './connect.ts';
import { createSalesforceDestination as createDestination, type SalesforceDestinationOptions as DestinationOptions } from './destination.ts';
import type { RetryPolicy as Retry } from './http.ts';
import { ApiBudget, parseApiReserve, writeCost } from './budget.ts';
import { ForceflowError } from '../../core/errors.ts';
import type { SalesforceConnectorProfile } from './config.ts';
import type { WriteJournal } from './journal.ts';
import type { ErrorSinkTarget } from '../files/error-sink.ts';
import {
  SalesforceDestinationPropertiesSchema, SalesforceSourcePropertiesSchema, salesforceDestinationProblems,
  type SalesforceDestinationPlan, type SalesforceDestinationProperties, type SalesforceSourcePlan, type SalesforceSourceProperties,
} from './properties.ts';

/** Run options of the Salesforce connector (RunFlowOptions.salesforce). */
export interface SalesforceRunOptions {
  readonly retry?: Retry;
  readonly bulk?: BulkReadOptions;
  readonly maxRestUrlLength?: number;
  readonly destination?: DestinationOptions;
  /** The API reserve of every org the run calls (`--api-reserve`), over the profile's `apiReserve` (docs/salesforce-budget.md). */
  readonly apiReserve?: string | number;
  /** The reserve of orgs whose profile sets none (service.json `apiReserve`). */
  readonly defaultApiReserve?: string | number;
  /** Parallel Bulk reads: over the flow's `forceflow:bulkParallelJobs` / `…MinRecords` / `…MinBytes` tags (forceflow run --bulk-parallel-jobs). */
  readonly split?: Partial<BulkSplitOptions>;
}

/** The run's API budget of the profile's org: one per org per run, shared by the source and destination. */
function budgetFor(services: ConnectorRunServices, options: SalesforceRunOptions | undefined) {
  return (profile: SalesforceConnectorProfile): ApiBudget =>
    services.runScoped(`salesforce-api-budget:${profile.connectorProfileName}`, () => {
      const raw = options?.apiReserve ?? profile.connectorProfileConfig.connectorProfileProperties.Salesforce.apiReserve ?? options?.defaultApiReserve;
      const reserve = raw === undefined ? undefined : parseApiReserve(raw);
      if (raw !== undefined && reserve === undefined) {
        throw new ForceflowError('CONFIG_INVALID', `The API reserve ${JSON.stringify(raw)} is not a percentage such as "20%" or a number of API calls such as 5000.`, { details: { option: 'apiReserve' } });
      }
      return new ApiBudget({ profileName: profile.connectorProfileName, log: services.ctx.log, ...(reserve ? { reserve } : {}) });
    });
}

async function session(plan: { readonly apiVersion?: string }, services: ConnectorRunServices, retry: Retry | undefined) {
  const resolved = await services.profile();
  const tokens = resolved.tokens as Tokens | undefined;
  return { resolved, options: { log: services.ctx.log, signal: services.ctx.signal, ...(tokens ? { tokens } : {}), ...(plan.apiVersion ? { apiVersion: plan.apiVersion } : {}), ...(retry ? { retry } : {}) } };
}

/** Salesforce: a source (REST or Bulk API 2.0 queries, incremental, SOQL filters) and a destination (REST or Bulk writes). */
export function salesforceConnector(): AnyConnectorFactory {
  return defineConnector<SalesforceSourceProperties, SalesforceDestinationProperties, SalesforceSourcePlan, SalesforceDestinationPlan>({
    connectorType: 'Salesforce',
    sourceProperties: SalesforceSourcePropertiesSchema,
    destinationProperties: SalesforceDestinationPropertiesSchema,
    operators: SALESFORCE_OPERATORS,
    needsProfile: true,
    capabilities: { source: true, destination: true, incremental: 'field', pushdownFilters: true, writeOperations: ['INSERT', 'UPSERT', 'UPDATE', 'DELETE'], files: false, formulaRefresh: true },
    destinationProblems: salesforceDestinationProblems,
    resourceKinds: ['SF_BULK_QUERY_JOB'],
    async removeResource(resource, services) {
      if (resource.kind !== 'SF_BULK_QUERY_JOB') return;
      // Each job's cleanup is bounded, so an unresponsive org cannot hold up the run that cleans up.
      const timeout = AbortSignal.timeout(CLEANUP_CALL_TIMEOUT_MS);
      const signal = services.signal ? AbortSignal.any([timeout, services.signal]) : timeout;
      const resolved = await services.profile(resource.connectorProfileName);
      const tokens = resolved.tokens as Tokens | undefined;
      const { client } = connect(resolved.profile, { log: services.log, signal, ...(tokens ? { tokens } : {}), ...(resource.apiVersion ? { apiVersion: resource.apiVersion } : {}) });
      await stopBulkQueryJob(client, resource.jobId, services.log);
    },
    compileSource(p, ctx) {
      const plan: SalesforceSourcePlan = {
        connectorType: 'Salesforce', object: p.object, apiPreference: p.dataTransferApi ?? 'AUTOMATIC',
        includeDeletedRecords: p.includeDeletedRecords ?? false, enableDynamicFieldUpdate: p.enableDynamicFieldUpdate ?? false,
        properties: p,
        ...(ctx.connectorProfileName !== undefined ? { connectorProfileName: ctx.connectorProfileName } : {}),
        ...(ctx.apiVersion !== undefined ? { apiVersion: ctx.apiVersion } : {}),
        bulkParallel: bulkParallelOfTags(ctx.tags),
      };
      // enableDynamicFieldUpdate (AppFlow: "dynamic fetching of new fields"): Map_all copies every field of the
      // object's describe at run time, even beyond a PROJECTION written before the field existed.
      return { plan, entity: p.object, read: { includeDeleted: plan.includeDeletedRecords, apiPreference: plan.apiPreference }, dynamicFields: plan.enableDynamicFieldUpdate };
    },
    compileDestination(p, ctx) {
      const op = p.writeOperationType ?? 'INSERT';
      const plan: SalesforceDestinationPlan = {
        connectorType: 'Salesforce', object: p.object, writeOperationType: op,
        idFieldNames: p.idFieldNames && p.idFieldNames.length > 0 ? p.idFieldNames : op === 'UPDATE' || op === 'DELETE' ? ['Id'] : [],
        apiPreference: p.dataTransferApi ?? 'AUTOMATIC',
        ...(ctx.connectorProfileName !== undefined ? { connectorProfileName: ctx.connectorProfileName } : {}),
        ...(ctx.apiVersion !== undefined ? { apiVersion: ctx.apiVersion } : {}),
      };
      const eh = p.errorHandlingConfig;
      return { plan, ...(eh ? { errorHandling: eh } : {}), ...(eh?.bucketName !== undefined ? { buckets: [[eh.bucketName, 'errorHandlingConfig.bucketName']] } : {}) };
    },
    async createSource(plan, services) {
      const options = services.options as SalesforceRunOptions | undefined;
      const { resolved, options: connectOptions } = await session(plan, services, options?.retry);
      const userBulk = options?.bulk;
      const jobs = options?.split?.jobs ?? plan.bulkParallel?.jobs ?? 1;
      const minRecords = options?.split?.minRecords ?? plan.bulkParallel?.minRecords;
      const minBytes = options?.split?.minBytes ?? plan.bulkParallel?.minBytes;
      const maxJobBytes = options?.split?.maxJobBytes;
      const split: BulkSplitOptions = {
        jobs, ...(minRecords === undefined ? {} : { minRecords }), ...(minBytes === undefined ? {} : { minBytes }),
        ...(maxJobBytes === undefined ? {} : { maxJobBytes }), ...(options?.split?.tempDir === undefined ? {} : { tempDir: options.split.tempDir }),
      };
      const sf = connect(resolved.profile, {
        ...connectOptions,
        budget: budgetFor(services, options),
        source: {
          // Each Bulk query job is recorded when created, so an interrupted run's job can be stopped later.
          bulk: {
            ...userBulk,
            onQueryJobCreated: async (jobId: string) => {
              await services.recordResource({ kind: 'SF_BULK_QUERY_JOB', jobId, connectorProfileName: plan.connectorProfileName ?? null, apiVersion: sf.client.apiVersion });
              await userBulk?.onQueryJobCreated?.(jobId);
            },
          },
          ...(options?.maxRestUrlLength ? { maxRestUrlLength: options.maxRestUrlLength } : {}),
          ...(jobs > 1 ? { split } : {}),
        },
      });
      return sf.source;
    },
    async createDestination(plan, services, settings) {
      const options = services.options as SalesforceRunOptions | undefined;
      const { resolved, options: connectOptions } = await session(plan, services, options?.retry);
      const sf = connect(resolved.profile, { ...connectOptions, budget: budgetFor(services, options) });
      const budget = sf.client.budget;
      if (budget) {
        // Before the first record is written: refused when the writes would take the org below its reserve (with the
        // read's estimate, when the flow reads the same org). An unknown count (a file source) checks the reserve alone.
        const records = settings.expectedRecords ?? 0;
        const cost = writeCost(plan.apiPreference, records);
        await budget.admit(cost, () => sf.client.json({ method: 'GET', path: '/limits', call: 'read the org limits' }), `write to ${plan.object}: ${settings.expectedRecords === undefined ? 'records not counted before the run' : cost.basis}`);
      }
      const journal = settings.writeJournal as WriteJournal | undefined;
      const errorTarget = (await settings.errorTarget?.()) as ErrorSinkTarget | undefined;
      const destination = createDestination(sf.client, { ...plan, failOnFirstDestinationError: settings.errorHandling.failOnFirstDestinationError }, {
        flowName: services.flowName,
        executionId: services.executionId,
        // The error file goes through the files layer, into the store that holds it (the runner's errorTarget).
        ...(errorTarget ? { errorTarget } : {}),
        ...(journal ? { journal } : {}),
        ...options?.destination,
      });
      return {
        write: (batches, ctx, writeOptions) => destination.write(batches, ctx, writeOptions),
        apiCalls: () => sf.client.apiCalls,
        apiUsage: () => ({ calls: { ...sf.client.callsByKind }, ...(budget ? { org: budget.report() } : {}) }),
      };
    },
  });
}
