import { report, singleSourceField } from '../types.ts';
import type { TaskContext } from '../types.ts';

/**
 * Passthrough: AppFlow documents nothing beyond the name. forceflow copies one source field to
 * destinationField (default: the same name) unchanged, with no type conversion even when the task
 * carries data types, and the output keeps the source field's type.
 */
export interface PassthroughSpec {
  readonly kind: 'passthrough';
  readonly index: number;
  readonly source: string;
  readonly destination: string;
}

export function parsePassthrough(ctx: TaskContext): PassthroughSpec | undefined {
  const source = singleSourceField(ctx, 'the field to pass through');
  if (source === undefined) return undefined;
  const destination = ctx.task.destinationField ?? source;
  if (destination === '') return report(ctx, 'destinationField', 'is empty. Write the destination field name, or leave it out to keep the source name.');
  return { kind: 'passthrough', index: ctx.index, source, destination };
}
