import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProfile } from '../../src/profiles/profiles.ts';
import { metaEnv, type MetaEnv } from './meta-env.ts';

/** DescribeConnectorProfileApiBudget (docs/salesforce-budget.md): the org's budget now, with the profile's reserve. */
let env: MetaEnv;
beforeAll(async () => {
  env = await metaEnv();
});
afterAll(async () => {
  await env.close();
});

async function profile(name: string, apiReserve?: string | number): Promise<void> {
  const base = env.emu.connectorProfile;
  const props = base.connectorProfileConfig.connectorProfileProperties.Salesforce;
  await createProfile(env.ctx, {
    ...base,
    connectorProfileName: name,
    connectorProfileConfig: { ...base.connectorProfileConfig, connectorProfileProperties: { Salesforce: { ...props, ...(apiReserve === undefined ? {} : { apiReserve }) } } },
  });
}

describe('DescribeConnectorProfileApiBudget', () => {
  it("answers the org's daily limits from one /limits call, with the profile's reserve in calls", async () => {
    await profile('budget-pct', '20%');
    const set = await fetch(`${env.emu.controlUrl}/limits`, { method: 'PUT', headers: env.emu.controlHeaders, body: JSON.stringify({ max: 5000, remaining: 4000, bulkV2QueryJobs: { max: 100, remaining: 90 } }) });
    expect(set.status).toBe(200);
    const res = await env.rawPost('/describe-connector-profile-api-budget', { connectorProfileName: 'budget-pct' });
    expect(res.status).toBe(200);
    const body = JSON.parse(res.text) as { limits: Record<string, { max: number; remaining: number; reserve: number | null }> };
    expect(body).toMatchObject({ connectorProfileName: 'budget-pct', apiReserve: '20%' });
    // The /limits call itself is counted before the answer is built.
    expect(body.limits['DailyApiRequests']).toEqual({ max: 5000, remaining: 3999, reserve: 1000 });
    expect(body.limits['DailyBulkV2QueryJobs']).toEqual({ max: 100, remaining: 90, reserve: 20 });
    expect(body.limits['DailyBulkApiBatches']?.reserve).toBeGreaterThan(0);
  });

  it('reports a number of calls as the reserve of DailyApiRequests only, and null without one', async () => {
    await profile('budget-calls', 300);
    await profile('budget-none');
    const calls = JSON.parse((await env.rawPost('/describe-connector-profile-api-budget', { connectorProfileName: 'budget-calls' })).text) as { limits: Record<string, { reserve: number | null }> };
    expect(calls.limits['DailyApiRequests']?.reserve).toBe(300);
    expect(calls.limits['DailyBulkV2QueryJobs']?.reserve).toBe(0);
    const none = JSON.parse((await env.rawPost('/describe-connector-profile-api-budget', { connectorProfileName: 'budget-none' })).text) as { apiReserve: unknown; limits: Record<string, { reserve: number | null }> };
    expect(none.apiReserve).toBeNull();
    expect(none.limits['DailyApiRequests']?.reserve).toBeNull();
  });

  it('answers ResourceNotFoundException for an unknown profile', async () => {
    const res = await env.rawPost('/describe-connector-profile-api-budget', { connectorProfileName: 'no-such-profile' });
    expect(res.status).toBe(404);
    expect(res.text).toContain('no-such-profile does not exist');
  });
});
