import { setTimeout as sleep } from 'node:timers/promises';
import { CreateFlowCommand, DescribeFlowExecutionRecordsCommand, StartFlowCommand } from '@aws-sdk/client-appflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRunState } from '../../src/flows/state.ts';
import { newExecutionRecord } from '../../src/flows/run-record.ts';
import { startHarness, storeEmulatorProfile, type ServiceHarness } from './harness.ts';

/**
 * The flow operations as startService composes them: connector profiles come from the profile store of the state
 * folder (profiles.db, as `forceflow profiles create` keeps them, credentials KMS-sealed), for the existence check
 * of CreateFlow and for runs.
 */
describe('flows in the composed service', () => {
  let h: ServiceHarness;

  beforeAll(async () => {
    h = await startHarness();
    await storeEmulatorProfile(h);
  });
  afterAll(async () => {
    await h?.close();
  });

  const flow = (name: string, profile: string, object: string): ConstructorParameters<typeof CreateFlowCommand>[0] => ({
    flowName: name,
    triggerConfig: { triggerType: 'OnDemand' },
    sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: profile, sourceConnectorProperties: { Salesforce: { object } } },
    destinationFlowConfigList: [{
      connectorType: 'Salesforce', connectorProfileName: profile,
      destinationConnectorProperties: { Salesforce: { object: 'Account', writeOperationType: 'INSERT' } },
    }],
    tasks: [{ taskType: 'Map_all', sourceFields: [], taskProperties: {} }],
  });

  it('checks profiles in the profile store and runs with their stored credentials', async () => {
    const name = h.emu.connectorProfile.connectorProfileName;
    const missing = await h.appflow.send(new CreateFlowCommand(flow('no-profile', 'not-stored', 'Account'))).catch((e: Error) => e);
    expect(missing).toMatchObject({ name: 'ResourceNotFoundException', message: 'Connector Profile with name not-stored does not exist.' });
    expect(await h.appflow.send(new CreateFlowCommand(flow('stored-profile', name, 'NoSuchObject__c')))).toMatchObject({ flowStatus: 'Active' });
    // The run reaches Salesforce through the stored (decrypted) profile: it fails on the object the org lacks.
    const { executionId } = await h.appflow.send(new StartFlowCommand({ flowName: 'stored-profile' }));
    let status: string | undefined;
    let message: string | undefined;
    for (let i = 0; i < 400 && (status === undefined || status === 'InProgress'); i++) {
      const { flowExecutions = [] } = await h.appflow.send(new DescribeFlowExecutionRecordsCommand({ flowName: 'stored-profile' }));
      const rec = flowExecutions.find((r) => r.executionId === executionId);
      status = rec?.executionStatus;
      message = rec?.executionResult?.errorInfo?.executionMessage;
      if (status === 'InProgress') await sleep(25);
    }
    expect(status).toBe('Error');
    expect(message).toContain('NoSuchObject__c');
  });

  it('marks a run an earlier service process left InProgress as Error (interrupted) when the service starts', async () => {
    const name = h.emu.connectorProfile.connectorProfileName;
    await h.appflow.send(new CreateFlowCommand(flow('killed-mid-run', name, 'Account')));
    // What a process killed mid-run leaves: its record InProgress in runs.db, its lock gone with it.
    const state = openRunState(h.stateDir);
    const record = { ...newExecutionRecord('killed-mid-run', 'run-of-a-dead-process', new Date()), startedBy: 'manual' as const };
    await state.saveRun(record);
    state.close();
    const before = await h.appflow.send(new DescribeFlowExecutionRecordsCommand({ flowName: 'killed-mid-run' }));
    expect(before.flowExecutions?.[0]).toMatchObject({ executionId: 'run-of-a-dead-process', executionStatus: 'InProgress' });
    const restarted = await startHarness({ emulator: h.emu, stateDir: h.stateDir });
    try {
      const after = await restarted.appflow.send(new DescribeFlowExecutionRecordsCommand({ flowName: 'killed-mid-run' }));
      expect(after.flowExecutions?.[0]).toMatchObject({ executionId: 'run-of-a-dead-process', executionStatus: 'Error' });
      expect(after.flowExecutions?.[0]?.executionResult?.errorInfo?.executionMessage).toContain('interrupted');
    } finally {
      await restarted.close();
    }
  });
});
