import { z } from 'zod';
import { defaultRegistry, type ConnectorRegistry } from '../connectors/registry.ts';
import { flowDefinitionSchema } from './schema.ts';

/**
 * The JSON Schema of a flow definition, for editors (VS Code: "$schema": "./docs/flow-schema.json" or a
 * json.schemas setting). Generated from the zod schema; committed as docs/flow-schema.json by
 * scripts/gen-flow-schema.ts, and a test fails when the committed file is stale.
 * The schema checks shapes, enums and keys, and shows the input forms parsing accepts (CloudFormation's
 * spellings included, from the zod schema itself); rules between fields (see docs/flows.md) need
 * `forceflow validate`. The connector parts (and the connectorType enums) are the registry's.
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

export function flowJsonSchema(registry: ConnectorRegistry = defaultRegistry()): JsonObject {
  const schema = z.toJSONSchema(flowDefinitionSchema(registry), { target: 'draft-2020-12', unrepresentable: 'any', io: 'input' }) as JsonObject;
  // Editors complete connector types from an enum; validation gives the friendlier message for others.
  const src = at(schema, 'properties', 'sourceFlowConfig', 'properties', 'connectorType');
  if (src) src.enum = [...registry.types('source')];
  const dst = at(schema, 'properties', 'destinationFlowConfigList', 'items', 'properties', 'connectorType');
  if (dst) dst.enum = [...registry.types('destination')];
  const list = at(schema, 'properties', 'destinationFlowConfigList');
  if (list) { list.minItems = 1; list.maxItems = 1; }
  return { $id: FLOW_SCHEMA_ID, ...schema, description: 'An Amazon AppFlow CreateFlow definition (API JSON) as forceflow runs it. See docs/flows.md.' };
}

/** The committed text of docs/flow-schema.json. */
export function flowJsonSchemaText(registry?: ConnectorRegistry): string {
  return `${JSON.stringify(flowJsonSchema(registry), null, 2)}\n`;
}
