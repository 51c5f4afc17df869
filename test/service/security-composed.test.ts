import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateConnectorProfileCommand, CreateFlowCommand, StartFlowCommand, type CreateFlowCommandInput } from '@aws-sdk/client-appflow';
import { signJwtAssertion } from '../../src/connectors/salesforce/auth.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { createProfile, openProfile, openProfileContext } from '../../src/profiles/index.ts';
import type { Operation } from '../../src/service/operation.ts';
import { composeOperations } from '../../src/service/operations/index.ts';
import { signedFetch, startHarness, type ServiceHarness, type SignedFetchOptions } from './harness.ts';

/**
 * The security review of the composed service (issue 14), over real HTTP with the real operations: which
 * operations a read-only key may call, input validation at the boundary, stored credentials that must not
 * follow a profile to another server, and the canary: planted credential values never appear in the
 * service's log, its state files or its API answers.
 */
let h: ServiceHarness;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let operations: Operation<any>[] = [];

beforeAll(async () => {
  h = await startHarness({
    operations: async (deps) => {
      operations = await composeOperations(deps);
      return operations;
    },
  });
  const ctx = openProfileContext({ log: silentLogger(), home: h.stateDir, kms: h.kms });
  try {
    for (const name of ['page-a', 'page-b']) await createProfile(ctx, { ...h.emu.connectorProfile, connectorProfileName: name });
  } finally {
    ctx.close();
  }
});
afterAll(async () => {
  await h?.close();
});

interface Answer {
  readonly status: number;
  readonly type: string | null;
  readonly message: string;
  readonly text: string;
}

const answers: string[] = [];

/** A signed raw call (any body, members the SDK would drop); every answer is kept for the canary. */
async function call(path: string, body: unknown, o: Partial<SignedFetchOptions> = {}): Promise<Answer> {
  const res = await signedFetch(h.svc, { path, body: typeof body === 'string' ? body : JSON.stringify(body), ...o });
  const text = JSON.stringify(res.json);
  answers.push(text);
  return { status: res.status, type: res.headers.get('x-amzn-errortype'), message: String(res.json['message'] ?? ''), text };
}

async function expectValidation(path: string, body: unknown, member: string): Promise<void> {
  const res = await call(path, body);
  expect(res.status, `${path} ${JSON.stringify(body).slice(0, 200)}: ${res.text}`).toBe(400);
  expect(res.type).toBe('ValidationException');
  expect(res.message).toContain(member);
}

function flow(name: string, profile: string, object: string, extra: Partial<CreateFlowCommandInput> = {}): CreateFlowCommandInput {
  return {
    flowName: name,
    triggerConfig: { triggerType: 'OnDemand' },
    sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: profile, sourceConnectorProperties: { Salesforce: { object } } },
    destinationFlowConfigList: [{ connectorType: 'Salesforce', connectorProfileName: profile, destinationConnectorProperties: { Salesforce: { object: 'Account', writeOperationType: 'INSERT' } } }],
    tasks: [
      { taskType: 'Filter', sourceFields: ['Name'], connectorOperator: { Salesforce: 'PROJECTION' } },
      { taskType: 'Map', sourceFields: ['Name'], destinationField: 'Name', connectorOperator: { Salesforce: 'NO_OP' } },
    ],
    ...extra,
  };
}

/** Every file under a folder, recursively, as bytes (SQLite databases with their -wal and -shm files). */
function allFiles(dir: string): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...allFiles(path));
    else out.push([path, readFileSync(path)]);
  }
  return out;
}

describe('read-only access keys', () => {
  it('marks exactly the Describe*/List* operations read-only', () => {
    expect(operations.length).toBeGreaterThan(15);
    for (const op of operations) expect(op.readOnly, op.name).toBe(/^(Describe|List)/.test(op.name));
  });

  it('refuses every write operation (tags and CancelFlowExecutions included) before reading its input', async () => {
    const key = await h.svc.keys.create({ name: 'reader', readOnly: true });
    const arn = encodeURIComponent(`arn:aws:appflow:${h.svc.region}:${h.svc.accountId}:flow/any`);
    const writes = operations.filter((op) => !op.readOnly);
    expect(writes.map((op) => op.name)).toEqual(expect.arrayContaining(['TagResource', 'UntagResource', 'CancelFlowExecutions', 'StartFlow', 'StopFlow', 'DeleteConnectorProfile']));
    for (const op of writes) {
      const path = op.path.replace('{resourceArn}', arn) + (op.method === 'DELETE' ? '?tagKeys=a' : '');
      const res = await call(path, op.method === 'POST' ? {} : '', { method: op.method, accessKeyId: key.accessKeyId, secret: key.secretAccessKey });
      expect(res.status, op.name).toBe(403);
      expect(res.type, op.name).toBe('AccessDeniedException');
      expect(res.message).toContain(`appflow:${op.name}`);
    }
    // Its reads work.
    const read = await call('/list-flows', {}, { accessKeyId: key.accessKeyId, secret: key.secretAccessKey });
    expect(read.status, read.text).toBe(200);
  });
});

describe('input validation at the boundary', () => {
  it('refuses names outside the AppFlow patterns and lengths, naming the member', async () => {
    for (const flowName of ['has space', 'x'.repeat(257), '-leading', 'a', 'semi;colon']) {
      await expectValidation('/describe-flow', { flowName }, 'flowName');
    }
    for (const connectorProfileName of ['has space', 'x'.repeat(257), '']) {
      await expectValidation('/delete-connector-profile', { connectorProfileName }, 'connectorProfileName');
    }
  });

  it('bounds maxResults per operation', async () => {
    for (const maxResults of [0, 101, 1.5, -1]) {
      await expectValidation('/list-flows', { maxResults }, 'maxResults');
      await expectValidation('/describe-connector-profiles', { maxResults }, 'maxResults');
      await expectValidation('/describe-connectors', { maxResults }, 'maxResults');
    }
    await expectValidation('/list-connector-entities', { connectorProfileName: 'x', maxResults: 10_001 }, 'maxResults');
  });

  it('refuses tag sets over 50, aws: keys and values outside the pattern', async () => {
    const tags = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']));
    await expectValidation('/create-flow', { ...flow('many-tags', 'page-a', 'Account'), tags }, 'tags');
    await h.appflow.send(new CreateFlowCommand({ ...flow('tagged', 'page-a', 'Account'), tags: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'v'])) }));
    const arn = encodeURIComponent(`arn:aws:appflow:${h.svc.region}:${h.svc.accountId}:flow/tagged`);
    await expectValidation(`/tags/${arn}`, { tags: { k0: 'v', one: 'more' } }, '50');
    await expectValidation(`/tags/${arn}`, { tags: { 'aws:owner': 'x' } }, 'aws:');
    await expectValidation(`/tags/${arn}`, { tags: { k0: '<script>' } }, 'tags');
    await expectValidation(`/tags/${arn}`, { tags: { ['k'.repeat(129)]: 'v' } }, 'tags');
  });

  it('answers a huge definition (tens of thousands of tasks) with an answer, not a hang or an internal error', async () => {
    const tasks = Array.from({ length: 30_000 }, (_, i) => ({ taskType: 'Map', sourceFields: [`F${i}__c`], destinationField: `F${i}__c`, connectorOperator: { Salesforce: 'NO_OP' } }));
    const started = Date.now();
    const res = await call('/create-flow', { ...flow('huge', 'not-stored', 'Account'), tasks });
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(res.status, res.text.slice(0, 500)).toBeLessThan(500);
    expect(res.type).not.toBe('InternalServerException');
  });

  it('refuses a nextToken from another list (ValidationException), and a made-up one', async () => {
    for (const name of ['page-flow-1', 'page-flow-2']) await h.appflow.send(new CreateFlowCommand(flow(name, 'page-a', 'Account')));
    const flows = await call('/list-flows', { maxResults: 1 });
    const flowsToken = String(JSON.parse(flows.text).nextToken);
    expect(flowsToken.length).toBeGreaterThan(10);
    const profiles = await call('/describe-connector-profiles', { maxResults: 1 });
    const profilesToken = String(JSON.parse(profiles.text).nextToken);
    expect(profilesToken.length).toBeGreaterThan(10);
    await expectValidation('/describe-connector-profiles', { nextToken: flowsToken }, 'nextToken');
    await expectValidation('/list-flows', { nextToken: profilesToken }, 'nextToken');
    await expectValidation('/describe-flow-execution-records', { flowName: 'page-flow-1', nextToken: flowsToken }, 'nextToken');
    await expectValidation('/list-flows', { nextToken: 'bm90LWEtdG9rZW4.AAAA' }, 'nextToken');
  });
});

describe('files of the service machine', () => {
  it('refuses LocalFile sources and destinations and errorHandlingConfig.localPath from API callers, writing nothing', async () => {
    const target = join(h.stateDir, 'escaped');
    const localDest = { connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: target, outputFormatConfig: { fileType: 'JSON', aggregationConfig: { aggregationType: 'SingleFile' } } } } };
    const toFile = { ...flow('to-file', 'page-a', 'Account'), destinationFlowConfigList: [localDest] };
    const res = await call('/create-flow', toFile);
    expect(res.status, res.text).toBe(400);
    expect(res.type).toBe('ValidationException');
    expect(res.message).toContain('destinationFlowConfigList[0].connectorType: LocalFile reads or writes files');
    const fromFile = {
      ...flow('from-file', 'page-a', 'Account'),
      sourceFlowConfig: { connectorType: 'LocalFile', sourceConnectorProperties: { LocalFile: { path: '/etc/hostname', fileType: 'CSV' } } },
      tasks: [{ taskType: 'Map_all', sourceFields: [], connectorOperator: { LocalFile: 'NO_OP' }, taskProperties: {} }],
    };
    const read = await call('/create-flow', fromFile);
    expect(read.status, read.text).toBe(400);
    expect(read.message).toContain('sourceFlowConfig.connectorType: LocalFile');
    const errorsToFile = flow('errors-to-file', 'page-a', 'Account');
    (errorsToFile.destinationFlowConfigList?.[0]?.destinationConnectorProperties?.Salesforce as unknown as Record<string, unknown>)['errorHandlingConfig'] = { localPath: target };
    const eh = await call('/create-flow', errorsToFile);
    expect(eh.status, eh.text).toBe(400);
    expect(eh.message).toContain('errorHandlingConfig.localPath');
    // Nor can an existing flow be changed to one.
    await h.appflow.send(new CreateFlowCommand(flow('to-file-later', 'page-a', 'Account')));
    const upd = await call('/update-flow', { ...toFile, flowName: 'to-file-later' });
    expect(upd.status, upd.text).toBe(400);
    expect(upd.type).toBe('ValidationException');
    expect(readdirSync(h.stateDir)).not.toContain('escaped');
  });
});

describe('canary: no credential in the log, the state files or any answer', () => {
  const CLIENT_SECRET = 'CANARY0SVC0CLIENT0SECRET0d91e7';
  const BAD_REFRESH = 'CANARY0SVC0BAD0REFRESH0a1b2c3';
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privatePem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

  it('greps the service log, service.db/runs.db/profiles.db and every answer for the planted values', async () => {
    const emu = h.emu;
    const control = (path: string, body: unknown): Promise<Response> => fetch(`${emu.controlUrl}${path}`, { method: 'POST', headers: emu.controlHeaders, body: JSON.stringify(body) });
    expect((await control('/connected-apps', { name: 'svc-canary', clientId: 'svc-canary-app', clientSecret: CLIENT_SECRET, allowLocalhostRedirects: true })).status).toBe(201);
    expect((await control('/connected-apps', { name: 'svc-canary-jwt', clientId: 'svc-canary-jwt', certificatePem: publicKey.export({ format: 'pem', type: 'spki' }).toString() })).status).toBe(201);
    const refreshToken = emu.org.auth.issue(emu.org.auth.defaultUser, 'svc-canary-app', { withRefresh: true }).refreshToken ?? '';
    expect(refreshToken).not.toBe('');
    const jwtToken = signJwtAssertion({ clientId: 'svc-canary-jwt', username: emu.username, audience: emu.loginUrl, privateKeyPem: privatePem, lifetimeSeconds: 300 });
    const properties = { Salesforce: { instanceUrl: emu.instanceUrl, isSandboxEnvironment: false } };
    const profile = (name: string, credentials: Record<string, unknown>): Record<string, unknown> => ({ connectorProfileName: name, connectorType: 'Salesforce', connectionMode: 'Public', connectorProfileConfig: { connectorProfileProperties: properties, connectorProfileCredentials: { Salesforce: credentials } } });

    // Profiles through the API: refresh token + client secret (forceflow's inline extension, sent raw), an
    // AppFlow-style jwtToken (through the SDK), a private key; and refusals that carry credentials.
    expect((await call('/create-connector-profile', profile('canary-refresh', { oAuth2GrantType: 'AUTHORIZATION_CODE', clientId: 'svc-canary-app', clientSecret: CLIENT_SECRET, refreshToken }))).status).toBe(200);
    await h.appflow.send(new CreateConnectorProfileCommand({ connectorProfileName: 'canary-jwt', connectorType: 'Salesforce', connectionMode: 'Public', connectorProfileConfig: { connectorProfileProperties: properties, connectorProfileCredentials: { Salesforce: { oAuth2GrantType: 'JWT_BEARER', jwtToken } } } }));
    expect((await call('/create-connector-profile', profile('canary-key', { oAuth2GrantType: 'JWT_BEARER', clientId: 'svc-canary-jwt', username: emu.username, privateKey: privatePem }))).status).toBe(200);
    const refused = await call('/create-connector-profile', profile('canary-bad', { oAuth2GrantType: 'AUTHORIZATION_CODE', clientId: 'svc-canary-app', clientSecret: CLIENT_SECRET, refreshToken: BAD_REFRESH }));
    expect(refused.type).toBe('ConnectorAuthenticationException');
    const malformed = await call('/create-connector-profile', `{"connectorProfileName":"canary-x","refreshToken": ${BAD_REFRESH}}`);
    expect(malformed.type).toBe('ValidationException');
    const badMember = await call('/create-connector-profile', { ...profile('canary-y', { refreshToken: 42, clientSecret: CLIENT_SECRET }) });
    expect(badMember.type).toBe('ValidationException');

    // The stored profile must not follow a changed instanceUrl with its stored credentials.
    const moved = await call('/update-connector-profile', { connectorProfileName: 'canary-refresh', connectionMode: 'Public', connectorProfileConfig: { connectorProfileProperties: { Salesforce: { instanceUrl: 'https://attacker.example' } } } });
    expect(moved.status, moved.text).toBe(400);
    expect(moved.message).toContain('connectorProfileConfig.connectorProfileCredentials');
    const sandbox = await call('/update-connector-profile', { connectorProfileName: 'canary-jwt', connectionMode: 'Public', connectorProfileConfig: { connectorProfileProperties: { Salesforce: { instanceUrl: emu.instanceUrl, loginUrl: 'https://login.attacker.example' } } } });
    expect(sandbox.status, sandbox.text).toBe(400);
    // Kept in place, the stored credentials are reused (and still work).
    const kept = await call('/update-connector-profile', { connectorProfileName: 'canary-refresh', connectionMode: 'Public', connectorProfileConfig: { connectorProfileProperties: properties } });
    expect(kept.status, kept.text).toBe(200);

    // Runs with the stored credentials: one succeeds, one fails.
    await h.appflow.send(new CreateFlowCommand(flow('canary-ok', 'canary-refresh', 'Account')));
    await h.appflow.send(new CreateFlowCommand(flow('canary-fail', 'canary-key', 'NoSuchObject__c')));
    for (const name of ['canary-ok', 'canary-fail']) {
      const { executionId } = await h.appflow.send(new StartFlowCommand({ flowName: name }));
      let status = 'InProgress';
      for (let i = 0; i < 400 && status === 'InProgress'; i++) {
        const res = await call('/describe-flow-execution-records', { flowName: name });
        status = String((JSON.parse(res.text) as { flowExecutions: Array<{ executionId: string; executionStatus: string }> }).flowExecutions.find((r) => r.executionId === executionId)?.executionStatus);
        if (status === 'InProgress') await sleep(25);
      }
      expect(status, name).toBe(name === 'canary-ok' ? 'Successful' : 'Error');
    }
    for (const [path, body] of [['/describe-flow', { flowName: 'canary-ok' }], ['/describe-flow', { flowName: 'canary-fail' }], ['/list-flows', {}], ['/describe-connector-profiles', {}], ['/list-connector-entities', { connectorProfileName: 'canary-jwt' }], ['/describe-connector-entity', { connectorProfileName: 'canary-key', connectorEntityName: 'Account' }]] as const) {
      const res = await call(path, body);
      expect(res.status, `${path}: ${res.text.slice(0, 300)}`).toBe(200);
    }

    const ctx = openProfileContext({ log: silentLogger(), home: h.stateDir, kms: h.kms });
    let accessTokens: string[];
    try {
      accessTokens = await Promise.all(['canary-refresh', 'canary-jwt', 'canary-key'].map(async (n) => (await openProfile(ctx, n)).credentials.accessToken ?? ''));
    } finally {
      ctx.close();
    }
    // The refreshed session is stored (sealed); JWT profiles mint a session per use.
    expect(accessTokens[0]).toMatch(/^00D/);
    accessTokens = accessTokens.filter((t) => t !== '');

    const pemBody = privatePem.split('\n').filter((l) => l !== '' && !l.startsWith('-----'));
    const needles: Record<string, string> = {
      clientSecret: CLIENT_SECRET,
      refreshToken,
      badRefreshToken: BAD_REFRESH,
      jwtToken,
      jwtSignature: jwtToken.split('.')[2] ?? '',
      privateKeyLine: pemBody[5] ?? '',
      serviceSecretAccessKey: h.svc.secretAccessKey,
      ...Object.fromEntries(accessTokens.map((t, i) => [`accessToken${i}`, t])),
    };
    for (const [what, needle] of Object.entries(needles)) expect(needle.length, what).toBeGreaterThan(15);
    const log = h.logText();
    expect(log).toContain('connector profile created through the API');
    const haystacks: Array<[string, Buffer]> = [['service log', Buffer.from(log)], ...answers.map((a, i): [string, Buffer] => [`answer ${i}`, Buffer.from(a)]), ...allFiles(h.stateDir)];
    expect(haystacks.some(([where]) => where.endsWith('service.db'))).toBe(true);
    expect(haystacks.some(([where]) => where.endsWith('runs.db'))).toBe(true);
    // The state folder and its databases are the owner's only.
    expect(statSync(h.stateDir).mode & 0o077).toBe(0);
    for (const name of ['service.db', 'profiles.db', 'runs.db']) expect(statSync(join(h.stateDir, name)).mode & 0o077, name).toBe(0);
    for (const [where, bytes] of haystacks) {
      for (const [what, needle] of Object.entries(needles)) {
        expect(bytes.includes(Buffer.from(needle)), `${what} found in ${where}`).toBe(false);
        expect(bytes.includes(Buffer.from(Buffer.from(needle).toString('base64'))), `${what} (base64) found in ${where}`).toBe(false);
      }
    }
    // No Authorization header (or its signature) in the log either.
    expect(log).not.toMatch(/AWS4-HMAC-SHA256|Signature=[0-9a-f]{64}/);
  });
});
