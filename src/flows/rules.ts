import { analyzeTasks } from '../mapping/compile.ts';
import type { AnalyzedTasks } from '../mapping/compile.ts';
import { toEpochMillis } from '../mapping/convert.ts';
import type { FlowProblem } from '../mapping/types.ts';
import { didYouMean } from './did-you-mean.ts';
import { scheduleProblems, unsupportedFieldProblems } from './no-effect.ts';
import { lookbackTagProblems } from './lookback-tag.ts';
import { formulaRefreshTagProblems } from './formula-refresh-tag.ts';
import { onApiReserveTagProblems } from './reserve-tag.ts';
import { bulkParallelTagProblems } from '../connectors/salesforce/split-tags.ts';
import type { ConnectorRegistry } from '../connectors/registry.ts';
import { APPFLOW_SOURCE_ONLY_CONNECTORS, OTHER_APPFLOW_CONNECTOR_TYPES } from './schema.ts';
import type { FlowDefinition, Timestamp } from './schema.ts';

/**
 * AppFlow's rules between the fields of a parsed flow definition (validate.ts parses it first). Each
 * rule is a pure function of the definition that returns its problems, each with its JSON path and a
 * sentence on what to do; `crossFieldRules` runs them in a fixed order (so messages come out in the
 * same order every time). Which connector types each side takes, and what each can do, is the
 * registry's (src/connectors/registry.ts); a connector's own rules are its `destinationProblems`.
 */

/** The problem with a connectorType forceflow does not run on this side, or undefined when it does. */
export function connectorTypeProblem(registry: ConnectorRegistry, path: string, type: string, side: 'source' | 'destination'): FlowProblem | undefined {
  const supported = registry.types(side);
  if (supported.includes(type)) return undefined;
  const list = supported.join(', ');
  if (registry.get(type) !== undefined) {
    return { path, message: `${type} cannot be a flow's ${side} in forceflow (only a ${side === 'source' ? 'destination' : 'source'}). Use one of ${list}.` };
  }
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
export function sourceConnectorProblems(flow: FlowDefinition, registry: ConnectorRegistry): FlowProblem[] {
  const src = flow.sourceFlowConfig;
  const typeProblem = connectorTypeProblem(registry, 'sourceFlowConfig.connectorType', src.connectorType, 'source');
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

/** One destination, of a type forceflow writes, with matching properties and the connector's own rules. */
export function destinationProblems(flow: FlowDefinition, registry: ConnectorRegistry): FlowProblem[] {
  const problems: FlowProblem[] = [];
  const dests = flow.destinationFlowConfigList;
  if (dests.length !== 1) {
    problems.push({
      path: 'destinationFlowConfigList',
      message: dests.length === 0
        ? `is empty. Add one destination (${orList(registry.types('destination'))}).`
        : `has ${dests.length} destinations; AppFlow transfers to one destination per flow. Keep one and make a separate flow for each other destination.`,
    });
  }
  const dest = dests[0];
  if (!dest) return problems;
  dests.forEach((d, j) => {
    const p = connectorTypeProblem(registry, `destinationFlowConfigList[${j}].connectorType`, d.connectorType, 'destination');
    if (p) problems.push(p);
    else problems.push(...propertiesProblems(`destinationFlowConfigList[${j}]`, 'destinationConnectorProperties', d.connectorType, d.destinationConnectorProperties));
  });
  const own = registry.get(dest.connectorType);
  const props = dest.destinationConnectorProperties[dest.connectorType];
  if (own?.capabilities.destination && own.destinationProblems && props !== undefined) {
    problems.push(...own.destinationProblems(props, `destinationFlowConfigList[0].destinationConnectorProperties.${dest.connectorType}`));
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

/** The trigger type and its Scheduled properties agree; Incremental pulls need a source that reads windows; the lookback tag is a number of seconds. */
export function triggerProblems(flow: FlowDefinition, registry: ConnectorRegistry): FlowProblem[] {
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
  const source = registry.get(src);
  if (sched?.dataPullMode === 'Incremental' && source?.capabilities.source && !source.capabilities.incremental) {
    const able = registry.connectors.filter((c) => c.capabilities.source && c.capabilities.incremental).map((c) => c.connectorType);
    problems.push({ path: 'triggerConfig.triggerProperties.Scheduled.dataPullMode', message: `Incremental pulls need a ${orList(able)} source, but the source is ${src}. Set dataPullMode to Complete.` });
  }
  problems.push(...lookbackTagProblems(flow));
  problems.push(...formulaRefreshTagProblems(flow, registry));
  problems.push(...onApiReserveTagProblems(flow));
  problems.push(...bulkParallelTagProblems(flow.tags));
  return problems;
}

/** Partition tasks need a file destination. */
export function partitionProblems(flow: FlowDefinition, tasks: AnalyzedTasks, registry: ConnectorRegistry): FlowProblem[] {
  const type = flow.destinationFlowConfigList[0]?.connectorType;
  const dest = type === undefined ? undefined : registry.get(type);
  if (!tasks.partition || !dest?.capabilities.destination || dest.capabilities.files) return [];
  const files = registry.connectors.filter((c) => c.capabilities.destination && c.capabilities.files).map((c) => c.connectorType);
  return [{ path: `tasks[${tasks.partition.index}]`, message: `Partition tasks only apply to file destinations (${files.join(', ')}), but the destination is ${type}. Remove the Partition task.` }];
}

/** "A, B or C". */
function orList(items: readonly string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

export interface RulesResult {
  readonly problems: readonly FlowProblem[];
  /** The parsed tasks, when the source connectorType is one forceflow reads (task rules depend on it). */
  readonly tasks?: AnalyzedTasks;
}

/** Runs every rule on a parsed definition, in order; `now` is for rules about time (a schedule already over). */
export function crossFieldRules(flow: FlowDefinition, registry: ConnectorRegistry, now: Date = new Date()): RulesResult {
  const problems: FlowProblem[] = [
    ...sourceConnectorProblems(flow, registry),
    ...apiVersionProblems(flow),
    ...destinationProblems(flow, registry),
    ...metadataCatalogProblems(flow),
    ...triggerProblems(flow, registry),
    // Schedules forceflow can evaluate, and fields it would otherwise accept and ignore (src/flows/no-effect.ts).
    ...scheduleProblems(flow, now),
    ...unsupportedFieldProblems(flow),
  ];
  const src = flow.sourceFlowConfig.connectorType;
  if (!registry.types('source').includes(src)) return { problems };
  // Task problems are pushed in place (analyzeTasks' cross-checks look at the problems found so far).
  const operatorKeys = registry.get(src)?.operatorKeys;
  const tasks = analyzeTasks(flow.tasks, { sourceConnector: src, ...(operatorKeys ? { operatorKeys } : {}) }, problems);
  problems.push(...partitionProblems(flow, tasks, registry));
  return { problems, tasks };
}
