import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The `forceflow` binary itself (bin/forceflow.js → src/cli/main.ts through tsx): what only a real process shows,
 * its stdout, stderr and exit status. Every other CLI test runs the same program in-process through runCli
 * (test/helpers/cli.ts); the tests that signal or kill a run (test/flows/run-state-cli.test.ts,
 * crash-recovery.test.ts) and the emulator command (test/emulator/cli-exposure.test.ts) spawn it too.
 */

const ROOT = resolve(import.meta.dirname, '../..');

function forceflowProcess(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [join(ROOT, 'bin/forceflow.js'), ...args], { cwd, env: { ...process.env, FORCEFLOW_HOME: join(cwd, 'home') } }, (error, stdout, stderr) => {
      done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('the forceflow binary', () => {
  it('runs a flow: the record on stdout, exit 0; a run that fails exits with its code, the record still on stdout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-smoke-'));
    writeFileSync(join(dir, 'people.csv'), 'Name\nAda\n');
    writeFileSync(join(dir, 'latin1.csv'), Buffer.from('Name\ncaf\xe9\n', 'latin1'));
    const flow = (name: string, input: string): string => {
      const file = join(dir, `${name}.json`);
      writeFileSync(file, JSON.stringify({
        flowName: name,
        triggerConfig: { triggerType: 'OnDemand' },
        sourceFlowConfig: { connectorType: 'LocalFile', sourceConnectorProperties: { LocalFile: { path: input, fileType: 'CSV' } } },
        destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: `out-${name}`, outputFormatConfig: { fileType: 'JSON', aggregationConfig: { aggregationType: 'SingleFile' } } } } }],
        tasks: [{ taskType: 'Map_all', sourceFields: [] }],
      }));
      return file;
    };
    const [ok, failed] = await Promise.all([
      forceflowProcess(['run', flow('smoke-ok', 'people.csv'), '--log-level', 'warn'], dir),
      forceflowProcess(['run', flow('smoke-bad', 'latin1.csv'), '--log-level', 'warn'], dir),
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    const record = JSON.parse(ok.stdout) as { executionStatus: string; outputs: string[] };
    expect(record.executionStatus).toBe('Successful');
    expect(JSON.parse(readFileSync(record.outputs[0] as string, 'utf8'))).toEqual({ Name: 'Ada' });

    expect(failed.code, `${failed.stderr}\n${failed.stdout}`).toBe(2);
    expect((JSON.parse(failed.stdout) as { error: { code: string } }).error.code).toBe('INPUT_INVALID');
  });

  it('a wrong command line exits 2 with one line naming the problem, no stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-smoke-'));
    const r = await forceflowProcess(['run', join(dir, 'missing.json'), '--max-bytes', 'lots'], dir);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^forceflow: CONFIG_INVALID: .*--max-bytes/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
