import { compileFlow } from '../../src/flows/compile.ts';
import type { FlowPlan } from '../../src/flows/compile.ts';
import { checkFlow } from '../../src/flows/validate.ts';
import type { FlowProblem } from '../../src/flows/validate.ts';
import type { TransformResult } from '../../src/mapping/compile.ts';
import type { EntitySchema, FieldSchema, FieldType, Row } from '../../src/core/types.ts';

export type SourceKind = 'LocalFile' | 'Salesforce';
export type TaskJson = Record<string, unknown>;

/** A minimal valid flow around the given tasks (LocalFile source: every filter runs in the engine). */
export function flowWith(tasks: readonly TaskJson[], source: SourceKind = 'LocalFile', dest: 'LocalFile' | 'Salesforce' | 'S3' = 'LocalFile'): Record<string, unknown> {
  const sourceConnectorProperties = source === 'LocalFile'
    ? { LocalFile: { path: 'in/accounts.csv', fileType: 'CSV' } }
    : { Salesforce: { object: 'Account' } };
  const destinationConnectorProperties = dest === 'LocalFile'
    ? { LocalFile: { path: 'out', outputFormatConfig: { fileType: 'JSON' } } }
    : dest === 'S3' ? { S3: { bucketName: 'out-bucket' } } : { Salesforce: { object: 'Contact' } };
  return {
    flowName: 'test-flow',
    triggerConfig: { triggerType: 'OnDemand' },
    sourceFlowConfig: { connectorType: source, ...(source === 'Salesforce' ? { connectorProfileName: 'sf' } : {}), sourceConnectorProperties },
    destinationFlowConfigList: [{ connectorType: dest, destinationConnectorProperties }],
    tasks,
  };
}

export function problemsOf(tasks: readonly TaskJson[], source: SourceKind = 'LocalFile', dest: 'LocalFile' | 'Salesforce' | 'S3' = 'LocalFile'): FlowProblem[] {
  return [...checkFlow(flowWith(tasks, source, dest)).problems];
}

export function plan(tasks: readonly TaskJson[], source: SourceKind = 'LocalFile'): FlowPlan {
  const r = checkFlow(flowWith(tasks, source));
  if (!r.ok || !r.flow) throw new Error(`flow invalid: ${JSON.stringify(r.problems)}`);
  return compileFlow(r.flow, { flowFileDir: '/flows' });
}

/** A schema from the rows' keys, typed by the first non-null value (or given types). */
export function schemaOf(rows: readonly Row[], types: Record<string, FieldType> = {}): EntitySchema {
  const names: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!names.includes(k)) names.push(k);
  for (const k of Object.keys(types)) if (!names.includes(k)) names.push(k);
  const fields: FieldSchema[] = names.map((name) => {
    if (types[name]) return { name, type: types[name] };
    const v = rows.map((r) => r[name]).find((x) => x !== null && x !== undefined);
    return { name, type: typeof v === 'number' ? 'double' : typeof v === 'boolean' ? 'boolean' : 'string' };
  });
  return { entity: 'Account', fields };
}

export function apply(tasks: readonly TaskJson[], rows: readonly Row[], types: Record<string, FieldType> = {}): TransformResult {
  return plan(tasks).transform({ rows, schema: schemaOf(rows, types) });
}

export const K = 'LocalFile';
export const projection = (...fields: string[]): TaskJson => ({ taskType: 'Filter', sourceFields: fields, connectorOperator: { [K]: 'PROJECTION' } });
export const map = (source: string, destination?: string, props?: Record<string, string>): TaskJson => ({
  taskType: 'Map', sourceFields: [source], connectorOperator: { [K]: 'NO_OP' },
  ...(destination !== undefined ? { destinationField: destination } : {}), ...(props ? { taskProperties: props } : {}),
});
export const filter = (field: string, op: string, props: Record<string, string>): TaskJson => ({
  taskType: 'Filter', sourceFields: [field], connectorOperator: { [K]: op }, taskProperties: props,
});
export const task = (taskType: string, sourceFields: string[], op: string | undefined, props?: Record<string, string>, destinationField?: string): TaskJson => ({
  taskType, sourceFields, ...(op ? { connectorOperator: { [K]: op } } : {}), ...(props ? { taskProperties: props } : {}),
  ...(destinationField !== undefined ? { destinationField } : {}),
});
