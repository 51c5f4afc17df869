/**
 * `node --import tsx bench/service-api.ts [--clients 100] [--requests 20000] [--flow NAME] [--state-dir DIR]`:
 * latency of the AppFlow API under concurrent clients (issue 14).
 *
 * Starts the emulator in-process (its KMS seals the service's keys) and `forceflow serve` in its own process
 * (as it runs for real), then `--clients` AppflowClients (@aws-sdk/client-appflow, SigV4, keep-alive) send
 * `--requests` calls in total, half ListFlows and half DescribeFlow(`--flow`, default a name that does not
 * exist), as fast as they can. Reports per operation p50/p90/p99/max latency in ms, calls/s, and the
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
import { AppflowClient, DescribeFlowCommand, ListFlowsCommand } from '@aws-sdk/client-appflow';
import { startEmulator } from '../src/emulator/index.ts';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const clients = Math.max(1, Number(opt('clients') ?? 100));
const requests = Math.max(clients, Number(opt('requests') ?? 20_000));
const flowName = opt('flow') ?? 'bench-no-such-flow';
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
  env: { ...process.env, AWS_ENDPOINT_URL_KMS: emu.aws.kmsEndpoint, AWS_REGION: emu.aws.region, AWS_ACCESS_KEY_ID: emu.aws.accessKeyId, AWS_SECRET_ACCESS_KEY: emu.aws.secretAccessKey, FORCEFLOW_LOG_LEVEL: 'warn' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const line = await new Promise<ServeLine>((ok, fail) => {
  createInterface({ input: child.stdout }).once('line', (l) => ok(JSON.parse(l) as ServeLine));
  child.once('exit', (code) => fail(new Error(`forceflow serve exited ${code}`)));
});

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

console.log(`AppFlow API, ${clients} concurrent clients, ${requests} calls in ${seconds.toFixed(2)} s (${(requests / seconds).toFixed(0)} calls/s), forceflow serve in its own process`);
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
