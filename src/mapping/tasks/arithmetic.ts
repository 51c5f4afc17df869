import type { FieldValue, Row } from '../../core/types.ts';
import { clean, toNumber } from '../convert.ts';
import { operatorOf, prop, quote, report } from '../types.ts';
import type { SourceName, Step, TaskContext } from '../types.ts';

/**
 * Arithmetic: ADDITION, SUBTRACTION, MULTIPLICATION or DIVISION of two numeric source fields, in the
 * order MATH_OPERATION_FIELDS_ORDER gives ("F1,F2" computes F1 op F2; default: the sourceFields order).
 * Operands may be numbers or numeric text. The result is a double with floating-point noise removed
 * (15 significant digits). It is null when an operand is null or not numeric, and for division by zero.
 * Without destinationField the result goes to the temporary field "F1,F2" for a following Map.
 */
export type MathOperation = 'ADDITION' | 'SUBTRACTION' | 'MULTIPLICATION' | 'DIVISION';

export interface ArithmeticSpec {
  readonly kind: 'arithmetic';
  readonly index: number;
  readonly operation: MathOperation;
  readonly left: string;
  readonly right: string;
  readonly destination: string;
}

const OPS: readonly string[] = ['ADDITION', 'SUBTRACTION', 'MULTIPLICATION', 'DIVISION'];

export function parseArithmetic(ctx: TaskContext): ArithmeticSpec | undefined {
  const op = operatorOf(ctx);
  if (op === undefined) return undefined;
  if (!OPS.includes(op)) return report(ctx, 'connectorOperator', `${op} is not an arithmetic operator. Use ADDITION, SUBTRACTION, MULTIPLICATION or DIVISION.`);
  const fields = ctx.task.sourceFields;
  if (fields.length !== 2 || fields.some((f) => f === '')) {
    return report(ctx, 'sourceFields', `an Arithmetic task takes exactly two source fields, got ${fields.length}. List the two numeric fields.`);
  }
  let [left, right] = fields as [string, string];
  const order = prop(ctx, 'MATH_OPERATION_FIELDS_ORDER');
  if (order !== undefined) {
    const names = order.split(',').map((s) => s.trim());
    if (names.length !== 2 || !names.every((n) => fields.includes(n)) || names[0] === names[1] && left !== right) {
      return report(ctx, 'taskProperties.MATH_OPERATION_FIELDS_ORDER', `expected the two source fields separated by a comma, such as ${quote(`${left},${right}`)}, got ${quote(order)}. Name both sourceFields in the order of the operation.`);
    }
    [left, right] = names as [string, string];
  }
  const destination = ctx.task.destinationField ?? fields.join(',');
  return { kind: 'arithmetic', index: ctx.index, operation: op as MathOperation, left, right, destination };
}

export function computeArithmetic(row: Row, spec: Pick<ArithmeticSpec, 'operation' | 'left' | 'right'>): FieldValue {
  const a = toNumber(row[spec.left]);
  const b = toNumber(row[spec.right]);
  if (a === undefined || b === undefined) return null;
  switch (spec.operation) {
    case 'ADDITION': return clean(a + b);
    case 'SUBTRACTION': return clean(a - b);
    case 'MULTIPLICATION': return clean(a * b);
    case 'DIVISION': return b === 0 ? null : clean(a / b);
  }
}

/** Binds an Arithmetic task to an input schema: one step writing its destination field. */
export function bindArithmetic(spec: ArithmeticSpec, sourceName: SourceName): Step[] {
  const bound = { operation: spec.operation, left: sourceName(spec.left, spec.index), right: sourceName(spec.right, spec.index) };
  return [(w) => { w[spec.destination] = computeArithmetic(w, bound); }];
}
