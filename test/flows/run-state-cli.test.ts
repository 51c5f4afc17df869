import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { openRunState } from '../../src/flows/state.ts';
import { newExecutionRecord } from '../../src/flows/run-record.ts';
import { startTestS3, type TestS3 } from '../helpers/s3.ts';
import { profileThrough } from '../helpers/rewriting-proxy.ts';
import { forceflow } from '../helpers/cli.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const HOUR = 3_600_000;

/** A forceflow command (a process, or in-process), its output, and a way to wait for a log line. */
interface Cli {
  stdout(): string;
  stderr(): string;
  /** Resolves with the first JSON log line whose msg starts with `msg`. */
  line(msg: string): Promise<Record<string, unknown>>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Follows what a command writes to stderr: its JSON log lines, and whoever waits for one. */
function stderrWatcher(): { feed(text: string): void; text(): string; line(msg: string): Promise<Record<string, unknown>> } {
  let err = '';
  const waiters: Array<{ msg: string; resolve: (l: Record<string, unknown>) => void }> = [];
  const seen: Array<Record<string, unknown>> = [];
  let partial = '';
  return {
    feed(text) {
      err += text;
      partial += text;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const t of lines) {
        let l: Record<string, unknown>;
        try {
          l = JSON.parse(t) as Record<string, unknown>;
        } catch {
          continue;
        }
        seen.push(l);
        for (const w of [...waiters]) if (String(l['msg']).startsWith(w.msg)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(l); }
      }
    },
    text: () => err,
    line: (msg) => {
      const found = seen.find((l) => String(l['msg']).startsWith(msg));
      if (found) return Promise.resolve(found);
      return new Promise((r) => waiters.push({ msg, resolve: r }));
    },
  };
}

/** A real forceflow process: for what only a process has (its pid in a lock, signals, SIGKILL). */
function cliProcess(args: string[], env: NodeJS.ProcessEnv, cwd: string): Cli & { readonly child: ChildProcessWithoutNullStreams } {
  const child = spawn(process.execPath, [join(ROOT, 'bin/forceflow.js'), ...args], { env: { ...process.env, ...env }, cwd });
  let out = '';
  const err = stderrWatcher();
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => err.feed(c.toString()));
  // 'close', not 'exit': the output is complete only once the pipes are.
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.on('close', (code, signal) => done({ code, signal })));
  return { child, stdout: () => out, stderr: err.text, line: err.line, exit };
}

/** Any other command: in-process through runCli (test/helpers/cli.ts), the same program without a process start. */
function cli(args: string[], env: Record<string, string>): Cli {
  const err = stderrWatcher();
  let out = '';
  const exit = forceflow(args, { env, onStderr: err.feed }).then((r) => {
    out = r.stdout;
    return { code: r.code, signal: null };
  });
  return { stdout: () => out, stderr: err.text, line: err.line, exit };
}

/**
 * A proxy in front of the emulator that holds, without answering, the requests `hold` picks (Bulk result pages
 * after the first, a job's cleanup): the run stays exactly where it is, no timing involved.
 */
async function holdingProxy(target: string): Promise<{ url: string; hold: (pick: (method: string, url: string) => boolean) => void; held: () => Promise<string>; heldCount: () => number; close: () => Promise<void> }> {
  let pick: (method: string, url: string) => boolean = () => false;
  const heldWaiters: Array<(u: string) => void> = [];
  const heldUrls: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req: IncomingMessage, res) => {
    const url = req.url ?? '/';
    if (pick(req.method ?? 'GET', url)) {
      heldUrls.push(`${req.method} ${url}`);
      heldWaiters.splice(0).forEach((w) => w(`${req.method} ${url}`));
      return; // never answered
    }
    const upstream = httpRequest(new URL(url, target), { method: req.method, headers: { ...req.headers, host: new URL(target).host } }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    hold: (p) => {
      pick = p;
    },
    heldCount: () => heldUrls.length,
    held: () => (heldUrls.length > 0 ? Promise.resolve(heldUrls[0] as string) : new Promise((r) => heldWaiters.push(r))),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

// The runs that are signalled or killed are real forceflow processes (about a second each to start on an idle
// machine); the commands around them run in-process.
describe('run state through real forceflow processes', { timeout: 180_000 }, () => {
  let emu: RunningEmulator;
  let s3: TestS3;
  let offset = 0;
  // The emulator's clock: Bulk query jobs take an hour of it, so a run sits polling its job until the test moves the clock.
  const completeJobs = (): void => {
    offset += HOUR + 60_000;
  };

  beforeAll(async () => {
    [emu, s3] = await Promise.all([startEmulator({ bulkProcessingDelayMs: HOUR, clock: () => Date.now() + offset }), startTestS3()]);
    emu.org.bulk.queryPageRows = 50;
  });
  afterAll(async () => {
    await Promise.all([emu?.close(), s3?.close()]);
  });

  function setup(name: string, options: { destination?: 'LocalFile' | 'S3'; incremental?: boolean; instanceUrl?: string } = {}): { dir: string; out: string; flowFile: string; profileFile: string; env: Record<string, string>; home: string } {
    const dir = mkdtempSync(join(tmpdir(), `ff-cli-state-${name}-`));
    const out = join(dir, 'out');
    const profileFile = join(dir, 'profile.json');
    writeFileSync(profileFile, JSON.stringify(options.instanceUrl ? profileThrough(emu.connectorProfile, options.instanceUrl) : emu.connectorProfile));
    const flowFile = join(dir, 'flow.json');
    const destination = options.destination === 'S3'
      ? { connectorType: 'S3', destinationConnectorProperties: { S3: { bucketName: s3.bucket, bucketPrefix: `killed/${name}`, s3OutputFormatConfig: { fileType: 'JSON' } } } }
      : { connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: out, outputFormatConfig: { fileType: 'JSON' } } } };
    writeFileSync(flowFile, JSON.stringify({
      flowName: name,
      triggerConfig: options.incremental
        ? { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(1hours)', dataPullMode: 'Incremental', firstExecutionFrom: 1_700_000_000 } } }
        : { triggerType: 'OnDemand' },
      sourceFlowConfig: {
        connectorType: 'Salesforce', connectorProfileName: 'forceflow-emulator',
        sourceConnectorProperties: { Salesforce: { object: 'Account', dataTransferApi: 'BULKV2' } },
        ...(options.incremental ? { incrementalPullConfig: { datetimeTypeFieldName: 'LastModifiedDate' } } : {}),
      },
      destinationFlowConfigList: [destination],
      tasks: [
        { taskType: 'Filter', sourceFields: ['Id', 'Name'], connectorOperator: { Salesforce: 'PROJECTION' } },
        { taskType: 'Map', sourceFields: ['Id'], destinationField: 'Id', connectorOperator: { Salesforce: 'NO_OP' } },
        { taskType: 'Map', sourceFields: ['Name'], destinationField: 'Name', connectorOperator: { Salesforce: 'NO_OP' } },
      ],
    }));
    const home = join(dir, 'home');
    return { dir, out, flowFile, profileFile, home, env: { ...s3.s3.env, FORCEFLOW_HOME: home } };
  }

  /** Whether the emulated org still has the query job (asked in-process: the tests move its clock past token lifetimes). */
  const jobState = async (jobId: string): Promise<number> => {
    try {
      emu.org.bulk.get(jobId, 'query');
      return 200;
    } catch {
      return 404;
    }
  };

  it('two concurrent runs of one flow: the second fails FLOW_LOCKED naming the first; --wait-lock waits and then runs', async () => {
    const t = setup('concurrent');
    const args = ['run', t.flowFile, '--profile', t.profileFile, '--log-level', 'info'];
    const first = cliProcess(args, t.env, t.dir);
    const started = await first.line('bulk query job created');
    const second = cli(args, t.env);
    const refused = await second.exit;
    expect(refused.code).toBe(4);
    expect(second.stderr()).toMatch(/FLOW_LOCKED/);
    expect(second.stderr()).toContain(String(started['executionId']));
    expect(second.stderr()).toContain(`pid ${first.child.pid}`);
    expect(second.stderr()).not.toMatch(/\n\s+at /);

    const waiter = cli([...args, '--wait-lock', '600'], t.env);
    await waiter.line('waiting for the lock');
    first.child.kill('SIGTERM');
    const firstEnd = await first.exit;
    expect(firstEnd.code).toBe(130);
    expect(JSON.parse(first.stdout())).toMatchObject({ executionStatus: 'Canceled', error: { code: 'RUN_CANCELED' } });
    await waiter.line('bulk query job created');
    completeJobs();
    expect((await waiter.exit).code).toBe(0);
    expect(JSON.parse(waiter.stdout())).toMatchObject({ executionStatus: 'Successful' });

    const list = cli(['runs', 'list', 'concurrent', '--json'], t.env);
    expect((await list.exit).code).toBe(0);
    const records = JSON.parse(list.stdout()) as Array<{ executionStatus: string }>;
    expect(records.map((r) => r.executionStatus)).toEqual(['Successful', 'Canceled']);
    // The state folder the CLI created is its owner's only (it was 0755/0644).
    expect(statSync(t.home).mode & 0o777).toBe(0o700);
    for (const f of readdirSync(t.home)) expect(statSync(join(t.home, f)).mode & 0o777, f).toBe(0o600);
    expect(readdirSync(t.home)).toContain('runs.db');
  });

  it('SIGKILL while the Bulk job runs (S3 destination): the next run marks it RUN_INTERRUPTED, deletes its job and staging, and does not take its window', async () => {
    const t = setup('killed-s3', { destination: 'S3', incremental: true });
    const args = ['run', t.flowFile, '--profile', t.profileFile, '--log-level', 'info'];
    const victim = cliProcess(args, t.env, t.dir);
    const created = await victim.line('bulk query job created');
    const jobId = String(created['jobId']);
    const executionId = String(created['executionId']);
    victim.child.kill('SIGKILL');
    expect((await victim.exit).signal).toBe('SIGKILL');
    expect(await jobState(jobId)).toBe(200);
    // An upload of the killed run that had reached S3 (a file is sent once it is whole or 8 MiB in).
    await s3.put(`killed/killed-s3/_temporary/${executionId}/killed-s3/part-0.json`, '{"Id":"001');

    const state = openRunState(t.home);
    expect((await state.run(executionId))?.executionStatus).toBe('InProgress');
    state.close();

    const rerun = cli(args, t.env);
    await rerun.line('bulk query job created');
    completeJobs();
    const end = await rerun.exit;
    expect(end.code, rerun.stderr()).toBe(0);
    const record = JSON.parse(rerun.stdout()) as { executionStatus: string; dataPullStartTime: string };
    expect(record.executionStatus).toBe('Successful');
    // The killed run never advanced the window: the rerun starts at firstExecutionFrom.
    expect(record.dataPullStartTime).toBe(new Date(1_700_000_000_000).toISOString());
    expect(await jobState(jobId), rerun.stderr()).toBe(404);
    expect(await s3.keys('killed/killed-s3/_temporary/')).toEqual([]);

    const describeRun = cli(['runs', 'describe', executionId], t.env);
    expect((await describeRun.exit).code).toBe(0);
    const described = JSON.parse(describeRun.stdout()) as { record: { executionStatus: string; error: { code: string } }; resources: Array<{ kind: string; settledAt: string | null }> };
    expect(described.record.executionStatus).toBe('Error');
    expect(described.record.error.code).toBe('RUN_INTERRUPTED');
    expect(described.resources.map((r) => r.kind).sort()).toEqual(['S3_STAGING', 'SF_BULK_QUERY_JOB']);
    expect(described.resources.every((r) => r.settledAt !== null)).toBe(true);
  });

  it('SIGKILL mid-write (LocalFile destination): runs cleanup removes the staged file, deletes the job and marks the run Error', async () => {
    const proxy = await holdingProxy(emu.instanceUrl);
    try {
      const t = setup('killed-local', { instanceUrl: proxy.url });
      // Result pages after the first never come: the run has staged page one and waits for page two.
      proxy.hold((method, url) => method === 'GET' && /\/jobs\/query\/[^/]+\/results\?.*locator=/.test(url));
      const victim = cliProcess(['run', t.flowFile, '--profile', t.profileFile, '--log-level', 'info'], t.env, t.dir);
      const created = await victim.line('bulk query job created');
      const executionId = String(created['executionId']);
      completeJobs();
      await proxy.held();
      const staging = join(t.out, '_temporary', executionId);
      while (!existsSync(staging) || readdirSync(staging, { recursive: true }).length === 0) await new Promise((r) => setImmediate(r));
      victim.child.kill('SIGKILL');
      await victim.exit;
      proxy.hold(() => false);

      const cleanup = cli(['runs', 'cleanup', '--profile', t.profileFile], t.env);
      expect((await cleanup.exit).code, cleanup.stderr()).toBe(0);
      const report = JSON.parse(cleanup.stdout()) as { flows: Record<string, { interrupted: string[]; cleaned: Array<{ resource: { kind: string } }>; failed: unknown[] }> };
      expect(report.flows['killed-local']?.interrupted).toEqual([executionId]);
      expect(report.flows['killed-local']?.cleaned.map((c) => c.resource.kind).sort()).toEqual(['LOCAL_STAGING', 'SF_BULK_QUERY_JOB']);
      expect(existsSync(join(t.out, '_temporary'))).toBe(false);
      expect(await jobState(String(created['jobId']))).toBe(404);
      const again = cli(['runs', 'cleanup', 'killed-local', '--profile', t.profileFile], t.env);
      expect((await again.exit).code).toBe(0);
      expect(JSON.parse(again.stdout())).toEqual({ flows: {} });

      const list = cli(['runs', 'list', 'killed-local'], t.env);
      expect((await list.exit).code).toBe(0);
      expect(list.stdout()).toContain(`${executionId}  killed-local  Error (RUN_INTERRUPTED)`);
    } finally {
      await proxy.close();
    }
  });

  it.each(['deadline', 'second signal'] as const)('a run that cannot stop ends by force (%s): recorded Canceled, lock released, leftovers cleaned by the next run', async (how) => {
    const proxy = await holdingProxy(emu.instanceUrl);
    try {
      const name = how === 'deadline' ? 'forced-deadline' : 'forced-signal';
      const t = setup(name, { instanceUrl: proxy.url });
      const args = ['run', t.flowFile, '--profile', t.profileFile, '--log-level', 'info'];
      // Page two never comes, and neither does an answer to the job's cleanup (abort/delete), which a cancel cannot interrupt.
      proxy.hold((method, url) => (method === 'GET' && /\/jobs\/query\/[^/]+\/results\?.*locator=/.test(url)) || method === 'DELETE' || method === 'PATCH');
      const run = cliProcess([...args, '--cancel-timeout', how === 'deadline' ? '1' : '3600'], t.env, t.dir);
      const created = await run.line('bulk query job created');
      const executionId = String(created['executionId']);
      completeJobs();
      await proxy.held();
      while (!existsSync(join(t.out, '_temporary', executionId))) await new Promise((r) => setImmediate(r));
      run.child.kill('SIGTERM');
      await run.line('cancelling the run');
      if (how === 'second signal') {
        // Stuck in the job's cleanup call, which no signal interrupts.
        while (proxy.heldCount() < 2) await new Promise((r) => setImmediate(r));
        run.child.kill('SIGTERM');
      }
      const end = await run.exit;
      expect(end.signal).toBe('SIGINT'); // what a shell reports as 130
      expect(run.stderr()).toContain('ending the process by force');
      const record = JSON.parse(run.stdout()) as { executionStatus: string; error: { code: string; message: string } };
      expect(record.executionStatus).toBe('Canceled');
      expect(record.error.message).toContain('ended by force');
      const state = openRunState(t.home);
      expect((await state.run(executionId))?.executionStatus).toBe('Canceled');
      expect(await state.lockHolder(name)).toBeUndefined();
      state.close();

      // Its staging and its job were left: the next run (not FLOW_LOCKED) cleans them up.
      proxy.hold(() => false);
      const next = cli(args, t.env);
      await next.line('bulk query job created');
      completeJobs();
      expect((await next.exit).code, next.stderr()).toBe(0);
      expect(readdirSync(t.out).includes('_temporary')).toBe(false);
      expect(await jobState(String(created['jobId']))).toBe(404);
    } finally {
      await proxy.close();
    }
  });

  it('windows reset and show, runs describe and list: audited changes and clear errors for unknown flows and ids', async () => {
    const t = setup('windows-cli');
    const state = openRunState(t.home);
    const seed = newExecutionRecord('windows-cli', 'w-1', new Date('2026-01-01T00:00:00.000Z'));
    seed.executionStatus = 'Successful';
    seed.dataPullStartTime = '2025-12-31T00:00:00.000Z';
    seed.dataPullEndTime = '2026-01-01T00:00:00.000Z';
    seed.lastUpdatedAt = '2026-01-01T00:10:00.000Z';
    await state.saveRun(seed);
    state.close();
    const run = async (args: string[]): Promise<{ code: number | null; out: string; err: string }> => {
      const c = cli(args, t.env);
      const e = await c.exit;
      return { code: e.code, out: c.stdout(), err: c.stderr() };
    };
    const moved = await run(['windows', 'reset', 'windows-cli', '--from', '2025-06-01', '--note', 'backfill June']);
    expect(moved.code, moved.err).toBe(0);
    expect(JSON.parse(moved.out)).toMatchObject({ previousEnd: '2026-01-01T00:00:00.000Z', newEnd: '2025-06-01T00:00:00.000Z', reason: 'reset', note: 'backfill June' });
    const reset = await run(['windows', 'reset', 'windows-cli']);
    expect(JSON.parse(reset.out)).toMatchObject({ previousEnd: '2025-06-01T00:00:00.000Z', newEnd: null });
    const shown = await run(['windows', 'show', 'windows-cli']);
    expect(JSON.parse(shown.out)).toMatchObject({ windowEnd: null, changes: [{ newEnd: null }, { newEnd: '2025-06-01T00:00:00.000Z' }, { reason: 'run' }] });

    for (const args of [['windows', 'reset', 'nope'], ['runs', 'list', 'nope'], ['runs', 'describe', 'no-such-id']]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(/RUN_NOT_FOUND/);
      expect(r.err).not.toMatch(/\n\s+at /);
      if (args[2] === 'nope') expect(r.err).toContain('Flows it knows: windows-cli');
    }
    for (const bad of ['yesterday', '2999-01-01']) {
      const r = await run(['windows', 'reset', 'windows-cli', '--from', bad]);
      expect(r.code, bad).toBe(2);
      expect(r.err).toMatch(/CONFIG_INVALID: --from/);
    }
    const badWait = await run(['run', t.flowFile, '--profile', t.profileFile, '--wait-lock', 'soon']);
    expect(badWait.code).toBe(2);
    expect(badWait.err).toMatch(/CONFIG_INVALID: --wait-lock/);
  });
});
