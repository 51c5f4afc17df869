import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppflowClient, CreateFlowCommand, DescribeFlowExecutionRecordsCommand, StartFlowCommand } from '@aws-sdk/client-appflow';
import { KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { openRunState } from '../../src/flows/state.ts';
import { storeEmulatorProfile } from './harness.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
let emu: RunningEmulator;
let dir: string;

beforeAll(async () => {
  // Bulk query jobs stay InProgress a minute: the run is still polling when the service is told to stop.
  emu = await startEmulator({ bulkProcessingDelayMs: 60_000, generate: { Contact: 50 } });
  dir = mkdtempSync(join(tmpdir(), 'ff-serve-term-'));
});
afterAll(async () => {
  await emu?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface ServeLine { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string }

describe('forceflow serve stopped with SIGTERM while a run is going', () => {
  it('cancels the run after the grace period, records it Canceled (nothing left InProgress), exits 0, and never logs its secret key', async () => {
    const state = join(dir, 'state');
    const kms = new KMSClient({ endpoint: emu.aws.kmsEndpoint, region: emu.aws.region, credentials: { accessKeyId: emu.aws.accessKeyId, secretAccessKey: emu.aws.secretAccessKey } });
    try {
      await storeEmulatorProfile({ emu, stateDir: state, kms });
    } finally {
      kms.destroy();
    }
    const env = { ...process.env, AWS_ENDPOINT_URL_KMS: emu.aws.kmsEndpoint, AWS_REGION: emu.aws.region, AWS_ACCESS_KEY_ID: emu.aws.accessKeyId, AWS_SECRET_ACCESS_KEY: emu.aws.secretAccessKey, FORCEFLOW_LOG_LEVEL: 'debug' };
    const child = spawn(process.execPath, [join(ROOT, 'bin/forceflow.js'), 'serve', '--state-dir', state, '--grace-period', '1'], { env, cwd: dir });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const line = await new Promise<ServeLine>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', (l) => resolve(JSON.parse(l) as ServeLine));
      void exit.then((code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
    });
    const client = new AppflowClient({ endpoint: line.endpoint, region: line.region, credentials: { accessKeyId: line.accessKeyId, secretAccessKey: line.secretAccessKey }, maxAttempts: 1 });
    const profile = emu.connectorProfile.connectorProfileName;
    let executionId: string | undefined;
    try {
      await client.send(new CreateFlowCommand({
        flowName: 'terminated',
        triggerConfig: { triggerType: 'OnDemand' },
        sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: profile, sourceConnectorProperties: { Salesforce: { object: 'Contact', dataTransferApi: 'BULKV2' } } },
        destinationFlowConfigList: [{ connectorType: 'Salesforce', connectorProfileName: profile, destinationConnectorProperties: { Salesforce: { object: 'Account', writeOperationType: 'INSERT' } } }],
        tasks: [{ taskType: 'Map_all', sourceFields: [], taskProperties: {} }],
      }));
      executionId = (await client.send(new StartFlowCommand({ flowName: 'terminated' }))).executionId;
      const running = await client.send(new DescribeFlowExecutionRecordsCommand({ flowName: 'terminated' }));
      expect(running.flowExecutions?.[0]).toMatchObject({ executionId, executionStatus: 'InProgress' });
      await sleep(300); // the run is polling its Bulk job, which would take a minute
    } finally {
      client.destroy();
    }
    const signalled = Date.now();
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    // Grace period (1 s) plus the cancellation; far less than the minute the Bulk job would take.
    expect(Date.now() - signalled).toBeLessThan(20_000);

    const runs = openRunState(state);
    try {
      expect((await runs.run(executionId ?? ''))?.executionStatus).toBe('Canceled');
      expect(await runs.unfinishedRuns()).toEqual([]);
    } finally {
      runs.close();
    }
    // One JSON line on stdout (the key, printed once); the log on stderr names the key id, never its secret.
    expect(stdout.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain(line.accessKeyId);
    expect(stderr).not.toContain(line.secretAccessKey);
  });
});
