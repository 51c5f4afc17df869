/**
 * `node --import tsx bench/service-scheduler.ts [--flows 12] [--spacing 2.5] [--object Account]`: the per-run
 * overhead of the service's scheduler (issue 14): the time from a scheduled fire to the first Salesforce call
 * of the run it starts.
 *
 * The emulator and a local S3 run in this process; `forceflow serve` runs in its own process (as it runs for
 * real, with its own clock and event loop). The service reaches Salesforce through an observing HTTP proxy in
 * front of the emulator (the connector profile's instanceUrl is the proxy), which timestamps every request it
 * forwards. `--flows` Scheduled flows (rate(1minutes), Complete, `--object` → S3 JSON lines) are created and
 * activated through the AppFlow API, each with its own scheduleStartTime `--spacing` seconds apart, so each
 * flow's first fire (at its scheduleStartTime, exactly known) comes while no other run is going. Per fire:
 * - fire → run started: the run's `startedAt` (describe-flow-execution-records) minus the fire time: the
 *   scheduler's timer, the executor taking the flow's lock and recording the run InProgress;
 * - run started → first Salesforce call: the run's set-up (definition, profile decrypted through KMS,
 *   the S3 bucket check) until the proxy sees the run's first request;
 * - fire → first Salesforce call: the sum, the figure the issue asks for.
 * A fire that came while the previous flow's run was still going is reported as overlapped and left out (its
 * first request could be the other run's). (flows - 1) × spacing must stay under about 47 s: each flow is
 * stopped after its first run, before its second fire a minute later.
 * Clocks: the proxy and the service read the same system clock (one machine).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { startEmulator } from '../src/emulator/index.ts';
import { startLocalS3 } from '../src/emulator/s3/local.ts';
import { appflowClient, type AppflowJson } from '../src/service/client.ts';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const flows = Math.max(1, Number(opt('flows') ?? 12));
const spacing = Math.max(0.5, Number(opt('spacing') ?? 2.5));
const object = opt('object') ?? 'Account';
if ((flows - 1) * spacing + 3 > 50) {
  // Every flow is stopped after its first run, which must come before its second fire (a minute later).
  console.error(`--flows ${flows} with --spacing ${spacing}: the fires must fit in 50 s (each flow's second fire comes a minute after its first); use fewer flows or a smaller spacing.`);
  process.exit(2);
}
const ROOT = resolve(new URL('..', import.meta.url).pathname);

const work = mkdtempSync(join(tmpdir(), 'ff-bench-scheduler-'));
const emu = await startEmulator();
const s3 = await startLocalS3({ bucket: 'forceflow', directory: join(work, 's3') });

// The observing proxy: forwards every request to the emulator and keeps its arrival time (epoch ms). Bodies
// that name the emulator's URL (the token answer's instance_url) are rewritten to the proxy's, so every call
// of a run, not only its first, comes through here.
const target = new URL(emu.instanceUrl);
const seen: Array<{ at: number; method: string; path: string }> = [];
const proxy = createServer((req, res) => {
  const at = performance.timeOrigin + performance.now();
  seen.push({ at, method: req.method ?? '', path: (req.url ?? '').split('?')[0] ?? '' });
  const upstream = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } }, (up) => {
    const chunks: Buffer[] = [];
    up.on('data', (c: Buffer) => chunks.push(c));
    up.on('end', () => {
      const body = Buffer.concat(chunks).toString('latin1').split(emu.instanceUrl).join(proxyUrl);
      const headers = { ...up.headers };
      delete headers['content-length'];
      delete headers['transfer-encoding'];
      res.writeHead(up.statusCode ?? 502, { ...headers, 'content-length': Buffer.byteLength(body, 'latin1') });
      res.end(body, 'latin1');
    });
  });
  upstream.on('error', () => res.destroy());
  req.pipe(upstream);
});
await new Promise<void>((ok) => proxy.listen(0, '127.0.0.1', ok));
const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;

const stateDir = join(work, 'state');
const child = spawn(process.execPath, [join(ROOT, 'bin/forceflow.js'), 'serve', '--state-dir', stateDir, '--grace-period', '5'], {
  env: { ...process.env, ...emu.env, ...s3.env, FORCEFLOW_LOG_LEVEL: 'warn' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const line = await new Promise<{ endpoint: string; region: string; accessKeyId: string; secretAccessKey: string }>((ok, fail) => {
  createInterface({ input: child.stdout }).once('line', (l) => ok(JSON.parse(l) as never));
  child.once('exit', (code) => fail(new Error(`forceflow serve exited ${code}`)));
});
const appflow = appflowClient(line);
const sm = new SecretsManagerClient({ endpoint: emu.aws.secretsManagerEndpoint, region: emu.aws.region, credentials: { accessKeyId: emu.aws.accessKeyId, secretAccessKey: emu.aws.secretAccessKey } });
const secret = await sm.send(new CreateSecretCommand({ Name: 'bench/app', SecretString: JSON.stringify({ clientId: emu.clientId, clientSecret: emu.clientSecret }) }));
await appflow.call('create-connector-profile', {
  connectorProfileName: 'bench',
  connectorType: 'Salesforce',
  connectionMode: 'Public',
  connectorProfileConfig: {
    connectorProfileProperties: { Salesforce: { instanceUrl: proxyUrl, isSandboxEnvironment: false } },
    connectorProfileCredentials: { Salesforce: { accessToken: emu.accessToken, refreshToken: emu.refreshToken, oAuth2GrantType: 'AUTHORIZATION_CODE', clientCredentialsArn: secret.ARN } },
  },
});

const flowDef = (name: string, startTime: number): AppflowJson => ({
  flowName: name,
  triggerConfig: { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(1minutes)', dataPullMode: 'Complete', scheduleStartTime: startTime } } },
  sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: 'bench', sourceConnectorProperties: { Salesforce: { object } } },
  destinationFlowConfigList: [{ connectorType: 'S3', destinationConnectorProperties: { S3: { bucketName: 'forceflow', bucketPrefix: 'bench', s3OutputFormatConfig: { fileType: 'JSON' } } } }],
  tasks: [{ taskType: 'Map_all', sourceFields: [], connectorOperator: { Salesforce: 'NO_OP' }, taskProperties: {} }],
});

// Fires from 3 s after the last flow is activated, `spacing` s apart (epoch seconds with milliseconds, as the API takes them).
const firstFire = Math.ceil(Date.now() / 1000) + 3 + flows * 0.1;
const fires: Array<{ name: string; at: number }> = [];
for (let i = 0; i < flows; i++) {
  const at = firstFire + i * spacing;
  const name = `sched-${String(i).padStart(3, '0')}`;
  await appflow.call('create-flow', flowDef(name, at));
  await appflow.call('start-flow', { flowName: name });
  fires.push({ name, at: at * 1000 });
}
const cpu0 = process.cpuUsage();
const lastFire = fires.at(-1)?.at ?? Date.now();
await sleep(Math.max(0, lastFire - Date.now()) + 500);

interface Sample { name: string; toStart: number; toFirstCall: number; total: number; firstCall: string; overlapped: boolean }
const samples: Sample[] = [];
const failures: string[] = [];
for (const [i, fire] of fires.entries()) {
  let record: AppflowJson | undefined;
  for (let tries = 0; tries < 240; tries++) {
    const page = await appflow.call<{ flowExecutions?: AppflowJson[] }>('describe-flow-execution-records', { flowName: fire.name });
    record = page.flowExecutions?.at(-1); // the flow's first run (records come newest first)
    if (record && record['executionStatus'] !== 'InProgress') break;
    await sleep(250);
  }
  await appflow.call('stop-flow', { flowName: fire.name });
  if (!record || record['executionStatus'] !== 'Successful') {
    failures.push(`${fire.name}: ${String(record?.['executionStatus'] ?? 'no run')} ${JSON.stringify((record?.['executionResult'] as AppflowJson | undefined)?.['errorInfo'] ?? '')}`);
    continue;
  }
  const startedAt = Number(record['startedAt']) * 1000;
  const first = seen.find((r) => r.at >= fire.at);
  if (!first) {
    failures.push(`${fire.name}: the proxy saw no request after the fire`);
    continue;
  }
  const previous = fires[i - 1];
  // Overlap: the previous flow's run was still sending calls after this fire.
  const previousEnd = previous ? Number(((await appflow.call<{ flowExecutions?: AppflowJson[] }>('describe-flow-execution-records', { flowName: previous.name })).flowExecutions?.[0] ?? {})['lastUpdatedAt'] ?? 0) * 1000 : 0;
  samples.push({ name: fire.name, toStart: startedAt - fire.at, toFirstCall: first.at - startedAt, total: first.at - fire.at, firstCall: `${first.method} ${first.path}`, overlapped: previousEnd > fire.at });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
const clean = samples.filter((s) => !s.overlapped);
const stat = (pick: (s: Sample) => number): string => {
  const v = clean.map(pick).sort((a, b) => a - b);
  return `p50 ${percentile(v, 50).toFixed(1)} ms  p90 ${percentile(v, 90).toFixed(1)} ms  max ${(v.at(-1) ?? Number.NaN).toFixed(1)} ms`;
};
const own = process.cpuUsage(cpu0);
console.log(`Scheduler overhead: ${flows} scheduled flows (rate(1minutes), ${object} → S3 JSON lines), first fires ${spacing} s apart, forceflow serve in its own process; load average ${loadavg()[0]?.toFixed(2)} on ${cpus().length} cores, ${new Date().toISOString().slice(0, 10)}`);
console.log(`fires measured: ${clean.length} (${samples.length - clean.length} overlapped another run, ${failures.length} failed); the first Salesforce call of a run: ${[...new Set(clean.map((s) => s.firstCall))].join(', ')}`);
console.log(`fire → run started (scheduler + executor)        ${stat((s) => s.toStart)}`);
console.log(`run started → first Salesforce call (set-up)     ${stat((s) => s.toFirstCall)}`);
console.log(`fire → first Salesforce call                     ${stat((s) => s.total)}`);
console.log(`(bench process CPU during the fires: ${((own.user + own.system) / 1e6).toFixed(2)} s)`);
for (const f of failures) console.error(`failed: ${f}`);

sm.destroy();
child.kill('SIGTERM');
await new Promise((ok) => child.once('exit', ok));
await new Promise((ok) => proxy.close(ok));
await s3.close();
await emu.close();
rmSync(work, { recursive: true, force: true });
if (failures.length > 0 || clean.length === 0) process.exitCode = 1;
