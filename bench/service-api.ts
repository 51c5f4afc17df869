/**
 * `node --import tsx bench/service-api.ts [--clients 100] [--requests 20000] [--flows 100] [--flow NAME] [--state-dir DIR]`:
 * latency of the AppFlow API under concurrent clients (issue 14).
 *
 * Starts the emulator in-process (its KMS seals the service's keys, its Secrets Manager holds the connected
 * app) and `forceflow serve` in its own process (as it runs for real), creates a connector profile and
 * `--flows` on-demand flows through the API (0: an empty store), then `--clients` AppflowClients
 * (@aws-sdk/client-appflow, SigV4, keep-alive) send `--requests` calls in total, half ListFlows (a page of
 * 20) and half DescribeFlow (of `--flow`, default one of the created flows, or a name that does not exist
 * when there are none), as fast as they can. Reports per operation p50/p90/p99/max latency in ms, calls/s, and the
 * outcome counts (HTTP status and error name), so it is plain what was measured: every call passes SigV4
 * verification, routing, input validation and serialisation; what the handler does depends on the
 * operations the service composes (src/service/operations/index.ts).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { AppflowClient, CreateConnectorProfileCommand, CreateFlowCommand, DescribeFlowCommand, ListFlowsCommand } from '@aws-sdk/client-appflow';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { startEmulator } from '../src/emulator/index.ts';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const clients = Math.max(1, Number(opt('clients') ?? 100));
const requests = Math.max(clients, Number(opt('requests') ?? 20_000));
const seedFlows = Math.max(0, Number(opt('flows') ?? 100));
const flowName = opt('flow') ?? (seedFlows > 0 ? 'bench-flow-000' : 'bench-no-such-flow');
const ROOT = resolve(new URL('..', import.meta.url).pathname);

interface ServeLine {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const emu = await startEmulator();
const ownState = opt('state-dir') === undefined;
const stateDir = opt('state-dir') ?? mkdtempSync(join(tmpdir(), 'ff-bench-service-'));
const child = spawn(process.execPath, [join(ROOT, 'bin/forceflow.js'), 'serve', '--state-dir', stateDir], {
  env: { ...process.env, ...emu.env, FORCEFLOW_LOG_LEVEL: 'warn' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const line = await new Promise<ServeLine>((ok, fail) => {
  createInterface({ input: child.stdout }).once('line', (l) => ok(JSON.parse(l) as ServeLine));
  child.once('exit', (code) => fail(new Error(`forceflow serve exited ${code}`)));
});

if (seedFlows > 0) {
  // A connector profile (the connected app in the emulator's Secrets Manager, as AppFlow keeps it) and the flows.
  const admin = new AppflowClient({ endpoint: line.endpoint, region: line.region, credentials: { accessKeyId: line.accessKeyId, secretAccessKey: line.secretAccessKey } });
  const sm = new SecretsManagerClient({ endpoint: emu.aws.secretsManagerEndpoint, region: emu.aws.region, credentials: { accessKeyId: emu.aws.accessKeyId, secretAccessKey: emu.aws.secretAccessKey } });
  const secret = await sm.send(new CreateSecretCommand({ Name: 'bench/app', SecretString: JSON.stringify({ clientId: emu.clientId, clientSecret: emu.clientSecret }) }));
  await admin.send(new CreateConnectorProfileCommand({
    connectorProfileName: 'bench',
    connectorType: 'Salesforce',
    connectionMode: 'Public',
    connectorProfileConfig: {
      connectorProfileProperties: { Salesforce: { instanceUrl: emu.instanceUrl, isSandboxEnvironment: false } },
      connectorProfileCredentials: { Salesforce: { accessToken: emu.accessToken, refreshToken: emu.refreshToken, oAuth2GrantType: 'AUTHORIZATION_CODE', clientCredentialsArn: secret.ARN } },
    },
  }));
  for (let i = 0; i < seedFlows; i++) {
    await admin.send(new CreateFlowCommand({
      flowName: `bench-flow-${String(i).padStart(3, '0')}`,
      description: 'Accounts to S3 as JSON lines',
      triggerConfig: { triggerType: 'OnDemand' },
      sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: 'bench', sourceConnectorProperties: { Salesforce: { object: 'Account' } } },
      destinationFlowConfigList: [{ connectorType: 'S3', destinationConnectorProperties: { S3: { bucketName: 'forceflow', bucketPrefix: 'bench', s3OutputFormatConfig: { fileType: 'JSON' } } } }],
      tasks: [{ taskType: 'Map_all', sourceFields: [], connectorOperator: { Salesforce: 'NO_OP' }, taskProperties: {} }],
      tags: { team: 'bench' },
    }));
  }
  admin.destroy();
  sm.destroy();
}

const pool = Array.from({ length: clients }, () => new AppflowClient({ endpoint: line.endpoint, region: line.region, credentials: { accessKeyId: line.accessKeyId, secretAccessKey: line.secretAccessKey }, maxAttempts: 1 }));
const latencies: Record<string, number[]> = { ListFlows: [], DescribeFlow: [] };
const outcomes: Record<string, Map<string, number>> = { ListFlows: new Map(), DescribeFlow: new Map() };
let next = 0;

async function one(client: AppflowClient, i: number): Promise<void> {
  const op = i % 2 === 0 ? 'ListFlows' : 'DescribeFlow';
  const started = performance.now();
  let outcome = '200';
  try {
    if (op === 'ListFlows') await client.send(new ListFlowsCommand({ maxResults: 20 }));
    else await client.send(new DescribeFlowCommand({ flowName }));
  } catch (error) {
    const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
    outcome = `${e.$metadata?.httpStatusCode ?? '?'} ${e.name ?? 'Error'}`;
  }
  latencies[op]?.push(performance.now() - started);
  const m = outcomes[op];
  m?.set(outcome, (m.get(outcome) ?? 0) + 1);
}

// Warm-up: every client signs and connects once.
await Promise.all(pool.map((c, i) => one(c, i)));
for (const k of Object.keys(latencies)) {
  latencies[k] = [];
  outcomes[k] = new Map();
}
/** CPU seconds (user + system) of a process, from /proc (Linux; NaN elsewhere). */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}
const serverCpu0 = cpuSeconds(child.pid);
const ownCpu0 = process.cpuUsage();
const t0 = performance.now();
await Promise.all(
  pool.map(async (c) => {
    for (let i = next++; i < requests; i = next++) await one(c, i);
  }),
);
const seconds = (performance.now() - t0) / 1000;
const serverCpu = cpuSeconds(child.pid) - serverCpu0;
const own = process.cpuUsage(ownCpu0);
const clientCpu = (own.user + own.system) / 1e6;

console.log(`AppFlow API, ${clients} concurrent clients, ${seedFlows} flows stored (DescribeFlow ${flowName}), ${requests} calls in ${seconds.toFixed(2)} s (${(requests / seconds).toFixed(0)} calls/s), forceflow serve in its own process`);
console.log(`CPU: service ${serverCpu.toFixed(2)} s (${((serverCpu / requests) * 1e6).toFixed(0)} µs per call), clients ${clientCpu.toFixed(2)} s; load average ${loadavg()[0]?.toFixed(2)} on ${cpus().length} cores`);
for (const [op, values] of Object.entries(latencies)) {
  const sorted = values.sort((a, b) => a - b);
  const outcome = [...(outcomes[op] ?? new Map<string, number>()).entries()].map(([k, n]) => `${k} ×${n}`).join(', ');
  console.log(
    `${op.padEnd(13)} p50 ${percentile(sorted, 50).toFixed(2)} ms  p90 ${percentile(sorted, 90).toFixed(2)} ms  p99 ${percentile(sorted, 99).toFixed(2)} ms  max ${(sorted.at(-1) ?? Number.NaN).toFixed(2)} ms  [${outcome}]`,
  );
}

for (const c of pool) c.destroy();
child.kill('SIGTERM');
await new Promise((ok) => child.once('exit', ok));
await emu.close();
if (ownState) rmSync(stateDir, { recursive: true, force: true });
