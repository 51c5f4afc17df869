import { analyzeTasks } from '../mapping/compile.ts';
import type { AnalyzedTasks } from '../mapping/compile.ts';
import { toEpochMillis } from '../mapping/convert.ts';
import type { FlowProblem } from '../mapping/types.ts';
import { didYouMean } from './did-you-mean.ts';
import { scheduleProblems, unsupportedFieldProblems } from './no-effect.ts';
import {
  APPFLOW_SOURCE_ONLY_CONNECTORS, DESTINATION_CONNECTOR_TYPES, OTHER_APPFLOW_CONNECTOR_TYPES, SOURCE_CONNECTOR_TYPES,
} from './schema.ts';
import type { FlowDefinition, SourceConnectorType, Timestamp } from './schema.ts';

/**
 * AppFlow's rules between the fields of a parsed flow definition (validate.ts parses it first). Each
 * rule is a pure function of the definition that returns its problems, each with its JSON path and a
 * sentence on what to do; `crossFieldRules` runs them in a fixed order (so messages come out in the
 * same order every time).
 */

/** The problem with a connectorType forceflow does not run on this side, or undefined when it does. */
export function connectorTypeProblem(path: string, type: string, side: 'source' | 'destination'): FlowProblem | undefined {
  const supported: readonly string[] = side === 'source' ? SOURCE_CONNECTOR_TYPES : DESTINATION_CONNECTOR_TYPES;
  if (supported.includes(type)) return undefined;
  const list = supported.join(', ');
  if (side === 'destination' && (APPFLOW_SOURCE_ONLY_CONNECTORS as readonly string[]).includes(type)) {
    return { path, message: `${type} can only be a source in AppFlow, never a destination. Use one of ${list}.` };
  }
  if ((OTHER_APPFLOW_CONNECTOR_TYPES as readonly string[]).includes(type)) {
    return { path, message: `${type} is an AppFlow connector that forceflow does not run as a ${side}. Use one of ${list}.` };
  }
  const guess = didYouMean(type, supported);
  return { path, message: `${JSON.stringify(type)} is not a connector type.${guess ? ` Did you mean "${guess}"?` : ''} Use one of ${list}.` };
}

/** The connector properties hold exactly one entry, keyed by the connectorType. */
export function propertiesProblems(base: string, key: string, type: string, props: Record<string, unknown>): FlowProblem[] {
  const present = Object.keys(props).filter((k) => props[k] !== undefined);
  const problems: FlowProblem[] = [];
  if (!present.includes(type)) {
    const other = present.length > 0 ? ` It has ${present.map((p) => `"${p}"`).join(', ')} instead.` : '';
    problems.push({ path: `${base}.${key}`, message: `needs a "${type}" entry because connectorType is ${type}.${other} Put the ${type} properties under "${type}" or change connectorType.` });
  }
  for (const p of present) {
    if (p !== type) problems.push({ path: `${base}.${key}.${p}`, message: `does not match connectorType ${type}. Remove it, or set connectorType to ${p}.` });
  }
  return problems;
}

/** The source's connectorType is one forceflow reads, and its properties match it. */
export function sourceConnectorProblems(flow: FlowDefinition): FlowProblem[] {
  const src = flow.sourceFlowConfig;
  const typeProblem = connectorTypeProblem('sourceFlowConfig.connectorType', src.connectorType, 'source');
  if (typeProblem) return [typeProblem];
  return propertiesProblems('sourceFlowConfig', 'sourceConnectorProperties', src.connectorType, src.sourceConnectorProperties);
}

/** apiVersion holding a dataTransferApi value (a common mix-up). */
export function apiVersionProblems(flow: FlowDefinition): FlowProblem[] {
  const problems: FlowProblem[] = [];
  const configs = [['sourceFlowConfig', flow.sourceFlowConfig] as const, ...flow.destinationFlowConfigList.map((d, j) => [`destinationFlowConfigList[${j}]`, d] as const)];
  for (const [i, cfg] of configs) {
    if (cfg.apiVersion !== undefined && ['AUTOMATIC', 'BULKV2', 'REST_SYNC'].includes(cfg.apiVersion)) {
      const where = i === 'sourceFlowConfig' ? 'sourceConnectorProperties.Salesforce.dataTransferApi' : 'destinationConnectorProperties.Salesforce.dataTransferApi';
      problems.push({ path: `${i}.apiVersion`, message: `is ${cfg.apiVersion}, but apiVersion is the connector API version. Move "${cfg.apiVersion}" to ${where} and remove apiVersion.` });
    }
  }
  return problems;
}

/** One destination, of a type forceflow writes, with matching properties; Salesforce's idFieldNames. */
export function destinationProblems(flow: FlowDefinition): FlowProblem[] {
  const problems: FlowProblem[] = [];
  const dests = flow.destinationFlowConfigList;
  if (dests.length !== 1) {
    problems.push({
      path: 'destinationFlowConfigList',
      message: dests.length === 0
        ? 'is empty. Add one destination (S3, Salesforce or LocalFile).'
        : `has ${dests.length} destinations; AppFlow transfers to one destination per flow. Keep one and make a separate flow for each other destination.`,
    });
  }
  const dest = dests[0];
  if (!dest) return problems;
  dests.forEach((d, j) => {
    const p = connectorTypeProblem(`destinationFlowConfigList[${j}].connectorType`, d.connectorType, 'destination');
    if (p) problems.push(p);
    else problems.push(...propertiesProblems(`destinationFlowConfigList[${j}]`, 'destinationConnectorProperties', d.connectorType, d.destinationConnectorProperties));
  });
  const sf = dest.destinationConnectorProperties.Salesforce;
  if (dest.connectorType === 'Salesforce' && sf) {
    if (sf.writeOperationType === 'UPSERT' && (sf.idFieldNames ?? []).length === 0) {
      problems.push({ path: 'destinationFlowConfigList[0].destinationConnectorProperties.Salesforce.idFieldNames', message: 'is required when writeOperationType is UPSERT. Add the external ID field to match on, for example ["External_Id__c"].' });
    }
    if ((sf.idFieldNames ?? []).length > 1) {
      problems.push({ path: 'destinationFlowConfigList[0].destinationConnectorProperties.Salesforce.idFieldNames', message: `lists ${sf.idFieldNames?.length} fields; Salesforce matches on one ID field. Keep one.` });
    }
  }
  return problems;
}

/** A Glue Data Catalog needs an S3 destination. */
export function metadataCatalogProblems(flow: FlowDefinition): FlowProblem[] {
  const destType = flow.destinationFlowConfigList[0]?.connectorType;
  if (!flow.metadataCatalogConfig?.glueDataCatalog || destType === 'S3') return [];
  return [{ path: 'metadataCatalogConfig', message: `is only allowed when the destination is S3, but it is ${destType ?? 'missing'}. Remove metadataCatalogConfig or write to S3.` }];
}

function epochMs(t: Timestamp): number {
  return typeof t === 'number' ? t * 1000 : toEpochMillis(t) ?? Number.NaN;
}

/** The trigger type and its Scheduled properties agree; Incremental pulls need a Salesforce source. */
export function triggerProblems(flow: FlowDefinition): FlowProblem[] {
  const problems: FlowProblem[] = [];
  const trig = flow.triggerConfig;
  const sched = trig.triggerProperties?.Scheduled;
  if (trig.triggerType === 'Event') {
    problems.push({ path: 'triggerConfig.triggerType', message: 'Event flows (Salesforce Change Data Capture) are not supported by forceflow. Set triggerType to OnDemand, or Scheduled with a scheduleExpression.' });
  }
  if (trig.triggerType === 'Scheduled' && !sched) {
    problems.push({ path: 'triggerConfig.triggerProperties', message: 'a Scheduled trigger needs triggerProperties.Scheduled. Add {"Scheduled": {"scheduleExpression": "rate(1hours)"}}.' });
  }
  if (trig.triggerType !== 'Scheduled' && sched) {
    problems.push({ path: 'triggerConfig.triggerProperties.Scheduled', message: `applies only to Scheduled flows, but triggerType is ${trig.triggerType}. Remove it or set triggerType to Scheduled.` });
  }
  if (sched?.scheduleStartTime !== undefined && sched.scheduleEndTime !== undefined && epochMs(sched.scheduleEndTime) <= epochMs(sched.scheduleStartTime)) {
    problems.push({ path: 'triggerConfig.triggerProperties.Scheduled.scheduleEndTime', message: 'is not after scheduleStartTime. Set an end time later than the start time, or remove it.' });
  }
  const src = flow.sourceFlowConfig.connectorType;
  const srcSupported = (SOURCE_CONNECTOR_TYPES as readonly string[]).includes(src);
  if (sched?.dataPullMode === 'Incremental' && src !== 'Salesforce' && srcSupported) {
    problems.push({ path: 'triggerConfig.triggerProperties.Scheduled.dataPullMode', message: `Incremental pulls need a Salesforce source, but the source is ${src}. Set dataPullMode to Complete.` });
  }
  return problems;
}

/** Partition tasks need a file destination. */
export function partitionProblems(flow: FlowDefinition, tasks: AnalyzedTasks): FlowProblem[] {
  if (!tasks.partition || flow.destinationFlowConfigList[0]?.connectorType !== 'Salesforce') return [];
  return [{ path: `tasks[${tasks.partition.index}]`, message: 'Partition tasks only apply to file destinations (S3, LocalFile), but the destination is Salesforce. Remove the Partition task.' }];
}

export interface RulesResult {
  readonly problems: readonly FlowProblem[];
  /** The parsed tasks, when the source connectorType is one forceflow reads (task rules depend on it). */
  readonly tasks?: AnalyzedTasks;
}

/** Runs every rule on a parsed definition, in order; `now` is for rules about time (a schedule already over). */
export function crossFieldRules(flow: FlowDefinition, now: Date = new Date()): RulesResult {
  const problems: FlowProblem[] = [
    ...sourceConnectorProblems(flow),
    ...apiVersionProblems(flow),
    ...destinationProblems(flow),
    ...metadataCatalogProblems(flow),
    ...triggerProblems(flow),
    // Schedules forceflow can evaluate, and fields it would otherwise accept and ignore (src/flows/no-effect.ts).
    ...scheduleProblems(flow, now),
    ...unsupportedFieldProblems(flow),
  ];
  const src = flow.sourceFlowConfig.connectorType;
  if (!(SOURCE_CONNECTOR_TYPES as readonly string[]).includes(src)) return { problems };
  // Task problems are pushed in place (analyzeTasks' cross-checks look at the problems found so far).
  const tasks = analyzeTasks(flow.tasks, { sourceConnector: src as SourceConnectorType }, problems);
  problems.push(...partitionProblems(flow, tasks));
  return { problems, tasks };
}
