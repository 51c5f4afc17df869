import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { defineConnector, S3_OPERATORS, type AnyConnectorFactory } from '../../src/core/connector-factory.ts';
import { isForceflowError } from '../../src/core/errors.ts';
import { createRegistry, defaultRegistry } from '../../src/connectors/registry.ts';
import { localFileConnector } from '../../src/connectors/local-file/index.ts';
import { compileFlow } from '../../src/flows/compile.ts';
import { flowJsonSchema } from '../../src/flows/json-schema.ts';
import { runFlow, runPlan } from '../../src/flows/runner.ts';
import { checkFlow } from '../../src/flows/validate.ts';

/**
 * The plan is what runs (issue 12): compileFlow validates once and compiles once into a frozen plan, and
 * runPlan runs that plan as it is. The registry is how the checks see inside: a LocalFile connector whose
 * properties schema counts its parses (each validation of a flow parses it once) and whose compile and create
 * functions count their calls and keep what they were given.
 */

function countingLocalFile() {
  const real = localFileConnector();
  const counts = { parses: 0, compiles: 0, creates: 0 };
  const given: unknown[] = [];
  const sourceProperties = z.preprocess((v) => {
    counts.parses += 1;
    return v;
  }, real.sourceProperties as z.ZodType);
  const connector: AnyConnectorFactory = Object.freeze({
    ...real,
    sourceProperties,
    compileSource(p: never, ctx: Parameters<NonNullable<AnyConnectorFactory['compileSource']>>[1]) {
      counts.compiles += 1;
      return (real.compileSource as NonNullable<AnyConnectorFactory['compileSource']>)(p, ctx);
    },
    createSource(plan: never, services: Parameters<NonNullable<AnyConnectorFactory['createSource']>>[1]) {
      counts.creates += 1;
      given.push(plan);
      return (real.createSource as NonNullable<AnyConnectorFactory['createSource']>)(plan, services);
    },
  });
  return { connector, counts, given };
}

function localFlow(input: string, out: string): Record<string, unknown> {
  return {
    flowName: 'plan-once',
    triggerConfig: { triggerType: 'OnDemand' },
    sourceFlowConfig: { connectorType: 'LocalFile', sourceConnectorProperties: { LocalFile: { path: input, fileType: 'CSV' } } },
    destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: out, outputFormatConfig: { fileType: 'JSON' } } } }],
    tasks: [{ taskType: 'Map_all', sourceFields: [], taskProperties: {} }],
  };
}

describe('the plan is what runs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ff-plan-'));
  writeFileSync(join(dir, 'in.csv'), 'Id,Name\n1,Acme\n2,Globex\n');

  it('compileFlow validates once into a frozen plan; runPlan runs it as it is, never validating or compiling again', async () => {
    const { connector, counts, given } = countingLocalFile();
    const registry = createRegistry([connector]);
    const plan = compileFlow(localFlow('in.csv', 'out'), { baseDir: dir, registry });
    expect(counts).toEqual({ parses: 1, compiles: 1, creates: 0 });

    // Frozen all the way down: nothing can change what runs.
    expect(Object.isFrozen(plan)).toBe(true);
    for (const part of [plan.source, plan.destination, plan.read, plan.steps, plan.definition, plan.definition.sourceFlowConfig]) expect(Object.isFrozen(part)).toBe(true);
    expect(() => { (plan as { flowName: string }).flowName = 'other'; }).toThrow(TypeError);
    expect(() => { (plan.read as { entity: string }).entity = 'other'; }).toThrow(TypeError);
    // Relative paths were resolved from the base folder, once.
    expect(plan.baseDir).toBe(dir);
    expect(plan.source).toEqual({ connectorType: 'LocalFile', properties: { path: join(dir, 'in.csv'), fileType: 'CSV' } });

    for (const run of [1, 2]) {
      const record = await runPlan(plan);
      expect(record.executionStatus).toBe('Successful');
      expect(record.executionResult.recordsWritten).toBe(2);
      // Still one validation and one compile; the source was made from the plan's own (frozen) part.
      expect(counts).toEqual({ parses: 1, compiles: 1, creates: run });
      expect(given[run - 1]).toBe(plan.source);
    }
    const out = readFileSync((await runPlan(plan)).outputs[0] as string, 'utf8');
    expect(out.trim().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual([{ Id: '1', Name: 'Acme' }, { Id: '2', Name: 'Globex' }]);
  });

  it('runFlow (a definition) validates and compiles exactly once per run', async () => {
    const { connector, counts } = countingLocalFile();
    const registry = createRegistry([connector]);
    const record = await runFlow({ flow: localFlow(join(dir, 'in.csv'), join(dir, 'out2')), registry });
    expect(record.executionStatus).toBe('Successful');
    expect(counts).toEqual({ parses: 1, compiles: 1, creates: 1 });
  });

  it('compiles deterministically: the same definition and base folder give the same plan (what a worker rebuilds)', () => {
    const def = localFlow('in.csv', 'out');
    const a = compileFlow(def, { baseDir: dir });
    const b = compileFlow(JSON.parse(JSON.stringify(def)), { baseDir: dir });
    const data = (p: typeof a) => JSON.stringify({ ...p, connectors: [p.connectors.source.connectorType, p.connectors.destination.connectorType] });
    expect(data(b)).toBe(data(a));
    expect(b.connectors.source.connectorType).toBe('LocalFile');
    // Another base folder is another plan.
    expect(compileFlow(def, { baseDir: join(dir, 'elsewhere') }).source).not.toEqual(a.source);
  });
});

describe('the connector registry drives schema, validation, compiler and runner', () => {
  /** A connector defined in a test, registered with one line: a source of `count` generated rows. */
  const counter = defineConnector<{ count: number }, never, { connectorType: 'Counter'; count: number }, never>({
    connectorType: 'Counter',
    sourceProperties: z.strictObject({ count: z.number().int().min(0).max(1000) }),
    operators: S3_OPERATORS,
    needsProfile: false,
    capabilities: { source: true, destination: false, incremental: false, pushdownFilters: false, writeOperations: [], files: false },
    compileSource: (p) => ({ plan: { connectorType: 'Counter', count: p.count }, entity: 'Counter' }),
    createSource: (plan) => ({
      open: async () => ({
        schema: { entity: 'Counter', fields: [{ name: 'n', type: 'int' }] },
        batches: (async function* rows() {
          yield { schema: { entity: 'Counter', fields: [{ name: 'n', type: 'int' as const }] }, rows: Array.from({ length: plan.count }, (_, i) => ({ n: i + 1 })) };
        })(),
      }),
    }),
  });
  const registry = createRegistry([...defaultRegistry().connectors, counter]);
  const flow = (props: unknown, out: string): Record<string, unknown> => ({
    flowName: 'counted',
    triggerConfig: { triggerType: 'OnDemand' },
    sourceFlowConfig: { connectorType: 'Counter', sourceConnectorProperties: { Counter: props } },
    destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: out } } }],
    tasks: [{ taskType: 'Map_all', sourceFields: [], taskProperties: {} }],
  });

  it('a registered connector is a known type, its properties are checked by its schema, and it runs', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ff-counter-'));
    // Not in the default registry: "not a connector type".
    const unknown = checkFlow(flow({ count: 3 }, out));
    expect(unknown.ok).toBe(false);
    expect(unknown.problems).toEqual([{ path: 'sourceFlowConfig.sourceConnectorProperties.Counter', message: '"Counter" is not a connector type. Use one of Salesforce, S3, LocalFile.' }]);
    // Its own schema, with the path of the bad key.
    const bad = checkFlow(flow({ count: 3, extra: true }, out), { registry });
    expect(bad.problems.map((p) => p.path)).toEqual(['sourceFlowConfig.sourceConnectorProperties.Counter.extra']);
    // It can be a source only.
    const asDestination = checkFlow({ ...flow({ count: 1 }, out), destinationFlowConfigList: [{ connectorType: 'Counter', destinationConnectorProperties: { Counter: {} } }] }, { registry });
    expect(asDestination.problems).toEqual([{ path: 'destinationFlowConfigList[0].destinationConnectorProperties.Counter', message: "Counter cannot be a flow's destination in forceflow (only a source). Use one of Salesforce, S3, LocalFile." }]);

    const plan = compileFlow(flow({ count: 3 }, out), { registry });
    expect(plan.profiles).toEqual([]);
    expect(plan.source).toEqual({ connectorType: 'Counter', count: 3 });
    const record = await runPlan(plan);
    expect(record.executionStatus).toBe('Successful');
    expect(record.executionResult.recordsWritten).toBe(3);
    expect(readFileSync(record.outputs[0] as string, 'utf8').trim().split('\n')).toEqual(['{"n":1}', '{"n":2}', '{"n":3}']);

    // The JSON Schema for editors lists it.
    const schema = flowJsonSchema(registry) as { properties: { sourceFlowConfig: { properties: { connectorType: { enum: string[] } } } } };
    expect(schema.properties.sourceFlowConfig.properties.connectorType.enum).toEqual(['Salesforce', 'S3', 'LocalFile', 'Counter']);
  });

  it('a profile is needed when a side\'s connector says so (the CLI asks the plan)', () => {
    const sf = compileFlow(JSON.parse(readFileSync(new URL('../../fixtures/flows/valid/appflow-canonical.json', import.meta.url), 'utf8')));
    expect(sf.profiles).toEqual(['source']);
  });

  it('refuses a connector registered twice', () => {
    try {
      createRegistry([counter, counter]);
      expect.unreachable();
    } catch (error) {
      expect(isForceflowError(error) && error.code).toBe('CONFIG_INVALID');
    }
  });
});
