import type { FieldValue } from '../../core/types.ts';
import { toNumber } from '../convert.ts';
import { operatorOf, prop, quote, report } from '../types.ts';
import type { SourceName, TaskContext } from '../types.ts';

/**
 * Validate: tests each source field of every record. VALIDATE_NON_NULL fails on null or a missing field
 * (the empty string is a value and passes); VALIDATE_NON_ZERO fails on 0 (a number or numeric text);
 * VALIDATE_NON_NEGATIVE fails below 0; VALIDATE_NUMERIC fails on a value that is neither a number nor
 * numeric text. Each check tests one thing: null passes every check but NON_NULL (combine it with
 * VALIDATE_NON_NULL to reject nulls too).
 * VALIDATION_ACTION: DropRecord ("Ignore record") drops the failing record and counts it; TerminateFlow
 * or DropDataset (the spelling cdk-appflow emits) ends the run with RECORD_VALIDATION_FAILED naming the
 * record position and field.
 */
export type ValidationCheck = 'VALIDATE_NON_NULL' | 'VALIDATE_NON_ZERO' | 'VALIDATE_NON_NEGATIVE' | 'VALIDATE_NUMERIC';
export type ValidationAction = 'DropRecord' | 'TerminateFlow';

export interface ValidateSpec {
  readonly kind: 'validate';
  readonly index: number;
  readonly fields: readonly string[];
  readonly check: ValidationCheck;
  readonly action: ValidationAction;
}

const CHECKS: readonly string[] = ['VALIDATE_NON_NULL', 'VALIDATE_NON_ZERO', 'VALIDATE_NON_NEGATIVE', 'VALIDATE_NUMERIC'];
const ACTIONS: Readonly<Record<string, ValidationAction>> = {
  droprecord: 'DropRecord', terminateflow: 'TerminateFlow', dropdataset: 'TerminateFlow',
};

export function parseValidate(ctx: TaskContext): ValidateSpec | undefined {
  const op = operatorOf(ctx);
  if (op === undefined) return undefined;
  if (!CHECKS.includes(op)) return report(ctx, 'connectorOperator', `${op} is not a validation operator. Use ${CHECKS.join(', ')}.`);
  if (ctx.task.sourceFields.length === 0) return report(ctx, 'sourceFields', 'is empty. List the field(s) to validate.');
  const raw = prop(ctx, 'VALIDATION_ACTION');
  if (raw === undefined) {
    return report(ctx, 'taskProperties', 'VALIDATION_ACTION is missing. Add "VALIDATION_ACTION": "DropRecord" to skip failing records, or "TerminateFlow" to stop the run.');
  }
  const key = raw.trim().toLowerCase();
  const action = Object.prototype.hasOwnProperty.call(ACTIONS, key) ? ACTIONS[key] : undefined;
  if (action === undefined) {
    return report(ctx, 'taskProperties.VALIDATION_ACTION', `expected DropRecord, TerminateFlow or DropDataset, got ${quote(raw)}. Use DropRecord to skip failing records or TerminateFlow to stop the run.`);
  }
  return { kind: 'validate', index: ctx.index, fields: ctx.task.sourceFields, check: op as ValidationCheck, action };
}

/** True when the value passes the check. */
export function passes(value: FieldValue | undefined, check: ValidationCheck): boolean {
  if (check === 'VALIDATE_NON_NULL') return value !== null && value !== undefined;
  if (value === null || value === undefined) return true;
  const n = typeof value === 'boolean' ? undefined : toNumber(value);
  switch (check) {
    case 'VALIDATE_NUMERIC': return n !== undefined;
    case 'VALIDATE_NON_ZERO': return n === undefined || n !== 0;
    case 'VALIDATE_NON_NEGATIVE': return n === undefined || n >= 0;
  }
}

/** A Validate task's check of one field, bound to an input schema. */
export interface BoundCheck {
  readonly spec: ValidateSpec;
  /** The field as the task names it, and as the input schema spells it. */
  readonly field: string;
  readonly name: string;
}

/** Binds a Validate task to an input schema: one check per source field, in sourceFields order. */
export function bindValidate(spec: ValidateSpec, sourceName: SourceName): BoundCheck[] {
  return spec.fields.map((f) => ({ spec, field: f, name: sourceName(f, spec.index) }));
}
