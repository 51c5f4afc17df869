import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppflowClient, CreateFlowCommand, DescribeFlowExecutionRecordsCommand, StartFlowCommand } from '@aws-sdk/client-appflow';
import { KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.ts';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { createProfile, openProfileContext } from '../../src/profiles/index.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
let emu: RunningEmulator;
let dir: string;

beforeAll(async () => {
  // Bulk query jobs stay InProgress a minute: the run is still polling when the service is killed.
  emu = await startEmulator({ bulkProcessingDelayMs: 60_000, generate: { Contact: 50 } });
  dir = mkdtempSync(join(tmpdir(), 'ff-serve-kill-'));
});
afterAll(async () => {
  await emu?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface ServeLine { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string }

function serve(state: string): { line: Promise<ServeLine>; exit: Promise<number | null>; kill: (s: NodeJS.Signals) => void } {
  const env = { ...process.env, AWS_ENDPOINT_URL_KMS: emu.aws.kmsEndpoint, AWS_REGION: emu.aws.region, AWS_ACCESS_KEY_ID: emu.aws.accessKeyId, AWS_SECRET_ACCESS_KEY: emu.aws.secretAccessKey };
  const child = spawn(process.execPath, [join(ROOT, 'bin/forceflow.js'), 'serve', '--state-dir', state], { env, cwd: dir });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const line = new Promise<ServeLine>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (l) => resolve(JSON.parse(l) as ServeLine));
    void exit.then((code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  line.catch(() => undefined);
  return { line, exit, kill: (s) => child.kill(s) };
}

describe('a service killed mid-run', () => {
  it('marks the run Error (interrupted) when it starts again', async () => {
    const state = join(dir, 'state');
    const kms = new KMSClient({ endpoint: emu.aws.kmsEndpoint, region: emu.aws.region, credentials: { accessKeyId: emu.aws.accessKeyId, secretAccessKey: emu.aws.secretAccessKey } });
    const ctx = openProfileContext({ log: silentLogger(), home: state, kms });
    try {
      await createProfile(ctx, emu.connectorProfile);
    } finally {
      ctx.close();
      kms.destroy();
    }
    const client = (l: ServeLine): AppflowClient => new AppflowClient({ endpoint: l.endpoint, region: l.region, credentials: { accessKeyId: l.accessKeyId, secretAccessKey: l.secretAccessKey }, maxAttempts: 1 });
    const first = serve(state);
    const a = client(await first.line);
    const profile = emu.connectorProfile.connectorProfileName;
    await a.send(new CreateFlowCommand({
      flowName: 'killed',
      triggerConfig: { triggerType: 'OnDemand' },
      sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: profile, sourceConnectorProperties: { Salesforce: { object: 'Contact', dataTransferApi: 'BULKV2' } } },
      destinationFlowConfigList: [{ connectorType: 'Salesforce', connectorProfileName: profile, destinationConnectorProperties: { Salesforce: { object: 'Account', writeOperationType: 'INSERT' } } }],
      tasks: [{ taskType: 'Map_all', sourceFields: [], taskProperties: {} }],
    }));
    const { executionId } = await a.send(new StartFlowCommand({ flowName: 'killed' }));
    const running = await a.send(new DescribeFlowExecutionRecordsCommand({ flowName: 'killed' }));
    expect(running.flowExecutions?.[0]).toMatchObject({ executionId, executionStatus: 'InProgress' });
    await sleep(300); // the run is polling its Bulk job
    a.destroy();
    first.kill('SIGKILL');
    await first.exit;

    const second = serve(state);
    const b = client(await second.line);
    try {
      const after = await b.send(new DescribeFlowExecutionRecordsCommand({ flowName: 'killed' }));
      expect(after.flowExecutions?.[0]).toMatchObject({ executionId, executionStatus: 'Error' });
      expect(after.flowExecutions?.[0]?.executionResult?.errorInfo?.executionMessage).toContain('interrupted');
    } finally {
      b.destroy();
      second.kill('SIGTERM');
      expect(await second.exit).toBe(0);
    }
  });
});
