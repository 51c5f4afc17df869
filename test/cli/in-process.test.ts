import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { forceflow } from '../helpers/cli.ts';

/** runCli in-process: one call leaves nothing on the process for the next (exit code, signal handlers, output). */
describe('runCli in-process', () => {
  it('a failed run does not change the next command\'s exit code, nor process.exitCode, and leaves no signal handler', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-in-process-'));
    writeFileSync(join(dir, 'latin1.csv'), Buffer.from('Name\ncaf\xe9\n', 'latin1'));
    const flowFile = join(dir, 'flow.json');
    writeFileSync(flowFile, JSON.stringify({
      flowName: 'in-process',
      triggerConfig: { triggerType: 'OnDemand' },
      sourceFlowConfig: { connectorType: 'LocalFile', sourceConnectorProperties: { LocalFile: { path: join(dir, 'latin1.csv'), fileType: 'CSV' } } },
      destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: join(dir, 'out'), outputFormatConfig: { fileType: 'JSON' } } } }],
      tasks: [{ taskType: 'Map_all', sourceFields: [] }],
    }));
    const env = { FORCEFLOW_HOME: join(dir, 'home') };
    const signals = (): number[] => [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
    const before = signals();
    const exitCodeBefore = process.exitCode;

    const failed = await forceflow(['run', flowFile, '--log-level', 'info'], { env });
    expect(failed.code).toBe(2);
    expect((JSON.parse(failed.stdout) as { error: { code: string } }).error.code).toBe('INPUT_INVALID');
    // The run's log lines went to this call's stderr, as JSON lines.
    expect(failed.stderr.trim().split('\n').map((l) => (JSON.parse(l) as { msg: string }).msg).length).toBeGreaterThan(0);
    expect(process.exitCode).toBe(exitCodeBefore);
    expect(signals()).toEqual(before);

    const validated = await forceflow(['validate', flowFile], { env });
    expect(validated.code).toBe(0);
    expect(JSON.parse(validated.stdout)).toMatchObject({ valid: true, flowName: 'in-process' });
    expect(validated.stderr).toBe('');

    const replaced = await forceflow(['run', flowFile, '--invalid-utf8', 'replace', '--log-level', 'warn'], { env });
    expect(replaced.code).toBe(0);
    expect(process.exitCode).toBe(exitCodeBefore);
    expect(signals()).toEqual(before);
  });
});
