import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateConnectorProfileCommand, DescribeConnectorProfilesCommand, DescribeConnectorsCommand, ListConnectorEntitiesCommand } from '@aws-sdk/client-appflow';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { ProfileStore } from '../../src/profiles/store.ts';
import { startHarness, type ServiceHarness } from './harness.ts';

let emu: RunningEmulator;
let h: ServiceHarness;
beforeAll(async () => {
  emu = await startEmulator();
  h = await startHarness({ emulator: emu });
});
afterAll(async () => {
  await h.close();
  await emu.close();
});

describe('the composed service (composeOperations)', () => {
  it('serves the profile and metadata operations over the profile store of its state folder', async () => {
    const out = await h.appflow.send(new CreateConnectorProfileCommand({
      connectorProfileName: 'composed',
      connectorType: 'Salesforce',
      connectionMode: 'Public',
      connectorProfileConfig: { connectorProfileProperties: { Salesforce: { instanceUrl: emu.instanceUrl } }, connectorProfileCredentials: { Salesforce: { accessToken: emu.accessToken } } },
    }));
    expect(out.connectorProfileArn).toBe(`arn:aws:appflow:${h.svc.region}:${h.svc.accountId}:connectorprofile/composed`);
    const described = await h.appflow.send(new DescribeConnectorProfilesCommand({}));
    expect(described.connectorProfileDetails?.map((p) => p.connectorProfileName)).toEqual(['composed']);
    const entities = await h.appflow.send(new ListConnectorEntitiesCommand({ connectorProfileName: 'composed' }));
    expect(entities.connectorEntityMap?.['Objects']?.some((o) => o.name === 'Account')).toBe(true);
    expect(Object.keys((await h.appflow.send(new DescribeConnectorsCommand({}))).connectorConfigurations ?? {})).toEqual(['Salesforce']);
    // The same store `forceflow profiles --state-dir` reads.
    const store = ProfileStore.open(h.stateDir);
    try {
      expect((await store.get('composed'))?.credentialFields).toEqual(['accessToken']);
    } finally {
      store.close();
    }
  });
});
