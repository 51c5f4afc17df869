/**
 * Flow definitions: validate (AppFlow CreateFlow JSON plus LocalFile), compile to a plan, load from a file.
 * See docs/flows.md and docs/tasks.md.
 */
export { validateFlow, checkFlow, formatProblems } from './validate.ts';
export type { CheckResult, FlowProblem } from './validate.ts';
export { compileFlow } from './compile.ts';
export type {
  CompileOptions, ConnectorPlan, DestinationPlan, FlowPlan, IncrementalPlan, LocalFileDestinationPlan, LocalFileSourcePlan,
  ResolvedOutputFormat, S3DestinationPlan, S3SourcePlan, SalesforceDestinationPlan, SalesforceSourcePlan,
  SchedulePlan, SourcePlan, TriggerPlan,
} from './compile.ts';
export { loadFlowFile } from './load.ts';
export { createSchedule, nextFireTime, nextFireTimes, parseScheduleExpression, parseTimezone, MIN_PERIOD_SECONDS } from './schedule.ts';
export type { CronExpression, RateExpression, Schedule, ScheduleExpression, ScheduleInput, NextFireOptions } from './schedule.ts';
export type { LoadedFlow } from './load.ts';
export { flowJsonSchema, flowJsonSchemaText } from './json-schema.ts';
export { flowDefinitionSchema } from './schema.ts';
export type { FlowDefinition, TaskDefinition } from './schema.ts';
export type { BatchTransform, TransformContext, TransformResult } from '../mapping/compile.ts';
