import { BULK_PARALLEL_JOBS_TAG, BULK_PARALLEL_MIN_BYTES_TAG, BULK_PARALLEL_MIN_RECORDS_TAG } from '../connectors/salesforce/split-tags.ts';
import { toEpochMillis } from '../mapping/convert.ts';
import type { FlowProblem } from '../mapping/types.ts';
import { nextFireTime, parseScheduleExpression, parseTimezone } from './schedule.ts';
import type { Schedule } from './schedule.ts';
import type { FlowDefinition, TaskDefinition, TaskType, Timestamp } from './schema.ts';
import { LOOKBACK_TAG } from './lookback-tag.ts';
import { ON_API_RESERVE_TAG } from './reserve-tag.ts';

/**
 * Fields a flow definition may carry that forceflow would otherwise accept and then ignore. A user must
 * never believe something happened that did not, so each one is either refused at validation (the
 * problems below, reported with the rest by validateFlow) or, for fields that are harmless or that AppFlow's
 * own describe-flow output carries, named in a notice: `forceflow validate` prints the notices, and every
 * run logs them as warnings and keeps them in its execution record (`notes`). docs/flows.md lists them all
 * ("Accepted fields that have no effect").
 */

const SCHED = 'triggerConfig.triggerProperties.Scheduled';

function epochMs(t: Timestamp): number {
  return typeof t === 'number' ? t * 1000 : toEpochMillis(t) ?? Number.NaN;
}

/** The flow's schedule as the scheduler will evaluate it, when the definition is valid and Scheduled. */
export function flowSchedule(flow: Pick<FlowDefinition, 'triggerConfig'>): Schedule | undefined {
  const sched = flow.triggerConfig.triggerProperties?.Scheduled;
  if (flow.triggerConfig.triggerType !== 'Scheduled' || !sched) return undefined;
  const expression = parseScheduleExpression(sched.scheduleExpression);
  const tz = parseTimezone(sched.timezone ?? 'UTC');
  if (!expression.ok || !tz.ok) return undefined;
  return {
    expression: expression.value,
    timezone: tz.value,
    ...(sched.scheduleStartTime !== undefined ? { startTime: new Date(epochMs(sched.scheduleStartTime)) } : {}),
    ...(sched.scheduleEndTime !== undefined ? { endTime: new Date(epochMs(sched.scheduleEndTime)) } : {}),
  };
}

/**
 * A Scheduled flow's schedule: an expression forceflow can evaluate, a real time zone, and an end that is
 * not already past (a schedule that can never fire again is refused rather than run and forgotten).
 */
export function scheduleProblems(flow: FlowDefinition, now: Date): FlowProblem[] {
  const sched = flow.triggerConfig.triggerProperties?.Scheduled;
  if (!sched) return [];
  const problems: FlowProblem[] = [];
  const expression = parseScheduleExpression(sched.scheduleExpression);
  if (!expression.ok) problems.push({ path: `${SCHED}.scheduleExpression`, message: expression.message });
  if (sched.timezone !== undefined) {
    const tz = parseTimezone(sched.timezone);
    if (!tz.ok) problems.push({ path: `${SCHED}.timezone`, message: tz.message });
  }
  if (sched.scheduleEndTime !== undefined && flow.triggerConfig.triggerType === 'Scheduled') {
    const end = epochMs(sched.scheduleEndTime);
    if (end <= now.getTime()) {
      problems.push({
        path: `${SCHED}.scheduleEndTime`,
        message: `is ${new Date(end).toISOString()}, which is already past, so the schedule would never run the flow. Set a later end time or remove it; to run the flow once, set triggerType to OnDemand.`,
      });
      return problems;
    }
  }
  if (problems.length === 0 && flow.triggerConfig.triggerType === 'Scheduled') {
    const schedule = flowSchedule(flow);
    const start = schedule?.startTime && schedule.startTime.getTime() > now.getTime() ? schedule.startTime : now;
    if (schedule && nextFireTime(schedule, new Date(start.getTime() - 1), now) === undefined) {
      const window = schedule.endTime ? ` before scheduleEndTime ${schedule.endTime.toISOString()}` : '';
      const fix = schedule.expression.kind === 'cron' ? 'Fix the day, month or year fields, or the end time.' : 'Move scheduleStartTime or scheduleEndTime, or shorten the period.';
      problems.push({
        path: `${SCHED}.scheduleExpression`,
        message: `${JSON.stringify(sched.scheduleExpression)} matches no time from now on${window} (in time zone ${schedule.timezone}), so the flow would never run. ${fix}`,
      });
    }
  }
  return problems;
}

/** Fields forceflow cannot honour, refused with what to do instead. */
export function unsupportedFieldProblems(flow: FlowDefinition): FlowProblem[] {
  const problems: FlowProblem[] = [];
  if (flow.metadataCatalogConfig?.glueDataCatalog) {
    problems.push({
      path: 'metadataCatalogConfig.glueDataCatalog',
      message: 'asks for the output to be registered in the AWS Glue Data Catalog, which forceflow does not do (it has no Glue integration), so no table would appear. Remove glueDataCatalog (an empty metadataCatalogConfig {} is fine), and catalogue the output yourself, for example with a Glue crawler over the destination prefix.',
    });
  }
  flow.destinationFlowConfigList.forEach((dest, i) => {
    const base = `destinationFlowConfigList[${i}].destinationConnectorProperties`;
    const s3 = dest.destinationConnectorProperties.S3;
    if (dest.connectorType === 'S3' && s3?.errorHandlingConfig !== undefined) {
      problems.push({
        path: `${base}.S3.errorHandlingConfig`,
        message: 'has no effect: AppFlow takes errorHandlingConfig for Salesforce destinations only, and an S3 destination has no per-record write failures to stop on or save. Remove it.',
      });
    }
    if (dest.connectorType === 'LocalFile' && flow.kmsArn !== undefined) {
      problems.push({
        path: 'kmsArn',
        message: `asks for the flow's output to be encrypted at rest with this KMS key (AppFlow: S3 server-side encryption, SSE-KMS), but the destination is LocalFile, plain files that forceflow cannot encrypt with a KMS key. Remove kmsArn, or write to S3, where forceflow applies it.`,
      });
    }
    const sf = dest.destinationConnectorProperties.Salesforce;
    const ehc = dest.connectorType === 'Salesforce' ? sf?.errorHandlingConfig : undefined;
    if (ehc) {
      if (ehc.localPath !== undefined && ehc.bucketName !== undefined) {
        problems.push({ path: `${base}.Salesforce.errorHandlingConfig.localPath`, message: 'is set together with bucketName, but the failed records go to one place. Keep bucketName (S3) or localPath (a local folder), not both.' });
      }
      if (ehc.bucketPrefix !== undefined && ehc.bucketName === undefined) {
        problems.push({ path: `${base}.Salesforce.errorHandlingConfig.bucketPrefix`, message: 'is set without bucketName, so no failed-records file would be written under it. Add bucketName, or remove bucketPrefix.' });
      }
      if (ehc.localPath !== undefined && ehc.bucketName === undefined && flow.kmsArn !== undefined) {
        problems.push({
          path: `${base}.Salesforce.errorHandlingConfig.localPath`,
          message: `writes the failed records to a local folder, but the flow's kmsArn asks for data at rest to be encrypted with a KMS key, which forceflow can do on S3 only. Use errorHandlingConfig.bucketName (the file is then SSE-KMS encrypted), or remove kmsArn.`,
        });
      }
    }
  });
  return problems;
}

/** The taskProperties each task type reads (src/mapping/tasks); any other key is accepted and has no effect. */
const TASK_PROPERTIES_READ: Readonly<Record<TaskType, readonly string[]>> = {
  Arithmetic: ['MATH_OPERATION_FIELDS_ORDER'],
  Filter: ['DATA_TYPE', 'VALUE', 'VALUES', 'LOWER_BOUND', 'UPPER_BOUND'],
  Map: ['SOURCE_DATA_TYPE', 'DESTINATION_DATA_TYPE'],
  Map_all: ['EXCLUDE_SOURCE_FIELDS_LIST', 'INCLUDE_NEW_FIELDS'],
  Mask: ['MASK_VALUE', 'MASK_LENGTH'],
  Merge: ['CONCAT_FORMAT'],
  Partition: ['ORDERED_PARTITION_KEYS_LIST'],
  Passthrough: [],
  Truncate: ['TRUNCATE_LENGTH'],
  Validate: ['VALIDATION_ACTION'],
};
/** Task types that change or check their source field in place, or write nothing: destinationField is not read. */
const NO_DESTINATION: ReadonlySet<TaskType> = new Set(['Filter', 'Mask', 'Truncate', 'Validate', 'Partition', 'Map_all']);

function taskNotices(tasks: readonly TaskDefinition[]): string[] {
  const notices: string[] = [];
  tasks.forEach((task, i) => {
    const props = task.taskProperties ?? {};
    const unread = Object.keys(props).filter((k) => (props as Record<string, unknown>)[k] !== undefined && !TASK_PROPERTIES_READ[task.taskType].includes(k));
    if (unread.length > 0) {
      const reads = TASK_PROPERTIES_READ[task.taskType];
      notices.push(`tasks[${i}].taskProperties ${unread.join(', ')} ${unread.length === 1 ? 'has' : 'have'} no effect on a ${task.taskType} task, which reads ${reads.length > 0 ? reads.join(', ') : 'no task properties'}.`);
    }
    if (task.destinationField !== undefined && NO_DESTINATION.has(task.taskType)) {
      const what = task.taskType === 'Partition' || task.taskType === 'Map_all' ? 'it writes no field of its own' : 'it works on its source field in place';
      notices.push(`tasks[${i}].destinationField has no effect on a ${task.taskType} task: ${what}. Use a Map task to write a field under another name.`);
    }
  });
  return notices;
}

/**
 * Sentences naming the accepted fields of this (valid) flow that have no effect, and why. Harmless metadata
 * (description, tags, clientToken and the fields only AppFlow's service sets) is documented, not noticed.
 */
export function flowNotices(flow: FlowDefinition): string[] {
  const notices: string[] = [];
  const sched = flow.triggerConfig.triggerProperties?.Scheduled;
  const incremental = flow.triggerConfig.triggerType === 'Scheduled' && sched?.dataPullMode === 'Incremental';
  const src = flow.sourceFlowConfig;
  if (!incremental && src.incrementalPullConfig !== undefined) {
    notices.push('sourceFlowConfig.incrementalPullConfig has no effect: the flow is not an incremental Scheduled flow (dataPullMode Incremental), so every run reads all records.');
  }
  if (incremental && src.connectorType !== 'Salesforce' && src.incrementalPullConfig?.datetimeTypeFieldName !== undefined) {
    notices.push(`sourceFlowConfig.incrementalPullConfig.datetimeTypeFieldName has no effect: an incremental ${src.connectorType} source reads the files written since the last run, by their LastModified time.`);
  }
  if (!incremental && flow.tags?.[LOOKBACK_TAG] !== undefined) {
    notices.push(`tags.${LOOKBACK_TAG} has no effect: it widens incremental windows, and the flow is not an incremental Scheduled flow (dataPullMode Incremental).`);
  }
  if (!(incremental && src.connectorType === 'Salesforce') && flow.tags?.[ON_API_RESERVE_TAG] === 'stop') {
    notices.push(`tags.${ON_API_RESERVE_TAG} "stop" has no effect: an early stop needs an incremental Salesforce source to resume from; reaching the API reserve fails the run.`);
  }
  if (sched && !incremental) {
    if ((sched.scheduleOffset ?? 0) > 0) notices.push(`${SCHED}.scheduleOffset has no effect: it shifts incremental windows, and dataPullMode is not Incremental.`);
    if (sched.firstExecutionFrom !== undefined) notices.push(`${SCHED}.firstExecutionFrom has no effect: it starts the first incremental window, and dataPullMode is not Incremental.`);
  }
  const sfSource = src.connectorType === 'Salesforce' ? src.sourceConnectorProperties.Salesforce : undefined;
  if (sfSource?.enableDynamicFieldUpdate === true && !flow.tasks.some((t) => t.taskType === 'Map_all')) {
    notices.push('sourceFlowConfig.sourceConnectorProperties.Salesforce.enableDynamicFieldUpdate has no effect without a Map_all task: explicit Map tasks copy the fields they name.');
  }
  if (src.connectorType !== 'Salesforce') {
    if (src.apiVersion !== undefined) notices.push(`sourceFlowConfig.apiVersion has no effect: it is the Salesforce API version, and the source is ${src.connectorType}.`);
    if (src.connectorProfileName !== undefined) notices.push(`sourceFlowConfig.connectorProfileName has no effect: a ${src.connectorType} source uses no connector profile.`);
    for (const tag of [BULK_PARALLEL_JOBS_TAG, BULK_PARALLEL_MIN_RECORDS_TAG, BULK_PARALLEL_MIN_BYTES_TAG]) {
      if (flow.tags?.[tag] !== undefined) notices.push(`tags.${tag} has no effect: it splits Salesforce Bulk reads, and the source is ${src.connectorType}.`);
    }
  }
  flow.destinationFlowConfigList.forEach((dest, i) => {
    const base = `destinationFlowConfigList[${i}]`;
    if (dest.connectorType !== 'Salesforce') {
      if (dest.apiVersion !== undefined) notices.push(`${base}.apiVersion has no effect: it is the Salesforce API version, and the destination is ${dest.connectorType}.`);
      if (dest.connectorProfileName !== undefined) notices.push(`${base}.connectorProfileName has no effect: a ${dest.connectorType} destination uses no connector profile.`);
    }
    const format = dest.connectorType === 'S3' ? dest.destinationConnectorProperties.S3?.s3OutputFormatConfig : dest.connectorType === 'LocalFile' ? dest.destinationConnectorProperties.LocalFile?.outputFormatConfig : undefined;
    if (format?.preserveSourceDataTyping === true && format.fileType !== 'PARQUET') {
      notices.push(`${base}: preserveSourceDataTyping has no effect: it applies to Parquet output, and fileType is ${format.fileType ?? 'the default'} (CSV and JSON lines write values as text).`);
    }
    const sf = dest.connectorType === 'Salesforce' ? dest.destinationConnectorProperties.Salesforce : undefined;
    if (sf && (sf.writeOperationType ?? 'INSERT') === 'INSERT' && (sf.idFieldNames ?? []).length > 0) {
      notices.push(`${base}.destinationConnectorProperties.Salesforce.idFieldNames has no effect: INSERT creates records and matches none (idFieldNames is for UPSERT, UPDATE and DELETE).`);
    }
    if (sf && flow.kmsArn !== undefined) {
      const ehc = sf.errorHandlingConfig;
      const errorFile = ehc?.bucketName !== undefined ? ' The failed-records file on S3 is encrypted with it (SSE-KMS).' : '';
      notices.push(`kmsArn: a Salesforce destination keeps no output of its own at rest; the temporary upload files of a Bulk API 2.0 write (in the system's temporary folder, deleted when the run ends) are not encrypted with the key.${errorFile}`);
    }
  });
  notices.push(...taskNotices(flow.tasks));
  return notices;
}

/**
 * The note a run of a Scheduled flow started by hand (forceflow run, runFlow) carries: it ran once, and
 * nothing will run it again.
 */
export function manualRunNote(flow: FlowDefinition, now: Date): string | undefined {
  const sched = flow.triggerConfig.triggerProperties?.Scheduled;
  if (flow.triggerConfig.triggerType !== 'Scheduled' || !sched) return undefined;
  const schedule = flowSchedule(flow);
  const next = schedule ? nextFireTime(schedule, now, now) : undefined;
  const nextText = next ? ` Its schedule would next fire at ${next.toISOString()}${schedule?.timezone === 'UTC' ? '' : ` (time zone ${schedule?.timezone})`}.` : '';
  const threshold = sched.flowErrorDeactivationThreshold !== undefined ? ' flowErrorDeactivationThreshold has no effect on runs started by hand.' : '';
  return `This is a Scheduled flow (${sched.scheduleExpression}) run once, by hand: forceflow run does not follow the schedule, and nothing will run the flow again.${nextText}${threshold} Run it from your own scheduler (cron, a systemd timer) to repeat it.`;
}
