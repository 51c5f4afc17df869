import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ForceflowError } from '../core/errors.ts';
import { sleep } from '../core/retry.ts';
import type { RunningEmulator } from '../emulator/index.ts';
import type { LocalS3 } from '../emulator/s3/local.ts';
import { appflowClient, type AppflowJson } from '../service/client.ts';

/** The flows the service part creates through the AppFlow API: one run on demand, one on a schedule. */
export const SERVICE_DEMO_FLOWS = { onDemand: 'examples/account-to-s3-parquet.json', scheduled: 'examples/opportunities-every-minute.json' } as const;

/** How far ahead of its creation the scheduled flow's `scheduleStartTime` is set (its first fire). */
export const SCHEDULE_LEAD_SECONDS = 4;

/** What `forceflow serve` printed. */
export interface ServeLine {
  readonly endpoint: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly stateDir: string;
  readonly env: Readonly<Record<string, string>>;
}

export interface ServiceDemoResult {
  readonly serve: ServeLine;
  /** DescribeConnectorProfiles' entry for the profile made through the API. */
  readonly profile: AppflowJson;
  readonly onDemand: { readonly flowName: string; readonly executionId: string; readonly record: AppflowJson; readonly flow: AppflowJson };
  readonly scheduled: { readonly flowName: string; readonly scheduleStartTime: number; readonly record: AppflowJson; readonly flow: AppflowJson };
}

export interface ServiceDemoContext {
  readonly emu: RunningEmulator;
  readonly s3: LocalS3;
  /** The demo's temporary folder (the service's state goes in `service-state/`). */
  readonly work: string;
  /** Where examples/ is. */
  readonly root: string;
  readonly out: (line: string) => void;
}

const BIN = fileURLToPath(new URL('../../bin/forceflow.js', import.meta.url));
const FINAL = new Set(['Successful', 'Error', 'Canceled']);

/**
 * The service part of the demo: `forceflow serve` in its own process (as it runs for real) next to the
 * emulator and the local S3, driven over AppFlow's REST-JSON API with SigV4-signed calls
 * (src/service/client.ts): a connector profile (the connected app's id and secret in the emulator's Secrets
 * Manager, as AppFlow keeps them), the org's entities, then two flows: one started on demand, one on a
 * `rate(1minutes)` schedule whose `scheduleStartTime` is a few seconds ahead (its first fire; nothing is
 * accelerated). Prints what each call answered and both flows' execution records.
 */
export async function serviceDemo(ctx: ServiceDemoContext): Promise<ServiceDemoResult> {
  const { emu, s3, work, root, out } = ctx;
  out('\n== The service: AppFlow\'s API (forceflow serve)');
  const child = spawn(process.execPath, [BIN, 'serve', '--state-dir', join(work, 'service-state'), '--grace-period', '5'], {
    env: { ...process.env, ...emu.env, ...s3.env, FORCEFLOW_LOG_LEVEL: process.env['FORCEFLOW_LOG_LEVEL'] ?? 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const sm = new SecretsManagerClient({ endpoint: emu.aws.secretsManagerEndpoint, region: emu.aws.region, credentials: { accessKeyId: emu.aws.accessKeyId, secretAccessKey: emu.aws.secretAccessKey } });
  try {
    const serve = await new Promise<ServeLine>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', (l) => {
        try {
          resolve(JSON.parse(l) as ServeLine);
        } catch {
          reject(new ForceflowError('INTERNAL', `forceflow serve printed something other than its JSON line: ${l.slice(0, 200)}`));
        }
      });
      void exited.then((code) => reject(new ForceflowError('INTERNAL', `forceflow serve exited (code ${code}) before it was listening; its log is above.`)));
    });
    out(`forceflow serve: ${serve.endpoint} (region ${serve.region}, state in ${serve.stateDir})`);
    out(`  a client needs: ${Object.keys(serve.env).map((k) => `${k}=${k === 'AWS_SECRET_ACCESS_KEY' ? '…' : serve.env[k]}`).join(' ')}`);
    const appflow = appflowClient(serve);

    // The connected app's id and secret go in Secrets Manager (clientCredentialsArn), as AppFlow keeps them.
    const secret = await sm.send(new CreateSecretCommand({ Name: 'forceflow-demo/connected-app', SecretString: JSON.stringify({ clientId: emu.clientId, clientSecret: emu.clientSecret }) }));
    const profileName = emu.connectorProfile.connectorProfileName;
    await appflow.call('create-connector-profile', {
      connectorProfileName: profileName,
      connectorType: 'Salesforce',
      connectionMode: 'Public',
      connectorProfileConfig: {
        connectorProfileProperties: { Salesforce: { instanceUrl: emu.instanceUrl, isSandboxEnvironment: false } },
        connectorProfileCredentials: { Salesforce: { accessToken: emu.accessToken, refreshToken: emu.refreshToken, oAuth2GrantType: 'AUTHORIZATION_CODE', clientCredentialsArn: secret.ARN } },
      },
    });
    const described = await appflow.call<{ connectorProfileDetails?: AppflowJson[] }>('describe-connector-profiles', { connectorProfileNames: [profileName] });
    const profile = described.connectorProfileDetails?.[0] ?? {};
    out(`create-connector-profile ${profileName}: checked against the org and stored encrypted; describe-connector-profiles shows ${String(profile['connectorProfileArn'])} (no credential in it)`);
    const entities = await appflow.call<{ connectorEntityMap?: Record<string, unknown[]> }>('list-connector-entities', { connectorProfileName: profileName });
    const fields = await appflow.call<{ connectorEntityFields?: unknown[] }>('describe-connector-entity', { connectorProfileName: profileName, connectorEntityName: 'Opportunity' });
    out(`list-connector-entities: ${Object.values(entities.connectorEntityMap ?? {}).flat().length} objects; describe-connector-entity Opportunity: ${fields.connectorEntityFields?.length ?? 0} fields`);

    // The scheduled flow first, so that its wait overlaps the on-demand run.
    const scheduledFlow = JSON.parse(readFileSync(join(root, SERVICE_DEMO_FLOWS.scheduled), 'utf8')) as AppflowJson & { flowName: string; triggerConfig: { triggerProperties: { Scheduled: Record<string, unknown> } } };
    const scheduleStartTime = Math.ceil(Date.now() / 1000) + SCHEDULE_LEAD_SECONDS;
    scheduledFlow.triggerConfig.triggerProperties.Scheduled['scheduleStartTime'] = scheduleStartTime;
    const created = await appflow.call('create-flow', scheduledFlow);
    const activated = await appflow.call('start-flow', { flowName: scheduledFlow.flowName });
    out(`create-flow ${scheduledFlow.flowName}: ${String(created['flowStatus'])} (${String(scheduledFlow.triggerConfig.triggerProperties.Scheduled['scheduleExpression'])}, scheduleStartTime ${new Date(scheduleStartTime * 1000).toISOString()}); start-flow: ${String(activated['flowStatus'])}, first run at the start time`);

    const onDemandFlow = JSON.parse(readFileSync(join(root, SERVICE_DEMO_FLOWS.onDemand), 'utf8')) as AppflowJson & { flowName: string };
    const createdOnDemand = await appflow.call('create-flow', onDemandFlow);
    const started = await appflow.call<{ executionId: string }>('start-flow', { flowName: onDemandFlow.flowName });
    out(`create-flow ${onDemandFlow.flowName}: ${String(createdOnDemand['flowStatus'])}; start-flow: executionId ${started.executionId}`);

    /** The flow's newest execution record once it has ended (polling describe-flow-execution-records). */
    const finished = async (flowName: string, deadline: number, executionId?: string): Promise<AppflowJson> => {
      for (;;) {
        const page = await appflow.call<{ flowExecutions?: AppflowJson[] }>('describe-flow-execution-records', { flowName });
        const record = (page.flowExecutions ?? []).find((r) => executionId === undefined || r['executionId'] === executionId);
        if (record && FINAL.has(String(record['executionStatus']))) return record;
        if (Date.now() > deadline) throw new ForceflowError('INTERNAL', `Flow ${flowName} has not finished a run in time (last status ${String(record?.['executionStatus'] ?? 'none')}); see the service log above.`);
        await sleep(250);
      }
    };
    const onDemandRecord = await finished(onDemandFlow.flowName, Date.now() + 120_000, started.executionId);
    out(`describe-flow-execution-records ${onDemandFlow.flowName}: ${summary(onDemandRecord)}`);
    const waitFor = Math.max(0, scheduleStartTime * 1000 - Date.now());
    if (waitFor > 0) out(`waiting ${(waitFor / 1000).toFixed(0)} s for the scheduled flow's first fire ...`);
    const scheduledRecord = await finished(scheduledFlow.flowName, scheduleStartTime * 1000 + 120_000);
    out(`describe-flow-execution-records ${scheduledFlow.flowName}: ${summary(scheduledRecord)}; started ${(Number(scheduledRecord['startedAt']) - scheduleStartTime).toFixed(2)} s after the fire time`);
    const stopped = await appflow.call('stop-flow', { flowName: scheduledFlow.flowName });
    out(`stop-flow ${scheduledFlow.flowName}: ${String(stopped['flowStatus'])} (no more fires)`);
    const scheduledDescribed = await appflow.call('describe-flow', { flowName: scheduledFlow.flowName });
    const onDemandDescribed = await appflow.call('describe-flow', { flowName: onDemandFlow.flowName });
    for (const [name, flow, record] of [[onDemandFlow.flowName, onDemandDescribed, onDemandRecord], [scheduledFlow.flowName, scheduledDescribed, scheduledRecord]] as const) {
      out(`\ndescribe-flow ${name}: flowStatus ${String(flow['flowStatus'])}, lastRunExecutionDetails ${JSON.stringify(flow['lastRunExecutionDetails'])}`);
      out(`execution record (describe-flow-execution-records):\n${JSON.stringify(record, null, 2)}`);
    }
    out(`\nThe service's state (flows, fires, runs, profiles): ${serve.stateDir}. Try it yourself: docs/service.md and README "The service".`);
    return {
      serve,
      profile,
      onDemand: { flowName: onDemandFlow.flowName, executionId: started.executionId, record: onDemandRecord, flow: onDemandDescribed },
      scheduled: { flowName: scheduledFlow.flowName, scheduleStartTime, record: scheduledRecord, flow: scheduledDescribed },
    };
  } finally {
    sm.destroy();
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  }
}

function summary(record: AppflowJson): string {
  const result = (record['executionResult'] ?? {}) as { recordsProcessed?: number; bytesWritten?: number; errorInfo?: { executionMessage?: string } };
  const error = result.errorInfo?.executionMessage;
  return `${String(record['executionStatus'])}, ${result.recordsProcessed ?? 0} records, ${result.bytesWritten ?? 0} bytes written${error ? ` (${error})` : ''}`;
}
