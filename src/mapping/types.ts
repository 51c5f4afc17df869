import type { FieldValue } from '../core/types.ts';
import type { ConnectorOperatorName, SourceConnectorType, TaskDefinition, TaskPropertyKey } from '../flows/schema.ts';

/** One problem found in a definition: the JSON path and a sentence that says what is wrong and what to do. */
export interface FlowProblem {
  readonly path: string;
  readonly message: string;
}

/** What a task parser needs: where the task is and which connector its operators are keyed by. */
export interface TaskContext {
  readonly index: number;
  readonly task: TaskDefinition;
  readonly sourceConnector: SourceConnectorType;
  /** The connectorOperator keys the source connector accepts, in the order they are read (the registry's). */
  readonly operatorKeys: readonly string[];
  readonly problems: FlowProblem[];
}

/** The working record a compiled transform step reads and writes (source fields plus temporary fields). */
export type WorkRow = Record<string, FieldValue>;

/**
 * What a task's bind function gets from the compiler: the input schema's spelling of a field the task at
 * `index` names (throws FIELD_NOT_FOUND when the schema lacks it; fields computed by Merge/Arithmetic pass).
 */
export type SourceName = (name: string, index: number) => string;

/** One in-place step of a bound task on the working record. */
export type Step = (work: WorkRow) => void;

export function taskPath(ctx: TaskContext, sub?: string): string {
  const base = `tasks[${ctx.index}]`;
  if (sub === undefined || sub === '') return base;
  return sub.startsWith('[') ? `${base}${sub}` : `${base}.${sub}`;
}

export function report(ctx: TaskContext, sub: string | undefined, message: string): undefined {
  ctx.problems.push({ path: taskPath(ctx, sub), message });
  return undefined;
}

export function prop(ctx: TaskContext, key: TaskPropertyKey): string | undefined {
  return ctx.task.taskProperties?.[key];
}

/** The operator of the task, read from the first of the source connector's operator keys it has. */
export function operatorOf(ctx: TaskContext): ConnectorOperatorName | undefined {
  const op = ctx.task.connectorOperator as Readonly<Record<string, ConnectorOperatorName | undefined>> | undefined;
  if (op === undefined) return undefined;
  for (const key of ctx.operatorKeys) {
    const value = op[key];
    if (value !== undefined) return value;
  }
  return undefined;
}

export function quote(value: unknown): string {
  return JSON.stringify(value);
}

/** A positive integer written as a string ("5"); reports and returns undefined otherwise. */
export function positiveIntProp(ctx: TaskContext, key: TaskPropertyKey, what: string): number | undefined {
  const raw = prop(ctx, key);
  if (raw === undefined) return report(ctx, 'taskProperties', `${key} is missing. Add "${key}": "<n>", ${what}.`);
  const trimmed = raw.trim();
  if (!/^\d+$/.test(trimmed) || Number(trimmed) < 1) {
    return report(ctx, `taskProperties.${key}`, `expected a positive integer, got ${quote(raw)}. Set it to ${what}.`);
  }
  return Number(trimmed);
}

/**
 * A list of names written as a JSON array string ('["A","B"]', as AppFlow and CloudFormation write
 * EXCLUDE_SOURCE_FIELDS_LIST) or, leniently, as comma-separated text ("A,B").
 */
export function nameListProp(ctx: TaskContext, key: TaskPropertyKey): string[] | undefined {
  const raw = prop(ctx, key);
  if (raw === undefined) return undefined;
  const text = raw.trim();
  if (text.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return report(ctx, `taskProperties.${key}`, `is not a valid JSON array: ${quote(raw)}. Write it as a JSON array of field names, for example "[\\"Phone\\",\\"Fax\\"]".`);
    }
    if (!Array.isArray(parsed) || parsed.some((v) => typeof v !== 'string' || v === '')) {
      return report(ctx, `taskProperties.${key}`, `expected a JSON array of field names, got ${quote(raw)}. Write it as "[\\"Phone\\",\\"Fax\\"]".`);
    }
    return parsed as string[];
  }
  return text === '' ? [] : text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** The task's only source field; reports when there is not exactly one. */
export function singleSourceField(ctx: TaskContext, what: string): string | undefined {
  const fields = ctx.task.sourceFields;
  if (fields.length !== 1 || fields[0] === undefined || fields[0] === '') {
    return report(ctx, 'sourceFields', `a ${ctx.task.taskType} task takes exactly one source field, got ${fields.length}. Put ${what} in sourceFields as a one-element list.`);
  }
  return fields[0];
}
