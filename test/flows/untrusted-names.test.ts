import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetRead } from 'hyparquet';
import { afterAll, describe, expect, it } from 'vitest';
import { runFlow } from '../../src/flows/runner.ts';

/**
 * Field names that are also Object.prototype's names: as CSV headers, JSON-lines keys and Map destination
 * fields they must be ordinary columns end to end (a plain-object row turned __proto__ into {} and read
 * constructor / toString as functions).
 */
const NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'] as const;
const VALUES = [['p1', 'c1', 't1', 'h1', 'v1', 'd1'], ['p2', 'c2', 't2', 'h2', 'v2', 'd2']];

const dir = mkdtempSync(join(tmpdir(), 'ff-names-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const csvInput = join(dir, 'in.csv');
writeFileSync(csvInput, `${NAMES.join(',')}\n${VALUES.map((v) => v.join(',')).join('\n')}\n`);
const jsonlInput = join(dir, 'in.jsonl');
writeFileSync(jsonlInput, `${VALUES.map((v) => `{${NAMES.map((n, i) => `${JSON.stringify(n)}:${JSON.stringify(v[i])}`).join(',')}}`).join('\n')}\n`);

type FileType = 'CSV' | 'JSON' | 'PARQUET';

function flow(input: string, inputType: 'CSV' | 'JSON', out: string, fileType: FileType, tasks: unknown[]): Record<string, unknown> {
  return {
    flowName: 'odd-names',
    triggerConfig: { triggerType: 'OnDemand' },
    sourceFlowConfig: { connectorType: 'LocalFile', sourceConnectorProperties: { LocalFile: { path: input, fileType: inputType } } },
    destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: out, outputFormatConfig: { fileType, aggregationConfig: { aggregationType: 'SingleFile' } } } } }],
    tasks,
  };
}

/** The output file's rows as [name, value] pairs in column order (no object keyed by the names). */
async function readOutput(file: string, fileType: FileType): Promise<{ header: string[]; rows: string[][] }> {
  if (fileType === 'CSV') {
    const [head, ...lines] = readFileSync(file, 'utf8').trim().split('\n');
    return { header: (head as string).split(','), rows: lines.map((l) => l.split(',')) };
  }
  if (fileType === 'JSON') {
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    // Parsed with a reviver-free walk over the text's own keys: JSON.parse keeps "__proto__" as an own key.
    const parsed = lines.map((l) => Object.entries(JSON.parse(l) as Record<string, unknown>));
    return { header: (parsed[0] ?? []).map(([k]) => k), rows: parsed.map((e) => e.map(([, v]) => String(v))) };
  }
  const bytes = readFileSync(file);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const { parquetMetadata } = await import('hyparquet');
  const header = parquetMetadata(buffer).schema.slice(1).map((e) => e.name);
  const rows = await new Promise<unknown[][]>((done, fail) => {
    parquetRead({ file: buffer, rowFormat: 'array', onComplete: done }).catch(fail);
  });
  return { header, rows: rows.map((r) => r.map((v) => String(v))) };
}

describe('field names that are also Object.prototype names, end to end', () => {
  const cases = (['CSV', 'JSON'] as const).flatMap((inputType) => (['CSV', 'JSON', 'PARQUET'] as const).map((fileType) => [inputType, fileType] as const));

  it.each(cases)('%s input headers → %s output: Map_all delivers every value', async (inputType, fileType) => {
    const out = join(dir, `all-${inputType}-${fileType}`);
    const record = await runFlow({ flow: flow(inputType === 'CSV' ? csvInput : jsonlInput, inputType, out, fileType, [{ taskType: 'Map_all', sourceFields: [], taskProperties: {} }]) });
    expect(record.error).toBeNull();
    const got = await readOutput(record.outputs[0] as string, fileType);
    expect(got.header).toEqual([...NAMES]);
    expect(got.rows).toEqual(VALUES);
  });

  it.each(cases)('%s input → %s output: Map tasks read those names and write them as destination fields', async (inputType, fileType) => {
    const out = join(dir, `map-${inputType}-${fileType}`);
    // Each value goes to another odd name (rotated), so reading and writing are both checked.
    const tasks = [
      { taskType: 'Filter', sourceFields: [...NAMES], connectorOperator: { LocalFile: 'PROJECTION' } },
      ...NAMES.map((n, i) => ({ taskType: 'Map', sourceFields: [n], destinationField: NAMES[(i + 1) % NAMES.length], connectorOperator: { LocalFile: 'NO_OP' } })),
      { taskType: 'Merge', sourceFields: ['__proto__', 'constructor'], destinationField: 'merged', connectorOperator: { LocalFile: 'NO_OP' }, taskProperties: { CONCAT_FORMAT: '${__proto__}-${constructor}' } },
    ];
    const record = await runFlow({ flow: flow(inputType === 'CSV' ? csvInput : jsonlInput, inputType, out, fileType, tasks) });
    expect(record.error).toBeNull();
    const got = await readOutput(record.outputs[0] as string, fileType);
    expect(got.header).toEqual([...NAMES.map((_, i) => NAMES[(i + 1) % NAMES.length]), 'merged']);
    expect(got.rows).toEqual(VALUES.map((v) => [...v, `${v[0]}-${v[1]}`]));
  });

  it('a Partition key named like Object.prototype properties makes its folders from the values', async () => {
    const out = join(dir, 'partitioned');
    const tasks = [{ taskType: 'Map_all', sourceFields: [] }, { taskType: 'Partition', sourceFields: [], taskProperties: { ORDERED_PARTITION_KEYS_LIST: '["constructor","__proto__"]' } }];
    const record = await runFlow({ flow: flow(csvInput, 'CSV', out, 'CSV', tasks) });
    expect(record.error).toBeNull();
    const folders = record.outputs.map((o) => o.slice(out.length).split(/[\\/]/).filter((p) => p.includes('='))).map((p) => p.join('/')).sort();
    expect(folders).toEqual(['constructor=c1/__proto__=p1', 'constructor=c2/__proto__=p2']);
  });

  it('a flow naming its connector profile "constructor" is told the profile was not given (not handed a function)', async () => {
    const sf = {
      flowName: 'proto-profile',
      triggerConfig: { triggerType: 'OnDemand' },
      sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: 'constructor', sourceConnectorProperties: { Salesforce: { object: 'Account' } } },
      destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: join(dir, 'none'), outputFormatConfig: { fileType: 'CSV' } } } }],
      tasks: [{ taskType: 'Map_all', sourceFields: [] }],
    };
    const record = await runFlow({ flow: sf, profiles: { 'some-org': {} } });
    expect(record.error?.code).toBe('PROFILE_NOT_FOUND');
  });

  it('a Map from a field the input lacks is refused, not read from Object.prototype', async () => {
    const out = join(dir, 'missing');
    writeFileSync(join(dir, 'plain.csv'), 'Name\nx\n');
    const tasks = [{ taskType: 'Map', sourceFields: ['toString'], destinationField: 'toString', connectorOperator: { LocalFile: 'NO_OP' } }, { taskType: 'Map_all', sourceFields: [] }];
    const record = await runFlow({ flow: flow(join(dir, 'plain.csv'), 'CSV', out, 'JSON', tasks) });
    expect(record.error?.code).toBe('FIELD_NOT_FOUND');
  });
});
