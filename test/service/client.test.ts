import { ListFlowsCommand } from '@aws-sdk/client-appflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isForceflowError } from '../../src/core/errors.ts';
import { appflowClient } from '../../src/service/client.ts';
import { startHarness, type ServiceHarness } from './harness.ts';

/** src/service/client.ts (the demo's SigV4 client) against the composed service, next to the real SDK client. */
describe('appflowClient', () => {
  let h: ServiceHarness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('signs calls the service verifies and reads the answers the SDK reads', async () => {
    const client = appflowClient(h.svc);
    const ours = await client.call<{ flows?: unknown[] }>('list-flows', { maxResults: 5 });
    const sdk = await h.appflow.send(new ListFlowsCommand({ maxResults: 5 }));
    expect(ours.flows).toEqual(sdk.flows ?? []);
    const connectors = await client.call<{ connectorConfigurations?: Record<string, unknown> }>('/describe-connectors', { connectorTypes: ['Salesforce'] });
    expect(Object.keys(connectors.connectorConfigurations ?? {})).toEqual(['Salesforce']);
  });

  it('throws APPFLOW_API_ERROR with AWS error type, status and message', async () => {
    const missing = await appflowClient(h.svc).call('describe-flow', { flowName: 'not-there' }).catch((e: unknown) => e);
    expect(isForceflowError(missing, 'APPFLOW_API_ERROR')).toBe(true);
    expect(missing).toMatchObject({ details: { errorType: 'ResourceNotFoundException', status: 404, operation: 'describe-flow' } });
    expect((missing as Error).message).toBe('describe-flow answered ResourceNotFoundException (HTTP 404): Flow not-there does not exist.');
    const wrongKey = await appflowClient({ ...h.svc, secretAccessKey: 'not-the-secret' }).call('list-flows', {}).catch((e: unknown) => e);
    expect(wrongKey).toMatchObject({ code: 'APPFLOW_API_ERROR', details: { errorType: 'InvalidSignatureException', status: 403 } });
    expect((wrongKey as Error).message).not.toContain('not-the-secret');
  });
});
