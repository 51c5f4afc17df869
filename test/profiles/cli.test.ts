import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { approveInBrowser } from './browser.ts';
import { profilesEnv, sfProfile, type ProfilesEnv } from './env.ts';
import { forceflow, type CliResult } from '../helpers/cli.ts';

let env: ProfilesEnv;
beforeAll(async () => {
  env = await profilesEnv();
});
afterAll(async () => {
  await env.close();
});

function cliEnv(): Record<string, string> {
  return { ...env.emu.env, FORCEFLOW_HOME: join(env.home, 'cli-home') };
}

/** The CLI in-process (runCli), with the emulator's AWS_ENDPOINT_URL_* and its own state folder. */
function cli(args: string[], onStderr?: (text: string) => void): Promise<CliResult> {
  return forceflow(args, { env: cliEnv(), ...(onStderr ? { onStderr } : {}) });
}

describe('forceflow profiles (CLI, AWS SDK pointed at the emulator by AWS_ENDPOINT_URL_*)', () => {
  it('creates, lists, describes and deletes, with exit codes by error kind', async () => {
    const arn = await env.createSecret('cli/app', { clientId: env.emu.clientId, clientSecret: env.emu.clientSecret });
    const file = join(env.home, 'profile.json');
    writeFileSync(file, JSON.stringify(sfProfile(env.emu, 'cli-profile', { oAuth2GrantType: 'AUTHORIZATION_CODE', clientCredentialsArn: arn, oAuthRequest: { redirectUri: 'http://127.0.0.1:0/OauthRedirect' } })));
    const created = await cli(['profiles', 'create', '--file', file]);
    expect(created.stderr).not.toContain('forceflow:');
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ connectorProfileName: 'cli-profile', credentialFields: ['clientCredentialsArn', 'oAuth2GrantType', 'oAuthRequest'] });

    const listed = await cli(['profiles', 'list']);
    expect(JSON.parse(listed.stdout).connectorProfileDetails.map((p: { connectorProfileName: string }) => p.connectorProfileName)).toEqual(['cli-profile']);

    // authorize: the URL goes to stderr; a scripted browser logs in and allows.
    let stderr = '';
    let urlSeen: (url: string) => void = () => undefined;
    const urlShown = new Promise<string>((resolve) => (urlSeen = resolve));
    const authorizing = cli(['profiles', 'authorize', 'cli-profile', '--no-browser', '--timeout', '30'], (text) => {
      stderr += text;
      const m = /(http:\/\/\S+\/services\/oauth2\/authorize\?\S+)/.exec(stderr);
      if (m?.[1]) urlSeen(m[1]);
    });
    const url = await Promise.race([urlShown, authorizing.then((r) => Promise.reject(new Error(`authorize ended early: ${r.stderr}`)))]);
    const page = await approveInBrowser(url, { username: env.emu.username, password: env.emu.password });
    expect(page.callbackStatus).toBe(200);
    const authorized = await authorizing;
    expect(authorized.code).toBe(0);
    expect(JSON.parse(authorized.stdout)).toMatchObject({ instanceUrl: env.emu.instanceUrl, hasRefreshToken: true });

    const described = await cli(['profiles', 'describe', 'cli-profile']);
    expect(JSON.parse(described.stdout).credentialFields).toEqual(['accessToken', 'clientCredentialsArn', 'oAuth2GrantType', 'oAuthRequest', 'refreshToken']);
    expect(described.stdout).not.toContain('!AQ');

    const deleted = await cli(['profiles', 'delete', 'cli-profile']);
    expect(deleted.code).toBe(0);
    const missing = await cli(['profiles', 'describe', 'cli-profile']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('PROFILE_NOT_FOUND: No connector profile named "cli-profile"');
  }, 60_000);

  it('reports a profile file that is not JSON by line and column, without echoing its text (it may hold credentials)', async () => {
    const file = join(env.home, 'broken.json');
    writeFileSync(file, '{\n  "connectorProfileName": "broken",\n  "connectorProfileConfig": {"connectorProfileCredentials": {"Salesforce": {\n    "clientSecret": SECRETCANARY123456789, "x": 1}}}\n}\n');
    const res = await cli(['profiles', 'create', '--file', file]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`PROFILE_INVALID: Profile file ${file} is not valid JSON at line 4, column 21`);
    expect(res.stderr).not.toMatch(/SECRET|CANARY/);
    const trailing = join(env.home, 'trailing.json');
    writeFileSync(trailing, '{"connectorProfileName": "t"}\nrefreshToken=5Aep861SECRET');
    const res2 = await cli(['profiles', 'create', '--file', trailing]);
    expect(res2.code).toBe(2);
    expect(res2.stderr).toContain('is not valid JSON at line 2, column 1');
    expect(res2.stderr).not.toMatch(/SECRET|5Aep/);
    // The same for `forceflow run --profile file.json`.
    const flowFile = join(env.home, 'flow.json');
    writeFileSync(flowFile, JSON.stringify({
      flowName: 'broken-profile', triggerConfig: { triggerType: 'OnDemand' },
      sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: 'broken', sourceConnectorProperties: { Salesforce: { object: 'Account' } } },
      destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: join(env.home, 'out'), outputFormatConfig: { fileType: 'JSON' } } } }],
      tasks: [{ taskType: 'Map_all', sourceFields: [], connectorOperator: { Salesforce: 'NO_OP' } }],
    }));
    const run = await cli(['run', flowFile, '--profile', file]);
    expect(run.stderr).toContain(`PROFILE_INVALID: Profile file ${file} is not valid JSON at line 4, column 21`);
    expect(run.code).toBe(2);
    expect(run.stderr).not.toMatch(/SECRET|CANARY/);
  }, 30_000);

  it('exits 3 naming the profile and the fix when the KMS key does not exist', async () => {
    const file = join(env.home, 'bad-key.json');
    writeFileSync(file, JSON.stringify(sfProfile(env.emu, 'cli-bad-key', { accessToken: 'x' }, { kmsArn: 'alias/not-there' })));
    const res = await cli(['profiles', 'create', '--file', file]);
    expect(res.code).toBe(3);
    expect(res.stderr).toContain('KMS_ERROR: Profile "cli-bad-key": KMS key alias/not-there does not exist');
  }, 30_000);
});
