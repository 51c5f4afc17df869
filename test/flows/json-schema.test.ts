import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { flowJsonSchema, flowJsonSchemaText } from '../../src/flows/json-schema.ts';
import { TASK_TYPES } from '../../src/flows/schema.ts';

describe('docs/flow-schema.json', () => {
  it('is up to date (regenerate with: node --import tsx scripts/gen-flow-schema.ts)', () => {
    const committed = readFileSync(new URL('../../docs/flow-schema.json', import.meta.url), 'utf8');
    expect(committed).toBe(flowJsonSchemaText());
  });

  it('describes the definition strictly, with enums for editors', () => {
    const schema = flowJsonSchema() as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.required).toEqual(expect.arrayContaining(['flowName', 'triggerConfig', 'sourceFlowConfig', 'destinationFlowConfigList', 'tasks']));
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.sourceFlowConfig.properties.connectorType.enum).toEqual(['Salesforce', 'S3', 'LocalFile']);
    expect(schema.properties.destinationFlowConfigList.maxItems).toBe(1);
    const task = schema.properties.tasks.items;
    expect(task.properties.taskType.enum).toEqual([...TASK_TYPES]);
    expect(task.additionalProperties).toBe(false);
    expect(task.properties.taskProperties.anyOf).toHaveLength(2);
    expect(task.properties.taskProperties.anyOf[0].additionalProperties).toBe(false);
    // CloudFormation's spellings that validation accepts are not flagged by editors either.
    expect(schema.properties.tags.anyOf.map((s: { type: string }) => s.type)).toEqual(['object', 'array']);
    expect(schema.properties.triggerConfig.properties.triggerProperties.properties.Scheduled.properties.timeZone.type).toBe('string');
    const sfDest = schema.properties.destinationFlowConfigList.items.properties.destinationConnectorProperties.properties.Salesforce;
    expect(sfDest.properties.errorHandlingConfig.properties.failOnFirstError.type).toBe('boolean');
    expect(task.properties.taskProperties.anyOf[1].type).toBe('array');
    const local = schema.properties.sourceFlowConfig.properties.sourceConnectorProperties.properties.LocalFile;
    expect(local.required).toEqual(['path', 'fileType']);
  });

  it('names every top-level key the valid fixtures use', () => {
    const schema = flowJsonSchema() as { properties: Record<string, unknown> };
    const dir = new URL('../../fixtures/flows/valid/', import.meta.url);
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
      for (const key of Object.keys(JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as object)) {
        expect(schema.properties, `${f}: ${key}`).toHaveProperty(key);
      }
    }
  });
});
