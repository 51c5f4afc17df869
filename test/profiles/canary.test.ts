import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { runFlow } from '../../src/flows/runner.ts';
import { openRunState } from '../../src/flows/state.ts';
import { createProfile, openProfile } from '../../src/profiles/profiles.ts';
import { storedProfileResolver } from '../../src/profiles/resolve.ts';
import { profilesEnv, type ProfilesEnv } from './env.ts';
import { forceflow } from '../helpers/cli.ts';
const CLIENT_SECRET = 'CANARY0CLIENT0SECRET0c4f1e9a7b';

let env: ProfilesEnv;
beforeAll(async () => {
  env = await profilesEnv();
});
afterAll(async () => {
  await env.close();
});

/** Every file under a folder, recursively, as bytes. */
function allBytes(dir: string): Buffer[] {
  const out: Buffer[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...allBytes(path));
    else out.push(readFileSync(path));
  }
  return out;
}

describe('canary: no secret in anything a run produces', () => {
  it('greps logs, execution records, errors, state files, outputs and CLI output for the secret values', async () => {
    // A connected app whose secret is a recognisable canary; its refresh token comes from the emulator.
    const appRes = await fetch(`${env.emu.controlUrl}/connected-apps`, { method: 'POST', headers: env.emu.controlHeaders, body: JSON.stringify({ name: 'canary', clientId: 'canary-app', clientSecret: CLIENT_SECRET, allowLocalhostRedirects: true }) });
    expect(appRes.status).toBe(201);
    // A refresh token for that app, as an approved authorization would have minted.
    const issued = env.emu.org.auth.issue(env.emu.org.auth.defaultUser, 'canary-app', { withRefresh: true });
    const refreshToken = issued.refreshToken ?? '';
    const arn = await env.createSecret('canary/app', { clientId: 'canary-app', clientSecret: CLIENT_SECRET, refreshToken });
    await createProfile(env.ctx, {
      connectorProfileName: 'canary',
      connectorType: 'Salesforce',
      connectorProfileConfig: {
        connectorProfileProperties: { Salesforce: { instanceUrl: env.emu.instanceUrl, loginUrl: env.emu.loginUrl } },
        connectorProfileCredentials: { Salesforce: { oAuth2GrantType: 'AUTHORIZATION_CODE', clientCredentialsArn: arn } },
      },
    });

    // Logs at trace level, without the logger's redaction: nothing may depend on it.
    const chunks: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk.toString('utf8'));
        cb();
      },
    });
    const log = pino({ level: 'trace' }, sink);
    const ctx = { ...env.ctx, log };

    const flowDir = join(env.home, 'flow');
    const flowFile = join(flowDir, 'flow.json');
    const flow = {
      flowName: 'canary-accounts',
      triggerConfig: { triggerType: 'OnDemand' },
      sourceFlowConfig: { connectorType: 'Salesforce', connectorProfileName: 'canary', sourceConnectorProperties: { Salesforce: { object: 'Account' } } },
      destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: 'out', outputFormatConfig: { fileType: 'JSON', aggregationConfig: { aggregationType: 'SingleFile' } } } } }],
      tasks: [
        { taskType: 'Filter', sourceFields: ['Id', 'Name'], connectorOperator: { Salesforce: 'PROJECTION' } },
        { taskType: 'Map', sourceFields: ['Id'], destinationField: 'Id', connectorOperator: { Salesforce: 'NO_OP' } },
        { taskType: 'Map', sourceFields: ['Name'], destinationField: 'Name', connectorOperator: { Salesforce: 'NO_OP' } },
      ],
    };
    mkdirSync(flowDir, { recursive: true });
    writeFileSync(flowFile, JSON.stringify(flow));
    const state = openRunState(join(env.home, 'runs'));
    const tokenCallsBefore = env.emu.org.callCounts.get('POST /services/oauth2/token') ?? 0;
    const ok = await runFlow({ flow, flowFile, profiles: storedProfileResolver(ctx), log, state, salesforce: { retry: { retries: 1, baseDelayMs: 5, maxDelayMs: 10 } } });
    expect(ok.error).toBeNull();
    expect(ok.executionStatus).toBe('Successful');
    expect(ok.executionResult.recordsProcessed).toBeGreaterThan(0);
    // The run refreshed its session with the refresh token and client secret from the secret.
    expect((env.emu.org.callCounts.get('POST /services/oauth2/token') ?? 0) - tokenCallsBefore).toBeGreaterThan(0);
    const accessToken = (await openProfile(env.ctx, 'canary')).credentials.accessToken ?? '';
    expect(accessToken).toMatch(/^00D/);

    // The same flow through the CLI (in-process: runCli) at trace level (its own root logger, its own run records).
    const cliEnv = { ...env.emu.env, FORCEFLOW_HOME: env.home, FORCEFLOW_LOG_LEVEL: 'trace' };
    const cliRun = (): ReturnType<typeof forceflow> => forceflow(['run', flowFile, '--log-level', 'trace'], { env: cliEnv });
    // Expire the stored access token in the org so that the CLI run refreshes with the secret's values.
    await fetch(`${env.emu.loginUrl}/services/oauth2/revoke`, { method: 'POST', body: new URLSearchParams({ token: accessToken }) });
    const cliOk = await cliRun();
    expect(cliOk.code, cliOk.stderr).toBe(0);
    expect(cliOk.stderr.length).toBeGreaterThan(0);
    const cliAccessToken = (await openProfile(env.ctx, 'canary')).credentials.accessToken ?? '';
    expect(cliAccessToken).toMatch(/^00D/);
    expect(cliAccessToken).not.toBe(accessToken);

    // A failing run: the refresh token is revoked.
    await fetch(`${env.emu.loginUrl}/services/oauth2/revoke`, { method: 'POST', body: new URLSearchParams({ token: refreshToken }) });
    env.ctx.secrets.clear();
    const failed = await runFlow({ flow, flowFile, profiles: storedProfileResolver(ctx), log, state, salesforce: { retry: { retries: 1, baseDelayMs: 5, maxDelayMs: 10 } } });
    expect(failed.executionStatus).toBe('Error');
    expect(failed.error?.code).toBe('SF_AUTH_FAILED');
    expect(failed.error?.message).toContain('forceflow profiles authorize canary');
    const cliFailed = await cliRun();
    expect(cliFailed.code).not.toBe(0);
    expect(cliFailed.stderr).toContain('SF_AUTH_FAILED');

    state.close();

    // A failing resolution (missing secret) straight from the library, with its full error.
    let thrown: unknown;
    try {
      await storedProfileResolver({ ...ctx, secrets: env.ctx.secrets })('nope', 'source');
    } catch (error) {
      thrown = error;
    }

    // CLI output of list/describe for the profile.
    const cli = await forceflow(['profiles', 'describe', 'canary', '--log-level', 'trace'], { env: cliEnv });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('"connectorProfileName": "canary"');

    const haystacks: Array<[string, Buffer | string]> = [
      ['logs', chunks.join('')],
      ['successful record', JSON.stringify(ok)],
      ['failed record', JSON.stringify(failed)],
      ['thrown error', `${String(thrown)} ${JSON.stringify(thrown)} ${(thrown as Error).stack ?? ''}`],
      ['cli stdout', cli.stdout],
      ['cli stderr', cli.stderr],
      ['cli run stdout', cliOk.stdout],
      ['cli run stderr', cliOk.stderr],
      ['failed cli run stdout', cliFailed.stdout],
      ['failed cli run stderr', cliFailed.stderr],
      ...allBytes(env.home).map((b, i): [string, Buffer] => [`state file ${i}`, b]),
    ];
    expect(chunks.join('').length).toBeGreaterThan(0);
    const needles = { clientSecret: CLIENT_SECRET, refreshToken, accessToken, cliAccessToken };
    for (const [where, hay] of haystacks) {
      const bytes = Buffer.isBuffer(hay) ? hay : Buffer.from(hay);
      for (const [what, needle] of Object.entries(needles)) {
        expect(bytes.includes(Buffer.from(needle)), `${what} found in ${where}`).toBe(false);
        expect(bytes.includes(Buffer.from(Buffer.from(needle).toString('base64'))), `${what} (base64) found in ${where}`).toBe(false);
      }
    }
  });
});
