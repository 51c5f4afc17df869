import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.ts';
import { DEMO_FLOWS, demoCommand } from '../../src/cli/demo.ts';
import { SERVICE_DEMO_FLOWS } from '../../src/cli/demo-service.ts';
import { runCli } from '../../src/cli/program.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

/** Live (not deleted) seed records of an object, read from the fixture the emulator loads. */
function seedRecords(object: string): Array<Record<string, unknown>> {
  const all = JSON.parse(readFileSync(new URL(`../../fixtures/org/records/${object}.json`, import.meta.url), 'utf8')) as Array<Record<string, unknown>>;
  return all.filter((r) => r['IsDeleted'] !== true);
}

/**
 * `npm run demo` as a user runs it (both parts), with a smaller generated Invoice__c so it stays quick: the
 * example flows, then `forceflow serve` in its own process driven through AppFlow's API, with a real
 * rate(1minutes) schedule whose first fire is a few seconds ahead.
 */
describe('forceflow demo', () => {
  it('runs the example flows, then creates a profile and flows through the AppFlow API, one run on demand and one on schedule', async () => {
    let text = '';
    const result = await demoCommand(silentLogger(), { writeOut: (s) => void (text += s), writeErr: () => undefined }, { root: ROOT, invoices: 3000 });
    expect(result.succeeded).toBe(true);

    // The example flows.
    expect(result.flows.map((r) => r.flowName)).toEqual(DEMO_FLOWS.map((f) => (JSON.parse(readFileSync(new URL(`../../${f}`, import.meta.url), 'utf8')) as { flowName: string }).flowName));
    for (const record of result.flows) expect(record.executionStatus, record.flowName).toBe('Successful');
    expect(result.flows[1]?.executionResult.recordsProcessed).toBe(3000);

    // The service part.
    const svc = result.service;
    expect(svc).toBeDefined();
    if (!svc) return;
    expect(svc.serve.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(svc.profile).toMatchObject({ connectorProfileName: 'forceflow-emulator', connectorType: 'Salesforce', connectorProfileProperties: { Salesforce: { isSandboxEnvironment: false } } });
    expect(JSON.stringify(svc.profile)).not.toMatch(/accessToken|refreshToken|clientSecret/);

    expect(svc.onDemand.flowName).toBe((JSON.parse(readFileSync(new URL(`../../${SERVICE_DEMO_FLOWS.onDemand}`, import.meta.url), 'utf8')) as { flowName: string }).flowName);
    expect(svc.onDemand.record).toMatchObject({ executionId: svc.onDemand.executionId, executionStatus: 'Successful', executionResult: { recordsProcessed: seedRecords('Account').length } });
    expect(svc.onDemand.flow).toMatchObject({ flowStatus: 'Active', lastRunExecutionDetails: { mostRecentExecutionStatus: 'Successful' } });

    // The scheduled run started at its fire time (scheduleStartTime), not at activation and not much later.
    const scheduled = svc.scheduled;
    expect(scheduled.record['executionStatus']).toBe('Successful');
    const startedAt = Number(scheduled.record['startedAt']);
    expect(startedAt).toBeGreaterThanOrEqual(scheduled.scheduleStartTime);
    expect(startedAt).toBeLessThan(scheduled.scheduleStartTime + 30);
    // Incremental from firstExecutionFrom (2023-01-01): every live Opportunity of the seed org.
    expect(scheduled.record).toMatchObject({ dataPullStartTime: 1672531200, executionResult: { recordsProcessed: seedRecords('Opportunity').length } });
    expect(scheduled.flow).toMatchObject({ flowStatus: 'Suspended', lastRunExecutionDetails: { mostRecentExecutionStatus: 'Successful' } });
    expect(scheduled.flow['triggerConfig']).toMatchObject({ triggerProperties: { Scheduled: { scheduleExpression: 'rate(1minutes)' } } });

    // What the user sees.
    expect(text).toContain(`forceflow serve: ${svc.serve.endpoint}`);
    expect(text).toContain(`start-flow: executionId ${svc.onDemand.executionId}`);
    expect(text).toContain(`stop-flow ${scheduled.flowName}: Suspended`);
    expect(text).not.toContain(svc.serve.secretAccessKey);
  }, 240_000);

  it('--only takes flows or service, and refuses anything else', async () => {
    let err = '';
    const code = await runCli(['node', 'forceflow', 'demo', '--only', 'bulk'], { writeOut: () => undefined, writeErr: (s) => (err += s) });
    expect(code).toBe(2);
    expect(err).toContain('CONFIG_INVALID');
    expect(err).toContain('Expected one of flows, service, got "bulk"');
  });
});
