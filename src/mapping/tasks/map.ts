import type { FieldType } from '../../core/types.ts';
import { parseDataType } from '../convert.ts';
import { prop, quote, report, singleSourceField } from '../types.ts';
import type { TaskContext } from '../types.ts';

/**
 * Map: copies one source field (or a temporary field written by Merge/Arithmetic, such as "F1,F2") to
 * destinationField, converting the value to DESTINATION_DATA_TYPE when one is given. Without
 * destinationField the destination keeps the source name (cdk-appflow emits such Maps).
 * SOURCE_DATA_TYPE is checked for spelling and used as the field's type when the source does not say.
 */
export const DATA_TYPE_HINT = 'Use a Salesforce field type in lower case, such as "string", "id", "boolean", "int", "double", "currency", "date" or "datetime".';

export interface MapSpec {
  readonly kind: 'map';
  readonly index: number;
  readonly source: string;
  readonly destination: string;
  readonly sourceType?: FieldType;
  readonly destinationType?: FieldType;
}

export function dataTypeProp(ctx: TaskContext, key: 'SOURCE_DATA_TYPE' | 'DESTINATION_DATA_TYPE'): FieldType | undefined {
  const raw = prop(ctx, key);
  if (raw === undefined) return undefined;
  const t = parseDataType(raw);
  if (t === undefined) report(ctx, `taskProperties.${key}`, `${quote(raw)} is not a known data type. ${DATA_TYPE_HINT}`);
  return t;
}

export function parseMap(ctx: TaskContext): MapSpec | undefined {
  const source = singleSourceField(ctx, 'the field to copy');
  const sourceType = dataTypeProp(ctx, 'SOURCE_DATA_TYPE');
  const destinationType = dataTypeProp(ctx, 'DESTINATION_DATA_TYPE');
  if (source === undefined) return undefined;
  const destination = ctx.task.destinationField ?? source;
  if (destination === '') return report(ctx, 'destinationField', 'is empty. Write the destination field name, or leave it out to keep the source name.');
  return {
    kind: 'map', index: ctx.index, source, destination,
    ...(sourceType !== undefined ? { sourceType } : {}),
    ...(destinationType !== undefined ? { destinationType } : {}),
  };
}
