import { z } from 'zod';
import { DESTINATION_CONNECTOR_TYPES, FlowDefinitionSchema, SOURCE_CONNECTOR_TYPES, TASK_PROPERTY_KEYS } from './schema.ts';

/**
 * The JSON Schema of a flow definition, for editors (VS Code: "$schema": "./docs/flow-schema.json" or a
 * json.schemas setting). Generated from the zod schema; committed as docs/flow-schema.json by
 * scripts/gen-flow-schema.ts, and a test fails when the committed file is stale.
 * The schema checks shapes, enums and keys; rules between fields (see docs/flows.md) need
 * `forceflow validate`.
 */
export const FLOW_SCHEMA_ID = 'https://forceflow.dev/schemas/flow-schema.json';

type JsonObject = Record<string, unknown>;

function at(obj: JsonObject, ...keys: string[]): JsonObject | undefined {
  let cur: unknown = obj;
  for (const k of keys) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as JsonObject)[k];
  }
  return typeof cur === 'object' && cur !== null ? (cur as JsonObject) : undefined;
}

export function flowJsonSchema(): JsonObject {
  const schema = z.toJSONSchema(FlowDefinitionSchema, { target: 'draft-2020-12', unrepresentable: 'any' }) as JsonObject;
  // Editors complete connector types from an enum; validation gives the friendlier message for others.
  const src = at(schema, 'properties', 'sourceFlowConfig', 'properties', 'connectorType');
  if (src) src.enum = [...SOURCE_CONNECTOR_TYPES];
  const dst = at(schema, 'properties', 'destinationFlowConfigList', 'items', 'properties', 'connectorType');
  if (dst) dst.enum = [...DESTINATION_CONNECTOR_TYPES];
  const list = at(schema, 'properties', 'destinationFlowConfigList');
  if (list) { list.minItems = 1; list.maxItems = 1; }
  // taskProperties may also be CloudFormation's list of {key, value}.
  const tasks = at(schema, 'properties', 'tasks', 'items', 'properties');
  if (tasks?.taskProperties) {
    tasks.taskProperties = {
      anyOf: [
        tasks.taskProperties,
        {
          type: 'array',
          description: "CloudFormation's TaskProperties form, camelCased",
          items: {
            type: 'object',
            properties: { key: { type: 'string', enum: [...TASK_PROPERTY_KEYS] }, value: { type: 'string' } },
            required: ['key', 'value'],
            additionalProperties: false,
          },
        },
      ],
    };
  }
  // CloudFormation's spellings that validation rewrites: Tags as a list of {key, value}, Scheduled.timeZone.
  const props = at(schema, 'properties');
  if (props?.tags) {
    props.tags = {
      anyOf: [
        props.tags,
        {
          type: 'array',
          description: "CloudFormation's Tags form, camelCased",
          items: { type: 'object', properties: { key: { type: 'string' }, value: { type: 'string' } }, required: ['key', 'value'], additionalProperties: false },
        },
      ],
    };
  }
  const scheduled = at(schema, 'properties', 'triggerConfig', 'properties', 'triggerProperties', 'properties', 'Scheduled', 'properties');
  if (scheduled?.timezone) scheduled.timeZone = { ...(scheduled.timezone as JsonObject), description: "CloudFormation's TimeZone, camelCased: the same as timezone" };
  return { $id: FLOW_SCHEMA_ID, ...schema, description: 'An Amazon AppFlow CreateFlow definition (API JSON) as forceflow runs it. See docs/flows.md.' };
}

/** The committed text of docs/flow-schema.json. */
export function flowJsonSchemaText(): string {
  return `${JSON.stringify(flowJsonSchema(), null, 2)}\n`;
}
