import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { forceflow, type CliResult } from '../helpers/cli.ts';

/** forceflow run's input options, through the CLI (in-process: runCli). */
const dir = mkdtempSync(join(tmpdir(), 'ff-cli-input-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]): Promise<CliResult> {
  return forceflow(args, { env: { FORCEFLOW_HOME: join(dir, 'home') } });
}

function flowFile(name: string, input: string, fileType: 'CSV' | 'JSON'): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({
    flowName: name,
    triggerConfig: { triggerType: 'OnDemand' },
    sourceFlowConfig: { connectorType: 'LocalFile', sourceConnectorProperties: { LocalFile: { path: input, fileType } } },
    destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: join(dir, `out-${name}`), outputFormatConfig: { fileType: 'CSV', aggregationConfig: { aggregationType: 'SingleFile' } } } } }],
    tasks: [{ taskType: 'Map_all', sourceFields: [] }],
  }));
  return file;
}

describe('forceflow run: --invalid-utf8, --max-line-bytes, --max-record-bytes', () => {
  const latin1 = join(dir, 'latin1.csv');
  writeFileSync(latin1, Buffer.from('Name\ncaf\xe9\n', 'latin1'));
  const flow = flowFile('latin1', latin1, 'CSV');

  it.each([
    ['--invalid-utf8', 'ignore'],
    ['--max-line-bytes', 'abc'],
    ['--max-line-bytes', '0'],
    ['--max-record-bytes', '-1'],
    ['--max-record-bytes', '1e400'],
    ['--max-record-bytes', '12 parsecs'],
  ])('%s %s exits 2 naming the option', async (option, value) => {
    const r = await cli(['run', flow, `${option}=${value}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('CONFIG_INVALID');
    expect(r.stderr).toContain(option);
    expect(r.stdout).toBe('');
  });

  it('invalid UTF-8 fails the run (exit 2, INPUT_INVALID naming the file and line); --invalid-utf8 replace reads it and counts', async () => {
    const refused = await cli(['run', flow]);
    expect(refused.code).toBe(2);
    const record = JSON.parse(refused.stdout) as { error: { code: string; message: string } };
    expect(record.error.code).toBe('INPUT_INVALID');
    expect(record.error.message).toContain(`${latin1} line 2`);

    const replaced = await cli(['run', flow, '--invalid-utf8', 'replace']);
    expect(replaced.code).toBe(0);
    const ok = JSON.parse(replaced.stdout) as { executionResult: { invalidUtf8Replacements: number }; outputs: string[] };
    expect(ok.executionResult.invalidUtf8Replacements).toBe(1);
    expect(readFileSync(ok.outputs[0] as string, 'utf8')).toBe('Name\ncaf\uFFFD\n');
  });

  it('--max-line-bytes / --max-record-bytes set the ceilings (units accepted)', async () => {
    const jsonl = join(dir, 'long.jsonl');
    writeFileSync(jsonl, `{"a":"${'x'.repeat(2000)}"}\n`);
    const jflow = flowFile('long', jsonl, 'JSON');
    const refused = await cli(['run', jflow, '--max-line-bytes', '1KiB']);
    expect(refused.code).toBe(2);
    expect((JSON.parse(refused.stdout) as { error: { message: string } }).error.message).toContain('--max-line-bytes');
    expect((await cli(['run', jflow, '--max-line-bytes', '4KiB'])).code).toBe(0);

    const csv = join(dir, 'long.csv');
    writeFileSync(csv, `a\n"${'y'.repeat(2000)}"\n`);
    const cflow = flowFile('longcsv', csv, 'CSV');
    const tooLong = await cli(['run', cflow, '--max-record-bytes', '1000']);
    expect(tooLong.code).toBe(2);
    expect((JSON.parse(tooLong.stdout) as { error: { message: string } }).error.message).toContain('--max-record-bytes');
  });
});

describe('runFlow: the same input options from the library', () => {
  it.each([
    [{ invalidUtf8: 'ignore' }, 'invalidUtf8'],
    [{ maxLineBytes: 0 }, 'maxLineBytes'],
    [{ maxRecordBytes: Number.NaN }, 'maxRecordBytes'],
    [{ maxRecordBytes: 1.5 }, 'maxRecordBytes'],
  ])('%j is refused with CONFIG_INVALID naming %s, before anything runs', async (options, name) => {
    const { runFlow } = await import('../../src/flows/runner.ts');
    const flow = JSON.parse(readFileSync(flowFile('lib', join(dir, 'none.csv'), 'CSV'), 'utf8')) as unknown;
    const error = await runFlow({ flow, ...(options as object) }).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'CONFIG_INVALID', details: { option: name } });
    expect((error as Error).message).toContain(name);
  });
});
