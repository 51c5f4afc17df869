import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFlow } from '../../src/flows/runner.ts';
import { resolveProfileDocument } from '../../src/profiles/resolve.ts';
import { startTestS3, type TestS3 } from '../helpers/s3.ts';
import { profilesEnv, sfProfile, type ProfilesEnv } from '../profiles/env.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const FAST = { retry: { retries: 1, baseDelayMs: 5, maxDelayMs: 10 }, bulk: { pollInitialMs: 10, pollMaxMs: 50 } };
const FIELDS = ['Id', 'Name', 'Industry', 'AnnualRevenue'];

let env: ProfilesEnv;
let s3: TestS3;
let work: string;
beforeAll(async () => {
  [env, s3] = await Promise.all([profilesEnv(), startTestS3()]);
  work = mkdtempSync(join(tmpdir(), 'ff-cli-run-'));
});
afterAll(async () => {
  await Promise.all([env?.close(), s3?.close()]);
});

function accountsFlow(name: string, options: { api?: 'REST_SYNC' | 'BULKV2'; destination?: Record<string, unknown>; profile?: string } = {}): Record<string, unknown> {
  return {
    flowName: name,
    triggerConfig: { triggerType: 'OnDemand' },
    sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: options.profile ?? 'forceflow-emulator', sourceConnectorProperties: { Salesforce: { object: 'Account', ...(options.api ? { dataTransferApi: options.api } : {}) } } },
    destinationFlowConfigList: [options.destination ?? { connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: join(work, name) } } }],
    tasks: [
      { taskType: 'Filter', sourceFields: FIELDS, connectorOperator: { Salesforce: 'PROJECTION' } },
      ...FIELDS.map((f) => ({ taskType: 'Map', sourceFields: [f], destinationField: f, connectorOperator: { Salesforce: 'NO_OP' } })),
    ],
  };
}

/** A logger at `level` whose lines are kept (no redaction configured: nothing may depend on it). */
function capture(level: 'debug' | 'trace'): { log: pino.Logger; lines: Array<Record<string, unknown>>; text: () => string } {
  const lines: Array<Record<string, unknown>> = [];
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level }, sink), lines, text: () => chunks.join('') };
}

describe('what a run logs (--log-level debug / trace) and counts', () => {
  it('debug shows the SOQL, each HTTP call (method, path, status, ms) and the Bulk job id; trace adds query parameters; never a token or secret', async () => {
    // Expired access token: the run refreshes, so the token grant is logged too.
    const profile = sfProfile(env.emu, 'forceflow-emulator', { oAuth2GrantType: 'AUTHORIZATION_CODE', clientId: env.emu.clientId, clientSecret: env.emu.clientSecret, refreshToken: env.emu.refreshToken, accessToken: 'expired-token' });
    const debug = capture('debug');
    const rest = await runFlow({ flow: accountsFlow('log-rest', { api: 'REST_SYNC' }), profiles: { 'forceflow-emulator': profile }, log: debug.log, salesforce: FAST });
    expect(rest.executionStatus).toBe('Successful');
    const soqlLine = debug.lines.find((l) => l['msg'] === 'SOQL sent');
    expect(soqlLine?.['soql']).toBe(`SELECT ${FIELDS.join(', ')} FROM Account`);
    const calls = debug.lines.filter((l) => l['msg'] === 'salesforce http call');
    expect(calls.map((c) => `${String(c['method'])} ${String(c['path'])} ${String(c['status'])}`)).toEqual(expect.arrayContaining([
      'GET /services/data/v58.0/sobjects/Account/describe 401',
      'POST /services/oauth2/token 200',
      'GET /services/data/v58.0/sobjects/Account/describe 200',
      'GET /services/data/v58.0/query 200',
    ]));
    for (const c of calls) {
      expect(typeof c['ms']).toBe('number');
      expect(String(c['path'])).not.toContain('?');
      expect(c['query']).toBeUndefined();
    }

    const bulkDebug = capture('debug');
    const bulk = await runFlow({ flow: accountsFlow('log-bulk', { api: 'BULKV2' }), profiles: { 'forceflow-emulator': env.emu.connectorProfile }, log: bulkDebug.log, salesforce: FAST });
    expect(bulk.executionStatus).toBe('Successful');
    const jobId = bulkDebug.lines.find((l) => l['msg'] === 'bulk query job created')?.['jobId'];
    expect(jobId).toMatch(/^750/);
    expect(bulkDebug.lines.some((l) => l['msg'] === 'salesforce http call' && l['path'] === `/services/data/v58.0/jobs/query/${String(jobId)}/results`)).toBe(true);

    const trace = capture('trace');
    const traced = await runFlow({ flow: accountsFlow('log-trace', { api: 'REST_SYNC' }), profiles: { 'forceflow-emulator': env.emu.connectorProfile }, log: trace.log, salesforce: FAST });
    expect(traced.executionStatus).toBe('Successful');
    const query = trace.lines.find((l) => l['msg'] === 'salesforce http call' && l['path'] === '/services/data/v58.0/query');
    expect(query?.['query']).toEqual({ q: `SELECT ${FIELDS.join(', ')} FROM Account` });
    expect(query?.['attempt']).toBe(1);

    const logs = debug.text() + bulkDebug.text() + trace.text();
    for (const [what, secret] of Object.entries({ accessToken: env.emu.accessToken, refreshToken: env.emu.refreshToken, clientSecret: env.emu.clientSecret })) {
      const at = logs.indexOf(secret);
      expect(at, `${what} in the logs: ${logs.slice(Math.max(0, at - 300), at + 50)}`).toBe(-1);
    }
    // No access token of any session (they all start with the org id and "!").
    expect(logs).not.toMatch(/00D[A-Za-z0-9]{12,15}![A-Za-z0-9._]{20,}/);
  });

  it('bytesProcessed counts the records read (the query responses), not describe, COUNT() or auth', async () => {
    const debug = capture('debug');
    const record = await runFlow({ flow: accountsFlow('bytes-rest', { api: 'REST_SYNC' }), profiles: { 'forceflow-emulator': env.emu.connectorProfile }, log: debug.log, salesforce: FAST });
    expect(record.executionStatus).toBe('Successful');
    const soql = String(debug.lines.find((l) => l['msg'] === 'SOQL sent')?.['soql']);
    // The same query, answered once (the seed's Accounts fit one page): its body is exactly what the run read.
    const res = await fetch(`${env.emu.instanceUrl}/services/data/v58.0/query?q=${encodeURIComponent(soql)}`, { headers: { Authorization: `Bearer ${env.emu.accessToken}` } });
    const body = Buffer.from(await res.arrayBuffer());
    expect((JSON.parse(body.toString('utf8')) as { done: boolean }).done).toBe(true);
    expect(record.executionResult.recordsProcessed).toBe((JSON.parse(body.toString('utf8')) as { totalSize: number }).totalSize);
    expect(record.executionResult.bytesProcessed).toBe(body.byteLength);
  });
});

describe('profiles that cannot work are refused at once, with what to do', () => {
  it.each([
    ['a path', (u: string) => `${u}/services`, 'instanceUrl must be the server\'s address only, without a path, query or fragment. Use "http://127.0.0.1:'],
    ['a query', (u: string) => `${u}?x=1`, 'without a path, query or fragment'],
    ['plain http to a remote host', () => 'http://acme.my.salesforce.com', 'instanceUrl "http://acme.my.salesforce.com" must use https (plain http only to a loopback host'],
    ['another scheme', () => 'ftp://acme.my.salesforce.com', 'must use https'],
  ])('instanceUrl with %s is PROFILE_INVALID before any call (was OBJECT_NOT_FOUND, or 13 s of retries)', async (_what, url, message) => {
    const profile = sfProfile(env.emu, 'bad-url', { accessToken: env.emu.accessToken, clientId: env.emu.clientId, clientSecret: env.emu.clientSecret, refreshToken: env.emu.refreshToken });
    (profile as { connectorProfileConfig: { connectorProfileProperties: { Salesforce: { instanceUrl: string } } } }).connectorProfileConfig.connectorProfileProperties.Salesforce.instanceUrl = url(env.emu.instanceUrl);
    const record = await runFlow({ flow: accountsFlow('bad-url', { profile: 'bad-url' }), profiles: { 'bad-url': profile }, salesforce: FAST });
    expect(record.executionStatus).toBe('Error');
    expect(record.error?.code).toBe('PROFILE_INVALID');
    expect(record.error?.message).toContain(message);
    expect(record.apiCalls.source).toBe(0);
  });

  it('a wrong client secret says so (invalid_client), not that the refresh token may be expired (invalid_grant)', async () => {
    const wrongSecret = sfProfile(env.emu, 'wrong-secret', { oAuth2GrantType: 'AUTHORIZATION_CODE', clientId: env.emu.clientId, clientSecret: 'not-the-secret', refreshToken: env.emu.refreshToken });
    const r1 = await runFlow({ flow: accountsFlow('wrong-secret', { profile: 'wrong-secret' }), profiles: { 'wrong-secret': wrongSecret }, salesforce: FAST });
    expect(r1.error?.code).toBe('SF_AUTH_FAILED');
    expect(r1.error?.message).toContain('invalid_client');
    expect(r1.error?.message).toContain("The connected app's client id or client secret is wrong");
    expect(r1.error?.message).not.toContain('may be expired');

    const badToken = sfProfile(env.emu, 'bad-token', { oAuth2GrantType: 'AUTHORIZATION_CODE', clientId: env.emu.clientId, clientSecret: env.emu.clientSecret, refreshToken: '5Aep861_not_a_token' });
    const r2 = await runFlow({ flow: accountsFlow('bad-token', { profile: 'bad-token' }), profiles: { 'bad-token': badToken }, salesforce: FAST });
    expect(r2.error?.code).toBe('SF_AUTH_FAILED');
    expect(r2.error?.message).toContain('invalid_grant');
    expect(r2.error?.message).toContain('The refresh token may be expired or revoked');
  });
});

describe('forceflow run --profile profile.json', () => {
  it('reads the clientCredentialsArn secret exactly as stored profiles do (library path and CLI), without the AWS SDK Node-version warning', async () => {
    // The file holds no client id, secret or refresh token: all three are in the secret.
    const arn = await env.createSecret('file-profile/app', { clientId: env.emu.clientId, clientSecret: env.emu.clientSecret, refreshToken: env.emu.refreshToken });
    const profileJson = sfProfile(env.emu, 'file-profile', { oAuth2GrantType: 'AUTHORIZATION_CODE', clientCredentialsArn: arn });
    const resolved = await resolveProfileDocument({ secrets: env.ctx.secrets, log: env.ctx.log }, profileJson, 'Profile file p.json');
    const record = await runFlow({ flow: accountsFlow('file-profile-lib', { profile: 'file-profile' }), profiles: async () => resolved, salesforce: FAST });
    expect(record.error).toBeNull();
    expect(record.executionResult.recordsProcessed).toBeGreaterThan(900);

    const dir = join(work, 'file-profile-cli');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'profile.json'), JSON.stringify(profileJson));
    writeFileSync(join(dir, 'flow.json'), JSON.stringify(accountsFlow('file-profile-cli', { profile: 'file-profile', destination: { connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: 'out' } } } })));
    const cliEnv: NodeJS.ProcessEnv = { ...process.env, ...env.emu.env, FORCEFLOW_HOME: join(dir, 'home') };
    delete cliEnv['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'];
    const cli = await new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      execFile(process.execPath, [join(ROOT, 'bin/forceflow.js'), 'run', join(dir, 'flow.json'), '--profile', join(dir, 'profile.json'), '--log-level', 'warn'], { env: cliEnv, cwd: dir }, (error, stdout, stderr) => {
        done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });
    expect(cli.code, cli.stderr).toBe(0);
    expect((JSON.parse(cli.stdout) as { executionResult: { recordsProcessed: number } }).executionResult.recordsProcessed).toBe(record.executionResult.recordsProcessed);
    expect(cli.stderr).not.toContain('NodeVersionSupportWarning');
    expect(readdirSync(join(dir, 'out')).length).toBeGreaterThan(0);
  }, 60_000);
});

describe('destination preflight', () => {
  it('a destination bucket that does not exist fails the run before the source is read', async () => {
    const flow = accountsFlow('no-bucket', { destination: { connectorType: 'S3', destinationConnectorProperties: { S3: { bucketName: 'no-such-bucket', s3OutputFormatConfig: { fileType: 'CSV' } } } } });
    const record = await runFlow({ flow, profiles: { 'forceflow-emulator': env.emu.connectorProfile }, s3Client: s3.client, salesforce: FAST });
    expect(record.executionStatus).toBe('Error');
    expect(record.error?.code).toBe('FILE_NOT_FOUND');
    expect(record.error?.message).toContain('The flow\'s destination bucket "no-such-bucket" (destinationConnectorProperties.S3.bucketName) does not exist; nothing was read.');
    expect(record.apiCalls.source).toBe(0);
    expect(record.executionResult.recordsProcessed).toBe(0);
  });
});

describe('destination preflight without AWS configuration', () => {
  it('no AWS region is CONFIG_INVALID saying what to set, not a retryable S3_ERROR', async () => {
    const saved = { ...process.env };
    for (const k of ['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_PROFILE', 'AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL']) delete process.env[k];
    process.env['AWS_CONFIG_FILE'] = join(work, 'no-aws-config');
    process.env['AWS_SHARED_CREDENTIALS_FILE'] = join(work, 'no-aws-credentials');
    try {
      const dir = join(work, 'no-region');
      mkdirSync(join(dir, 'data'), { recursive: true });
      writeFileSync(join(dir, 'data', 'a.csv'), 'Name\nAda\n');
      const flow = {
        flowName: 'no-region',
        triggerConfig: { triggerType: 'OnDemand' },
        sourceFlowConfig: { connectorType: 'LocalFile', sourceConnectorProperties: { LocalFile: { path: 'data/a.csv', fileType: 'CSV' } } },
        destinationFlowConfigList: [{ connectorType: 'S3', destinationConnectorProperties: { S3: { bucketName: 'forceflow' } } }],
        tasks: [{ taskType: 'Map_all', sourceFields: [], connectorOperator: { LocalFile: 'NO_OP' }, taskProperties: {} }],
      };
      const record = await runFlow({ flow, flowFile: join(dir, 'flow.json') });
      expect(record.error?.code).toBe('CONFIG_INVALID');
      expect(record.error?.message).toContain('no AWS region is configured. Set AWS_REGION');
      expect(record.executionResult.recordsProcessed).toBe(0);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });
});

describe('default output file type', () => {
  it('a LocalFile destination without outputFormatConfig writes JSON lines (as the plan and docs say)', async () => {
    const record = await runFlow({ flow: accountsFlow('default-type', { api: 'REST_SYNC' }), profiles: { 'forceflow-emulator': env.emu.connectorProfile }, salesforce: FAST });
    expect(record.executionStatus).toBe('Successful');
    const text = record.outputs.map((o) => readFileSync(o, 'utf8')).join('');
    const first = JSON.parse(text.split('\n')[0] as string) as Record<string, unknown>;
    expect(Object.keys(first)).toEqual(FIELDS);
  });
});
