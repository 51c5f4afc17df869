import { ForceflowError } from '../core/errors.ts';
import type { PushdownFilter } from '../core/connector.ts';
import type { EntitySchema, FieldSchema, FieldType, FieldValue, RecordBatch, Row } from '../core/types.ts';
import type { SourceConnectorType, TaskDefinition, TaskType } from '../flows/schema.ts';
import { hasExactKeys, rowFrom, rowTemplate } from '../formats/rows.ts';
import { converterFor } from './convert.ts';
import { bindArithmetic, parseArithmetic } from './tasks/arithmetic.ts';
import type { ArithmeticSpec } from './tasks/arithmetic.ts';
import { bindFilters, parseFilter, toPushdown } from './tasks/filter.ts';
import type { PredicateSpec, ProjectionSpec } from './tasks/filter.ts';
import { bindMapAll, parseMapAll } from './tasks/map-all.ts';
import type { MapAllSpec } from './tasks/map-all.ts';
import { parseMap } from './tasks/map.ts';
import type { MapSpec } from './tasks/map.ts';
import { bindMask, parseMask } from './tasks/mask.ts';
import type { MaskSpec } from './tasks/mask.ts';
import { bindMerge, parseMerge } from './tasks/merge.ts';
import type { MergeSpec } from './tasks/merge.ts';
import { parsePartition } from './tasks/partition.ts';
import type { PartitionSpec } from './tasks/partition.ts';
import { parsePassthrough } from './tasks/passthrough.ts';
import type { PassthroughSpec } from './tasks/passthrough.ts';
import { bindTruncate, parseTruncate } from './tasks/truncate.ts';
import type { TruncateSpec } from './tasks/truncate.ts';
import { bindValidate, passes, parseValidate } from './tasks/validate.ts';
import type { BoundCheck, ValidateSpec } from './tasks/validate.ts';
import { quote } from './types.ts';
import type { FlowProblem, SourceName, Step, TaskContext, WorkRow } from './types.ts';

/**
 * Tasks, parsed once and compiled once into a pure batch function.
 *
 * Whatever the order of the tasks array, a record goes through these steps (docs/tasks.md "Order"):
 * 1. Filter predicates the source did not evaluate (ANDed); a failing record counts as filtered.
 * 2. Validate tasks on source fields (in array order); DropRecord counts the record as dropped.
 * 3. Mask, then Truncate, in place on source fields.
 * 4. Merge, then Arithmetic, into their destination (often temporary "F1,F2") fields.
 * 5. Validate tasks that name a Merge/Arithmetic destination.
 * 6. The output record: Map / Passthrough / Map_all / unconsumed Merge and Arithmetic results, in task
 *    array order; Map converts to DESTINATION_DATA_TYPE. Projected fields appear only when mapped.
 * Partition does not touch records: its keys go to the destination through the plan.
 */

export interface AnalyzedTasks {
  readonly projections: readonly ProjectionSpec[];
  readonly predicates: readonly PredicateSpec[];
  readonly maps: readonly MapSpec[];
  readonly mapAll?: MapAllSpec;
  readonly passthroughs: readonly PassthroughSpec[];
  readonly merges: readonly MergeSpec[];
  readonly arithmetics: readonly ArithmeticSpec[];
  readonly masks: readonly MaskSpec[];
  readonly truncates: readonly TruncateSpec[];
  readonly validations: readonly ValidateSpec[];
  readonly partition?: PartitionSpec;
}

export interface AnalyzeOptions {
  readonly sourceConnector: SourceConnectorType;
  /** The connectorOperator keys the source connector accepts (the registry's `operatorKeys`; default: its type). */
  readonly operatorKeys?: readonly string[];
}

const OPERATOR_REQUIRED = new Set(['Filter', 'Arithmetic', 'Mask', 'Validate']);

function checkOperatorKey(ctx: TaskContext): void {
  const op = ctx.task.connectorOperator;
  const type = ctx.task.taskType;
  const keys = op === undefined ? [] : Object.keys(op).filter((k) => (op as Record<string, unknown>)[k] !== undefined);
  if (keys.length === 0) {
    if (OPERATOR_REQUIRED.has(type)) {
      const example = type === 'Filter' ? 'PROJECTION' : type === 'Arithmetic' ? 'ADDITION' : type === 'Mask' ? 'MASK_ALL' : 'VALIDATE_NON_NULL';
      ctx.problems.push({ path: `tasks[${ctx.index}]`, message: `a ${type} task needs a connectorOperator. Add "connectorOperator": {"${ctx.sourceConnector}": "${example}"}.` });
    }
    return;
  }
  const accepted = ctx.operatorKeys;
  if (keys.length > 1) {
    ctx.problems.push({ path: `tasks[${ctx.index}].connectorOperator`, message: `has ${keys.length} keys (${keys.join(', ')}). Keep only "${ctx.sourceConnector}", the source connectorType.` });
    return;
  }
  const key = keys[0] as string;
  if (!accepted.includes(key)) {
    const value = (op as Record<string, string>)[key] ?? 'NO_OP';
    ctx.problems.push({ path: `tasks[${ctx.index}].connectorOperator.${key}`, message: `is keyed by ${key} but the source connectorType is ${ctx.sourceConnector}. Write {"${ctx.sourceConnector}": "${value}"}.` });
    return;
  }
  const value = (op as Record<string, string>)[key] as string;
  if (!OPERATOR_REQUIRED.has(type) && value !== 'NO_OP') {
    ctx.problems.push({ path: `tasks[${ctx.index}].connectorOperator.${key}`, message: `a ${type} task takes the NO_OP operator, got ${value}. Set it to "NO_OP".` });
  }
}

/** Parses every task, reporting each problem with its path. Never throws. */
export function analyzeTasks(tasks: readonly TaskDefinition[], options: AnalyzeOptions, problems: FlowProblem[]): AnalyzedTasks {
  const projections: ProjectionSpec[] = [];
  const predicates: PredicateSpec[] = [];
  const maps: MapSpec[] = [];
  const mapAlls: MapAllSpec[] = [];
  const passthroughs: PassthroughSpec[] = [];
  const merges: MergeSpec[] = [];
  const arithmetics: ArithmeticSpec[] = [];
  const masks: MaskSpec[] = [];
  const truncates: TruncateSpec[] = [];
  const validations: ValidateSpec[] = [];
  const partitions: PartitionSpec[] = [];

  const operatorKeys = options.operatorKeys ?? [options.sourceConnector];
  tasks.forEach((task, index) => {
    const ctx: TaskContext = { index, task, sourceConnector: options.sourceConnector, operatorKeys, problems };
    const before = problems.length;
    checkOperatorKey(ctx);
    if (problems.length > before) return;
    switch (task.taskType) {
      case 'Filter': {
        const spec = parseFilter(ctx);
        if (spec?.kind === 'projection') projections.push(spec);
        else if (spec) predicates.push(spec);
        break;
      }
      case 'Map': { const s = parseMap(ctx); if (s) maps.push(s); break; }
      case 'Map_all': { const s = parseMapAll(ctx); if (s) mapAlls.push(s); break; }
      case 'Passthrough': { const s = parsePassthrough(ctx); if (s) passthroughs.push(s); break; }
      case 'Merge': { const s = parseMerge(ctx); if (s) merges.push(s); break; }
      case 'Arithmetic': { const s = parseArithmetic(ctx); if (s) arithmetics.push(s); break; }
      case 'Mask': { const s = parseMask(ctx); if (s) masks.push(s); break; }
      case 'Truncate': { const s = parseTruncate(ctx); if (s) truncates.push(s); break; }
      case 'Validate': { const s = parseValidate(ctx); if (s) validations.push(s); break; }
      case 'Partition': { const s = parsePartition(ctx); if (s) partitions.push(s); break; }
    }
  });

  if (mapAlls.length > 1) {
    problems.push({ path: `tasks[${mapAlls[1]?.index}]`, message: `is a second Map_all task (the first is tasks[${mapAlls[0]?.index}]). Keep one and merge their EXCLUDE_SOURCE_FIELDS_LIST.` });
  }
  if (partitions.length > 1) {
    problems.push({ path: `tasks[${partitions[1]?.index}]`, message: `is a second Partition task (the first is tasks[${partitions[0]?.index}]). Keep one with every key in ORDERED_PARTITION_KEYS_LIST.` });
  }
  const analyzed: AnalyzedTasks = {
    projections, predicates, maps, passthroughs, merges, arithmetics, masks, truncates, validations,
    ...(mapAlls[0] ? { mapAll: mapAlls[0] } : {}),
    ...(partitions[0] ? { partition: partitions[0] } : {}),
  };
  crossCheck(tasks, analyzed, problems);
  return analyzed;
}

function hasParseProblems(tasks: readonly TaskDefinition[], problems: readonly FlowProblem[]): boolean {
  return tasks.length > 0 && problems.some((p) => p.path.startsWith('tasks['));
}

function crossCheck(tasks: readonly TaskDefinition[], a: AnalyzedTasks, problems: FlowProblem[]): void {
  const hasProjectionTask = tasks.some((t) => t.taskType === 'Filter' && Object.values(t.connectorOperator ?? {}).includes('PROJECTION'));
  if (!hasProjectionTask && !tasks.some((t) => t.taskType === 'Map_all')) {
    problems.push({
      path: 'tasks',
      message: 'Task Validation Error: You must specify a projection task or a MAP_ALL task. Add a Filter task with the PROJECTION operator listing the source fields to read (and a Map task per field), or a Map_all task with "sourceFields": [].',
    });
    return;
  }
  if (hasParseProblems(tasks, problems)) return; // the rest would only repeat those problems

  const projected = new Set(a.projections.flatMap((p) => p.fields));
  const restrictRead = a.projections.length > 0;
  const computed = new Map<string, string>();
  for (const c of [...a.merges, ...a.arithmetics]) computed.set(c.destination, c.kind === 'merge' ? 'Merge' : 'Arithmetic');

  const needSource = (index: number, sub: string, field: string, allowComputed: boolean): void => {
    if (allowComputed && computed.has(field)) return;
    if (restrictRead && !projected.has(field)) {
      const first = a.projections[0]?.index ?? 0;
      const extra = !allowComputed && computed.has(field) ? ` It is written by a ${computed.get(field)} task, which runs after this task.` : '';
      problems.push({ path: `tasks[${index}].${sub}`, message: `${quote(field)} is not read: it is not in the PROJECTION task's sourceFields.${extra} Add it to tasks[${first}].sourceFields or fix the name.` });
    }
  };
  for (const m of a.maps) needSource(m.index, 'sourceFields[0]', m.source, true);
  for (const p of a.passthroughs) needSource(p.index, 'sourceFields[0]', p.source, true);
  for (const v of a.validations) v.fields.forEach((f, i) => needSource(v.index, `sourceFields[${i}]`, f, true));
  for (const m of a.masks) m.fields.forEach((f, i) => needSource(m.index, `sourceFields[${i}]`, f, false));
  for (const t of a.truncates) t.fields.forEach((f, i) => needSource(t.index, `sourceFields[${i}]`, f, false));
  for (const m of a.merges) m.fields.forEach((f, i) => needSource(m.index, `sourceFields[${i}]`, f, false));
  for (const ar of a.arithmetics) [ar.left, ar.right].forEach((f, i) => needSource(ar.index, `sourceFields[${i}]`, f, false));

  const outputs = outputEntries(a);
  const writers = new Map<string, number>();
  for (const o of outputs) {
    const prev = writers.get(o.name);
    if (prev !== undefined) {
      problems.push({ path: `tasks[${o.index}].destinationField`, message: `${quote(o.name)} is already written by tasks[${prev}]. Give each destination field one task.` });
    } else writers.set(o.name, o.index);
  }
  if (outputs.length === 0 && a.mapAll === undefined) {
    problems.push({
      path: 'tasks',
      message: 'no task writes a destination field, so every record would be empty (AppFlow writes projected fields only when a task maps them). Add a Map task for each projected field, or a Map_all task.',
    });
  }
  if (a.partition && a.mapAll === undefined) {
    a.partition.keys.forEach((k, i) => {
      if (!writers.has(k)) {
        problems.push({ path: `tasks[${a.partition?.index}].taskProperties.ORDERED_PARTITION_KEYS_LIST[${i}]`, message: `${quote(k)} is not a destination field of this flow. Partition keys name destination fields: map ${quote(k)} or fix the name.` });
      }
    });
  }
  if (a.partition && a.mapAll) {
    a.partition.keys.forEach((k, i) => {
      if (a.mapAll?.exclude.includes(k) && !writers.has(k)) {
        problems.push({ path: `tasks[${a.partition?.index}].taskProperties.ORDERED_PARTITION_KEYS_LIST[${i}]`, message: `${quote(k)} is excluded by Map_all's EXCLUDE_SOURCE_FIELDS_LIST, so it is not a destination field. Remove it from one of the two lists.` });
      }
    });
  }
}

/** One explicit output field, in task order (Map_all expands at run time). */
interface OutputEntry {
  readonly index: number;
  readonly name: string;
  readonly from: string;
  readonly kind: 'map' | 'passthrough' | 'computed';
  readonly destinationType?: FieldType;
  readonly sourceType?: FieldType;
  readonly computedType?: FieldType;
}

function outputEntries(a: AnalyzedTasks): OutputEntry[] {
  const consumed = new Set([...a.maps.map((m) => m.source), ...a.passthroughs.map((p) => p.source)]);
  const entries: OutputEntry[] = [];
  for (const m of a.maps) entries.push({ index: m.index, name: m.destination, from: m.source, kind: 'map', ...(m.destinationType ? { destinationType: m.destinationType } : {}), ...(m.sourceType ? { sourceType: m.sourceType } : {}) });
  for (const p of a.passthroughs) entries.push({ index: p.index, name: p.destination, from: p.source, kind: 'passthrough' });
  for (const c of [...a.merges, ...a.arithmetics]) {
    if (!consumed.has(c.destination)) entries.push({ index: c.index, name: c.destination, from: c.destination, kind: 'computed', computedType: c.kind === 'merge' ? 'string' : 'double' });
  }
  return entries.sort((x, y) => x.index - y.index);
}

/** A bind function: the steps the tasks of one kind run on each record, bound to an input schema. */
type StepBinder = (a: AnalyzedTasks, sourceName: SourceName) => Step[];

function stepsOf<S>(specs: (a: AnalyzedTasks) => readonly S[], bind: (spec: S, sourceName: SourceName) => Step[]): StepBinder {
  return (a, sourceName) => specs(a).flatMap((spec) => bind(spec, sourceName));
}

/**
 * The task kinds that change the working record, each with its bind function (beside its parser in
 * src/mapping/tasks/), in the order their steps run (docs/tasks.md "Order"). The other kinds bind
 * through their own stage of `bind` below: Filter (bindFilters) before the steps, Validate (bindValidate)
 * before and after them, Map / Passthrough / Map_all (bindMapAll) into the output; Partition does not
 * touch records.
 */
const STEP_BINDERS: readonly (readonly [TaskType, StepBinder])[] = [
  ['Mask', stepsOf((a) => a.masks, bindMask)],
  ['Truncate', stepsOf((a) => a.truncates, bindTruncate)],
  ['Merge', stepsOf((a) => a.merges, bindMerge)],
  ['Arithmetic', stepsOf((a) => a.arithmetics, bindArithmetic)],
];

/** What the engine does per record, for one input schema. */
interface Bound {
  readonly schema: EntitySchema;
  readonly filter?: (row: Row) => boolean;
  readonly steps: readonly Step[];
  readonly pre: readonly BoundCheck[];
  readonly post: readonly BoundCheck[];
  readonly outputs: readonly { readonly name: string; readonly get: (work: WorkRow) => FieldValue }[];
  /** A new output row holding every output key (null), in order; the getters fill it. */
  readonly template: Row;
  /**
   * Only Map_all, copying every input field unchanged: a row that already has exactly the output keys in
   * order (see hasExactKeys) is passed on as it is instead of copied. Rows are immutable data downstream.
   */
  readonly identity: boolean;
}

export interface TransformContext {
  /** Zero-based position of the batch's first record in the run, for error messages. */
  readonly firstIndex?: number;
}

export interface TransformResult {
  readonly batch: RecordBatch;
  /** Records removed by engine-side Filter tasks. */
  readonly filtered: number;
  /** Records dropped by Validate tasks with VALIDATION_ACTION DropRecord. */
  readonly dropped: number;
}

export type BatchTransform = (batch: RecordBatch, ctx?: TransformContext) => TransformResult;

export interface CompiledTasks {
  readonly analyzed: AnalyzedTasks;
  /** Filters for the source to evaluate (empty unless the source pushes down). */
  readonly pushdown: readonly PushdownFilter[];
  /** Filters the engine evaluates. */
  readonly engineFilters: readonly PredicateSpec[];
  /** Source fields to read; undefined means every field (Map_all without a projection). */
  readonly readFields?: readonly string[];
  /** Map_all exclusions that no other task needs: fields never to read. */
  readonly excludeFields: readonly string[];
  readonly partitionKeys: readonly string[];
  /** The output fields known from the definition alone (Map_all adds the source's fields at run time). */
  readonly staticOutputFields: readonly { readonly name: string; readonly type?: FieldType }[];
  readonly outputSchema: (input: EntitySchema) => EntitySchema;
  readonly transform: BatchTransform;
}

function resolver(schema: EntitySchema): (name: string) => FieldSchema | undefined {
  const exact = new Map(schema.fields.map((f) => [f.name, f]));
  const folded = new Map<string, FieldSchema | null>();
  for (const f of schema.fields) {
    const k = f.name.toLowerCase();
    folded.set(k, folded.has(k) ? null : f);
  }
  return (name) => exact.get(name) ?? folded.get(name.toLowerCase()) ?? undefined;
}

/**
 * Compiles analyzed tasks (with no problems) into the batch transform. `pushdown` says whether the
 * source evaluates Filter predicates itself (Salesforce) or the engine must (files).
 */
export function compileTasks(a: AnalyzedTasks, options: { readonly pushdown: boolean; readonly entity?: string; readonly dynamicFields?: boolean }): CompiledTasks {
  // With dynamic fields and Map_all, the projection no longer limits what is read and copied.
  const projections = options.dynamicFields && a.mapAll ? [] : a.projections;
  const engineFilters = options.pushdown ? [] : [...a.predicates];
  const pushdown = options.pushdown ? a.predicates.flatMap(toPushdown) : [];
  const outputs = outputEntries(a);
  const computedNames = new Set([...a.merges, ...a.arithmetics].map((c) => c.destination));
  const preValidations = a.validations.filter((v) => !v.fields.some((f) => computedNames.has(f)));
  const postValidations = a.validations.filter((v) => v.fields.some((f) => computedNames.has(f)));

  const referenced = new Set<string>([
    ...a.maps.map((m) => m.source), ...a.passthroughs.map((p) => p.source),
    ...a.validations.flatMap((v) => v.fields), ...a.masks.flatMap((m) => m.fields), ...a.truncates.flatMap((t) => t.fields),
    ...a.merges.flatMap((m) => m.fields), ...a.arithmetics.flatMap((x) => [x.left, x.right]),
    ...engineFilters.map((f) => f.field),
  ].filter((f) => !computedNames.has(f)));
  const exclusions = a.mapAll ? a.mapAll.exclude.filter((f) => !referenced.has(f)) : [];
  let readFields: string[] | undefined;
  if (projections.length > 0) {
    const fields = new Set(projections.flatMap((p) => p.fields));
    for (const f of engineFilters) fields.add(f.field);
    readFields = [...fields].filter((f) => !exclusions.includes(f));
  }
  const excludeFields = readFields === undefined ? exclusions : [];

  const entity = options.entity ?? 'source';
  const missing = (name: string, index: number): ForceflowError =>
    new ForceflowError('FIELD_NOT_FOUND', `tasks[${index}] names the field ${quote(name)}, which ${entity} does not have. Fix the field name in the flow (Salesforce API names, such as "AnnualRevenue") or remove the task.`, { details: { field: name, task: index, entity } });

  const bind = (schema: EntitySchema): Bound & { out: EntitySchema } => {
    const resolve = resolver(schema);
    const sourceName = (name: string, index: number): string => {
      if (computedNames.has(name)) return name;
      const f = resolve(name);
      if (f === undefined) throw missing(name, index);
      return f.name;
    };
    // Every referenced source field must exist (the first missing one, in this order, is reported);
    // bound tasks use the schema's spelling of each name.
    const filter = bindFilters(engineFilters, sourceName);
    const steps = STEP_BINDERS.flatMap(([, bindKind]) => bindKind(a, sourceName));
    const pre = preValidations.flatMap((v) => bindValidate(v, sourceName));
    const post = postValidations.flatMap((v) => bindValidate(v, sourceName));

    const fieldsOut: FieldSchema[] = [];
    const getters: { name: string; get: (w: WorkRow) => FieldValue }[] = [];
    const explicit = new Set(outputs.map((o) => o.name));
    const computedType = new Map<string, FieldType>([...a.merges.map((m) => [m.destination, 'string'] as const), ...a.arithmetics.map((x) => [x.destination, 'double'] as const)]);
    const emit = (o: OutputEntry): void => {
      const from = sourceName(o.from, o.index);
      const srcField = computedNames.has(from) ? undefined : resolve(from);
      const srcType = computedType.get(from) ?? srcField?.type ?? o.sourceType ?? 'string';
      if (o.kind === 'map' && o.destinationType !== undefined) {
        const conv = converterFor(o.destinationType);
        getters.push({ name: o.name, get: (w) => conv(w[from]) });
        fieldsOut.push({ name: o.name, type: o.destinationType });
      } else {
        getters.push({ name: o.name, get: (w) => w[from] ?? null });
        fieldsOut.push({ name: o.name, type: o.kind === 'computed' ? (o.computedType ?? 'string') : srcType, ...(srcField?.label ? { label: srcField.label } : {}) });
      }
    };
    let expanded = false;
    const expandMapAll = (): void => {
      if (!a.mapAll || expanded) return;
      expanded = true;
      const projected = projections.length > 0 ? projections.flatMap((p) => p.fields) : undefined;
      for (const f of bindMapAll(a.mapAll, schema, resolve, projected, explicit)) {
        const name = f.name;
        getters.push({ name, get: (w) => w[name] ?? null });
        fieldsOut.push(f);
      }
    };
    for (const o of outputs) {
      if (a.mapAll && a.mapAll.index < o.index) expandMapAll();
      emit(o);
    }
    expandMapAll();
    const out: EntitySchema = { entity: schema.entity, fields: fieldsOut };
    const identity = filter === undefined && steps.length === 0 && pre.length === 0 && post.length === 0 && outputs.length === 0
      && fieldsOut.length === schema.fields.length && fieldsOut.every((f, i) => f === schema.fields[i]);
    const template = rowTemplate(getters.map((g) => g.name));
    return { schema, ...(filter ? { filter } : {}), steps, pre, post, outputs: getters, template, identity, out };
  };

  let last: (Bound & { out: EntitySchema }) | undefined;
  const bound = (schema: EntitySchema): Bound & { out: EntitySchema } => {
    if (last?.schema !== schema) last = bind(schema);
    return last;
  };

  const fail = (v: ValidateSpec, field: string, value: FieldValue | undefined, position: number, relative: boolean): ForceflowError => {
    const what = value === null || value === undefined ? 'is null' : v.check === 'VALIDATE_NON_ZERO' ? 'is 0' : v.check === 'VALIDATE_NON_NEGATIVE' ? 'is negative' : 'is not numeric';
    const where = relative ? `record ${position + 1} of its batch` : `record ${position + 1} of the run (index ${position})`;
    return new ForceflowError('RECORD_VALIDATION_FAILED', `${where} failed ${v.check} on field ${quote(field)}: the value ${what} (tasks[${v.index}], VALIDATION_ACTION TerminateFlow). Fix the source data, or set VALIDATION_ACTION to DropRecord to skip such records.`, { details: { index: position, field, task: v.index, check: v.check } });
  };

  /** Runs validations; false when the record is dropped, throws when the flow must terminate. */
  const validate = (list: readonly BoundCheck[], w: Row, position: number, relative: boolean): boolean => {
    for (const c of list) {
      const value = w[c.name];
      if (passes(value, c.spec.check)) continue;
      if (c.spec.action === 'DropRecord') return false;
      throw fail(c.spec, c.field, value, position, relative);
    }
    return true;
  };

  const transform: BatchTransform = (batch, ctx) => {
    const b = bound(batch.schema);
    const relative = ctx?.firstIndex === undefined;
    const base = ctx?.firstIndex ?? 0;
    const rows: Row[] = [];
    let filtered = 0;
    let dropped = 0;
    const copy = b.steps.length > 0;
    const { filter, pre, post, steps, outputs: getters, template } = b;
    const n = getters.length;
    if (batch.encoded !== undefined) {
      // Lines a source encoded for a flow that writes its rows unchanged (ReadRequest.encodeAs): passed on as they are.
      if (!b.identity) throw new ForceflowError('INTERNAL', 'A source gave encoded lines to tasks that change its rows.');
      return { batch: { rows: [], schema: b.out, encoded: batch.encoded }, filtered, dropped };
    }
    if (b.identity) {
      const names = b.out.fields.map((f) => f.name);
      for (const row of batch.rows) {
        if (hasExactKeys(row, names)) {
          rows.push(row);
          continue;
        }
        const out = rowFrom(template);
        for (let k = 0; k < n; k++) { const o = getters[k] as Bound['outputs'][number]; out[o.name] = o.get(row); }
        rows.push(out);
      }
      return { batch: { rows, schema: b.out }, filtered, dropped };
    }
    for (let i = 0; i < batch.rows.length; i++) {
      const row = batch.rows[i] as Row;
      if (filter && !filter(row)) { filtered++; continue; }
      if (pre.length > 0 && !validate(pre, row, base + i, relative)) { dropped++; continue; }
      const work: WorkRow = copy ? rowFrom(row) : row;
      for (const step of steps) step(work);
      if (post.length > 0 && !validate(post, work, base + i, relative)) { dropped++; continue; }
      const out = rowFrom(template);
      for (let k = 0; k < n; k++) { const o = getters[k] as Bound['outputs'][number]; out[o.name] = o.get(work); }
      rows.push(out);
    }
    return { batch: { rows, schema: b.out }, filtered, dropped };
  };

  return {
    analyzed: a,
    pushdown,
    engineFilters,
    ...(readFields ? { readFields } : {}),
    excludeFields,
    partitionKeys: a.partition?.keys ?? [],
    staticOutputFields: outputs.map((o) => ({ name: o.name, ...(o.destinationType ? { type: o.destinationType } : o.computedType ? { type: o.computedType } : {}) })),
    outputSchema: (input) => bound(input).out,
    transform,
  };
}
