import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { CreateFlowCommand, StartFlowCommand } from '@aws-sdk/client-appflow';
import { runCli } from '../../src/cli/program.ts';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { openFlowService } from '../../src/service/flows/service.ts';
import { metaOperations } from '../../src/service/operations/meta.ts';
import { createProfile, openProfileContext } from '../../src/profiles/index.ts';
import { registerApp, type TestApp } from '../auth/helpers.ts';
import { chromiumForTests, launchChromium, type TestBrowser } from '../helpers/chromium.ts';
import { holdingProxy, type HoldingProxy } from '../helpers/holding-proxy.ts';
import { startTestS3, type TestS3 } from '../helpers/s3.ts';
import { startHarness, type ServiceHarness } from '../service/harness.ts';

/**
 * The web console in a real browser (headless Chromium driven by playwright-core) against the real service
 * (startService, sign-in configured) and the emulator as Salesforce: sign in through the emulator's authorize
 * page, see the flows, start a run and watch it finish, sign out (the Salesforce token is revoked), and as a
 * viewer find Start disabled and refused by the server.
 */
const executablePath = chromiumForTests('test/console/console.test.ts');

const PROFILE = 'forceflow-emulator';
const FAST = { retry: { retries: 6, baseDelayMs: 5, maxDelayMs: 50 }, bulk: { pollInitialMs: 10, pollMaxMs: 50 } };

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

let emu: RunningEmulator;
let s3: TestS3;
let app: TestApp;
let h: ServiceHarness;
let browser: TestBrowser;
let origin: string;
/** Between the `held` profile and the emulator: holds a run at its first query, so the test sees it running. */
let proxy: HoldingProxy;

async function cli(...args: string[]): Promise<void> {
  let err = '';
  const code = await runCli(['node', 'forceflow', ...args, '--state-dir', h.stateDir], { writeOut: () => undefined, writeErr: (s) => (err += s) });
  expect(code, err).toBe(0);
}

/** Sign in through the console: its button, the emulator's login page, the approval page when first asked. */
async function signIn(page: Page): Promise<void> {
  await page.goto(`${origin}/#/flows`);
  await page.locator('#signin').click();
  await page.waitForURL((url) => url.origin === new URL(emu.loginUrl).origin);
  await page.locator('#username').fill(emu.username);
  await page.locator('#password').fill(emu.password);
  await page.locator('#Login').click();
  // The approval page the first time; afterwards Salesforce remembers the approval and redirects at once.
  const approve = page.locator('#oaapprove');
  const back = page.waitForURL((url) => url.origin === origin);
  await Promise.race([approve.waitFor(), back]).catch(() => undefined);
  if (await approve.isVisible().catch(() => false)) await approve.click();
  await back;
  await page.waitForURL((url) => url.origin === origin && url.search === '');
  await page.locator('#role').waitFor();
}

interface StoredSession {
  readonly accessToken: string;
  readonly refreshToken?: string;
  readonly expiresAt: number;
  readonly scopes: string[];
  readonly salesforce?: { readonly loginHost: string; readonly accessToken: string };
}

async function session(page: Page): Promise<StoredSession | null> {
  return page.evaluate(() => {
    const raw = (globalThis as unknown as { sessionStorage: { getItem(key: string): string | null } }).sessionStorage.getItem('forceflow.console.session');
    return raw === null ? null : (JSON.parse(raw) as StoredSession);
  });
}

beforeAll(async () => {
  if (executablePath === undefined) return;
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  // Salesforce lets the console's origin call its token and revoke endpoints (CORS allowlist, as on a real org).
  emu = await startEmulator({ allowOrigins: [origin] });
  s3 = await startTestS3();
  app = await registerApp(emu, { name: 'forceflow console', redirectUris: [`${origin}/`] });
  proxy = await holdingProxy(emu.instanceUrl);
  const viaProxy = { ...emu.connectorProfile, connectorProfileName: 'held', connectorProfileConfig: { ...emu.connectorProfile.connectorProfileConfig, connectorProfileProperties: { Salesforce: { instanceUrl: proxy.url, isSandboxEnvironment: false, loginUrl: proxy.url } } } };
  const profiles: Record<string, unknown> = { [PROFILE]: emu.connectorProfile, held: viaProxy };
  h = await startHarness({
    emulator: emu,
    port,
    signIn: { issuers: [emu.loginUrl], consumerKey: app.clientId },
    operations: async (deps) => {
      const flows = await openFlowService(deps, { exists: async (name) => Object.hasOwn(profiles, name), resolver: async (name) => ({ profile: profiles[name ?? ''] }) }, { runOptions: { salesforce: FAST, s3Client: s3.client } });
      // The stored profiles the Connections page lists (DescribeConnectorProfiles and the API budget): the
      // emulator's org with a reserve, and an org that does not answer (nothing listens on its port).
      const profileContext = openProfileContext({ log: deps.log, store: deps.state.profiles, kms: deps.kms });
      deps.onClose(async () => profileContext.close());
      const base = emu.connectorProfile;
      const sf = base.connectorProfileConfig.connectorProfileProperties.Salesforce;
      await createProfile(profileContext, { ...base, connectorProfileConfig: { ...base.connectorProfileConfig, connectorProfileProperties: { Salesforce: { ...sf, apiReserve: '20%' } } } });
      const nowhere = `http://127.0.0.1:${await freePort()}`;
      await createProfile(profileContext, { ...base, connectorProfileName: 'unreachable', connectorProfileConfig: { ...base.connectorProfileConfig, connectorProfileProperties: { Salesforce: { instanceUrl: nowhere, isSandboxEnvironment: false, loginUrl: nowhere } } } });
      return [...flows.operations, ...metaOperations({ profiles: { ...profileContext, defaultKeyId: deps.kmsKeyId }, profileInUse: async () => [] })];
    },
  });
  await cli('users', 'orgs', 'allow', emu.orgId);
  await cli('users', 'add', emu.orgId, emu.userId, '--role', 'operator', '--name', 'ada');
  const source = { connectorType: 'Salesforce', connectorProfileName: PROFILE, sourceConnectorProperties: { Salesforce: { object: 'Account' } } };
  const destination = [{ connectorType: 'S3', destinationConnectorProperties: { S3: { bucketName: s3.bucket, bucketPrefix: 'console', s3OutputFormatConfig: { fileType: 'JSON', aggregationConfig: { aggregationType: 'SingleFile' } } } } }];
  const tasks = [{ taskType: 'Map_all', sourceFields: [], taskProperties: {} }];
  await h.appflow.send(new CreateFlowCommand({ flowName: 'accounts-to-s3', description: 'Accounts to S3', triggerConfig: { triggerType: 'OnDemand' }, sourceFlowConfig: source, destinationFlowConfigList: destination, tasks } as never));
  await h.appflow.send(new CreateFlowCommand({ flowName: 'accounts-daily', triggerConfig: { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(1days)', dataPullMode: 'Complete' } } }, sourceFlowConfig: source, destinationFlowConfigList: destination, tasks } as never));
  await h.appflow.send(new StartFlowCommand({ flowName: 'accounts-daily' }));
  await h.appflow.send(new CreateFlowCommand({ flowName: 'accounts-held', triggerConfig: { triggerType: 'OnDemand' }, sourceFlowConfig: { ...source, connectorProfileName: 'held' }, destinationFlowConfigList: destination, tasks } as never));
  browser = await launchChromium(executablePath);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  proxy?.hold(undefined);
  await h?.close();
  await proxy?.close();
  await s3?.close();
  await emu?.close();
});

describe.skipIf(executablePath === undefined)('the web console in headless Chromium', () => {
  it('serves the console at / without a credential, with a CSP; the guard lets its own origin call and refuses others', async () => {
    const page = await fetch(`${origin}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain(`connect-src 'self' ${new URL(emu.loginUrl).origin}`);
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(await page.text()).toContain('/console/app.js');
    const config = (await (await fetch(`${origin}/console/config.json`)).json()) as Record<string, unknown>;
    expect(config).toEqual({ signIn: { loginHosts: [emu.loginUrl.replace(/\/+$/, '')], clientId: app.clientId } });
    // A foreign page is refused before anything else; the API still needs a credential from the own origin.
    const foreign = await fetch(`${origin}/list-flows`, { method: 'POST', headers: { origin: 'http://evil.example', 'content-type': 'application/json' }, body: '{}' });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get('x-amzn-errortype')).toBe('AccessDeniedException');
    const own = await fetch(`${origin}/list-flows`, { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: '{}' });
    expect(own.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
  });

  it('an operator signs in, sees the flows, starts a run, watches it finish, and signs out (the Salesforce token is revoked)', async () => {
    const page = await browser.context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await signIn(page);
    expect(await page.locator('#role').textContent()).toBe('Role: operator');
    // The code is gone from the address bar, the page is the one asked for.
    expect(new URL(page.url()).hash).toBe('#/flows');
    const rows = page.locator('#flows tbody tr');
    await expect.poll(() => rows.count()).toBe(3);
    const daily = page.locator('tr[data-flow="accounts-daily"]');
    expect(await daily.locator('td').nth(1).textContent()).toBe('Active');
    expect(await daily.locator('td').nth(2).textContent()).toBe('rate(1days)');
    expect(await daily.locator('td').nth(4).locator('time').count()).toBe(1);

    // Keyboard: the flow's link is reachable with Tab and followed with Enter.
    const link = page.locator('a[href="#/flows/accounts-to-s3"]');
    await link.focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(`${origin}/#/flows/accounts-to-s3`);
    await page.locator('#start').waitFor();
    expect(await page.locator('#start').isEnabled()).toBe(true);
    await page.locator('#start').click();
    await page.waitForURL(/#\/flows\/accounts-to-s3\/runs\//);
    const executionId = decodeURIComponent(page.url().split('/runs/')[1] ?? '');
    expect(executionId).not.toBe('');
    // The run page polls until the run ends.
    await expect.poll(() => page.locator('#run dd .badge').first().textContent(), { timeout: 30_000, interval: 200 }).toBe('Successful');
    // The count is shown with the browser's digit grouping (1,234).
    const records = Number((await page.locator('#records').textContent())?.replace(/\D/g, ''));
    expect(records).toBeGreaterThan(0);
    expect(await page.locator('#run').textContent()).toMatch(/Read with(REST_SYNC|BULKV2): \S/);

    // The run history shows it, as the API has it.
    await page.locator(`a[href="#/flows/accounts-to-s3"]`).click();
    const run = page.locator(`tr[data-run="${executionId}"]`);
    await run.waitFor();
    expect(await run.locator('td').nth(1).textContent()).toBe('Successful');
    expect(Number((await run.locator('td').nth(2).textContent())?.replace(/\D/g, ''))).toBe(records);
    expect(await run.locator('td').nth(4).textContent()).toMatch(/read: (REST_SYNC|BULKV2)/);
    const { flowExecutions } = await h.appflow.send(new (await import('@aws-sdk/client-appflow')).DescribeFlowExecutionRecordsCommand({ flowName: 'accounts-to-s3' }));
    expect(flowExecutions?.map((e) => [e.executionId, e.executionStatus, e.executionResult?.recordsProcessed])).toEqual([[executionId, 'Successful', records]]);

    // What the run history shows beyond AppFlow's ExecutionRecord comes from DescribeFlowRuns (forceflow's).
    const token = (await session(page))?.accessToken ?? '';
    const described = await fetch(`${origin}/forceflow/describe-flow-runs`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ flowName: 'accounts-to-s3' }) });
    expect(described.status).toBe(200);
    const [detail] = ((await described.json()) as { runs: Array<Record<string, unknown>> }).runs;
    expect(detail).toMatchObject({ executionId, executionStatus: 'Successful', startedBy: 'manual', recordsWritten: records, errorFile: null, error: null, destinationDataTransferApi: null });
    expect(String(detail?.['sourceDataTransferApiReason'])).not.toBe('');
    expect(detail?.['outputs']).toEqual([expect.stringMatching(new RegExp(`^s3://${s3.bucket}/console/`))]);

    // The definition, as DescribeFlow has it.
    await page.locator('a[href="#/flows/accounts-to-s3/definition"]').click();
    const definition = JSON.parse((await page.locator('#definition').textContent()) ?? '{}') as Record<string, unknown>;
    expect(definition).toMatchObject({ flowName: 'accounts-to-s3', description: 'Accounts to S3', triggerConfig: { triggerType: 'OnDemand' } });
    expect(await page.title()).toBe('accounts-to-s3: definition · forceflow');
    expect(await page.locator('#definition').getAttribute('aria-label')).toBe('Definition of accounts-to-s3 (JSON)');

    // On a phone's width the page never scrolls sideways: a wide table scrolls in its own (focusable, named) region.
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = (): Promise<number> => page.evaluate(() => {
      const root = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement;
      return root.scrollWidth - root.clientWidth;
    });
    for (const hash of ['#/flows', '#/flows/accounts-to-s3', `#/flows/accounts-to-s3/runs/${encodeURIComponent(executionId)}`, '#/flows/accounts-to-s3/definition', '#/connections']) {
      await page.goto(`${origin}/${hash}`);
      await page.locator('main h1').waitFor();
      await page.locator('main table, #run, #definition').first().waitFor();
      expect(await overflow(), hash).toBeLessThanOrEqual(0);
    }
    await page.goto(`${origin}/#/flows/accounts-to-s3`);
    const region = page.locator('.scroll[role="region"]');
    await region.waitFor();
    expect(await region.getAttribute('aria-label')).toBe('Runs of accounts-to-s3');
    expect(await region.getAttribute('tabindex')).toBe('0');
    await page.setViewportSize({ width: 1280, height: 720 });

    // A flow that does not exist: a page that says so (titled, so the tab and history say it too), with the way back.
    await page.goto(`${origin}/#/flows/no-such-flow`);
    await page.locator('#problem').waitFor();
    expect(await page.locator('#problem h1').textContent()).toBe('Not found');
    expect(await page.locator('#problem .error').textContent()).toContain('no-such-flow');
    expect(await page.title()).toBe('Not found · forceflow');
    expect(await page.locator('#status').textContent()).toBe('');
    // A broken escape in a hand-edited address is read as typed, not a script error.
    await page.goto(`${origin}/#/flows/%E0%A4%A`);
    await page.locator('#problem').waitFor();

    // Sign out: the Salesforce token is revoked at the login host, the session is gone from the tab.
    const stored = await session(page);
    const sfToken = stored?.salesforce?.accessToken ?? '';
    expect(sfToken).not.toBe('');
    expect(stored?.refreshToken).toMatch(/^ffrt_/);
    const introspect = async (): Promise<unknown> => {
      const res = await fetch(`${emu.loginUrl}/services/oauth2/introspect`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: sfToken, client_id: app.clientId, client_secret: app.clientSecret }).toString() });
      return ((await res.json()) as Record<string, unknown>)['active'];
    };
    expect(await introspect()).toBe(true);
    const listFlows = async (bearer: string): Promise<string | null> => (await fetch(`${origin}/list-flows`, { method: 'POST', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' }, body: '{}' })).headers.get('x-amzn-errortype');
    expect(await listFlows(stored?.accessToken ?? '')).toBeNull();
    await page.locator('#signout').click();
    await page.locator('#signin').waitFor();
    expect(await page.locator('#status').textContent()).toContain('Your Salesforce token was revoked. The service revoked its token.');
    expect(await introspect()).toBe(false);
    expect(await session(page)).toBeNull();
    // The service's token and its refresh token are revoked too (RFC 7009 at /oauth2/revoke).
    expect(await listFlows(stored?.accessToken ?? '')).toBe('UnrecognizedClientException');
    const refreshed = await fetch(`${origin}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: stored?.refreshToken ?? '' }).toString() });
    expect(refreshed.status).toBe(400);
    // No token reached the service's log.
    for (const token of [sfToken, stored?.accessToken ?? '', stored?.refreshToken ?? '']) expect(h.logText()).not.toContain(token);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it('shows a running run live, with Cancel; cancelling it ends the run Canceled', async () => {
    const page = await browser.context.newPage();
    await signIn(page);
    proxy.hold({ method: 'GET', path: /\/query\/?$/, at: 'request' });
    await page.goto(`${origin}/#/flows/accounts-held`);
    await page.locator('#start').click();
    await page.waitForURL(/#\/flows\/accounts-held\/runs\//);
    await proxy.reached(1);
    await page.locator('#live').waitFor();
    expect(await page.locator('#run dd .badge').first().textContent()).toBe('InProgress');
    // One run at a time: Start is disabled while it runs; Cancel is offered.
    expect(await page.locator('#start').isDisabled()).toBe(true);
    expect(await page.locator('#cancel').isEnabled()).toBe(true);
    // The page refreshes itself while the run goes on; the keyboard focus stays on Cancel, and Enter presses it.
    await page.locator('#cancel').focus();
    const shown = await page.locator('#run').elementHandle();
    await page.waitForFunction((el) => el !== null && !el.isConnected, shown);
    expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string } | null } }).document.activeElement?.id)).toBe('cancel');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#run dd .badge').first().textContent(), { timeout: 30_000, interval: 200 }).toBe('Canceled');
    expect(await page.locator('#live').count()).toBe(0);
    proxy.hold(undefined);
    // Disabled by an admin while signed in: the next page's call is refused (403), and the page asks to sign in again.
    await cli('users', 'disable', emu.orgId, emu.userId);
    try {
      await page.goto(`${origin}/#/flows/accounts-to-s3`);
      await page.locator('#signin').waitFor();
      expect(await page.locator('#status').textContent()).toContain('Your session ended');
      expect(await session(page)).toBeNull();
      expect(await page.title()).toBe('Sign in · forceflow');
    } finally {
      await cli('users', 'enable', emu.orgId, emu.userId);
    }
    await page.close();
  }, 60_000);

  it('a viewer sees the flows but cannot start a run: the button is disabled and the server refuses', async () => {
    await cli('users', 'add', emu.orgId, emu.userId, '--role', 'viewer', '--name', 'ada');
    const page = await browser.context.newPage();
    await signIn(page);
    expect(await page.locator('#role').textContent()).toBe('Role: viewer');
    await page.goto(`${origin}/#/flows/accounts-to-s3`);
    await page.locator('#start').waitFor();
    expect(await page.locator('#start').isDisabled()).toBe(true);
    expect(await page.locator('#role-hint').textContent()).toContain('viewer');
    const before = await page.locator('#runs tbody tr').count();
    // The server refuses anyway: the page's own token, the page's own origin.
    const answer = await page.evaluate(async () => {
      const s = JSON.parse((globalThis as unknown as { sessionStorage: { getItem(key: string): string | null } }).sessionStorage.getItem('forceflow.console.session') ?? '{}') as { accessToken?: string };
      const res = await fetch('/start-flow', { method: 'POST', headers: { authorization: `Bearer ${s.accessToken ?? ''}`, 'content-type': 'application/json' }, body: JSON.stringify({ flowName: 'accounts-to-s3' }) });
      return { status: res.status, type: res.headers.get('x-amzn-errortype') };
    });
    expect(answer).toEqual({ status: 403, type: 'AccessDeniedException' });
    await page.reload();
    await page.locator('#runs').waitFor();
    expect(await page.locator('#runs tbody tr').count()).toBe(before);

    // A token about to expire is renewed with the refresh token (a new one each time), and the page goes on.
    const setSession = (change: Record<string, unknown>): Promise<void> =>
      page.evaluate((c) => {
        const store = (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null; setItem(k: string, v: string): void } }).sessionStorage;
        const current = JSON.parse(store.getItem('forceflow.console.session') ?? '{}') as Record<string, unknown>;
        for (const [k, v] of Object.entries(c)) {
          if (v === null) delete current[k];
          else current[k] = v;
        }
        store.setItem('forceflow.console.session', JSON.stringify(current));
      }, change);
    // A page whose session still says operator (the role was lowered since): Start is offered, the server refuses,
    // and the page says so in words, the run history unchanged.
    const stale = await session(page);
    await setSession({ scopes: ['flows:read', 'flows:run', 'offline_access'] });
    await page.reload();
    await page.locator('#runs').waitFor();
    expect(await page.locator('#start').isEnabled()).toBe(true);
    await page.locator('#start').click();
    await page.locator('#status .error').waitFor();
    expect(await page.locator('#status .error').textContent()).toMatch(/^Not allowed: User: arn:aws:sts::\d{12}:assumed-role\/forceflow-viewer\/ada is not authorized to perform: appflow:StartFlow/);
    expect(await page.locator('#runs tbody tr').count()).toBe(before);
    await setSession({ scopes: stale?.scopes ?? [] });

    const first = await session(page);
    await setSession({ expiresAt: Date.now() });
    await page.reload();
    await page.locator('#runs').waitFor();
    const renewed = await session(page);
    expect(renewed?.accessToken).not.toBe(first?.accessToken);
    expect(renewed?.refreshToken).toMatch(/^ffrt_/);
    expect(renewed?.refreshToken).not.toBe(first?.refreshToken);
    expect(renewed?.scopes).toEqual(['flows:read', 'offline_access']);
    expect(renewed?.expiresAt).toBeGreaterThan(Date.now());

    // A session past its end without a refresh token asks to sign in again.
    await setSession({ expiresAt: 0, refreshToken: null });
    await page.reload();
    await page.locator('#signin').waitFor();
    expect(await page.locator('#status').textContent()).toContain('Your session ended');
    expect(await session(page)).toBeNull();
    await page.close();
  }, 60_000);
  it("a viewer opens Connections from the header with the keyboard: each org's API budget, one /limits call per view, an unreachable org's error in its row", async () => {
    await cli('users', 'add', emu.orgId, emu.userId, '--role', 'viewer', '--name', 'ada');
    const limits = (body?: unknown): Promise<Response> => fetch(`${emu.controlUrl}/limits`, { method: body === undefined ? 'GET' : 'PUT', headers: emu.controlHeaders, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    expect((await limits({ max: 50_000, remaining: 43_210, bulkV2QueryJobs: { max: 10_000, remaining: 9_876 } })).status).toBe(200);
    const page = await browser.context.newPage();
    await signIn(page);
    expect(await page.locator('#role').textContent()).toBe('Role: viewer');
    await page.locator('#nav-connections').focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(`${origin}/#/connections`);
    await page.locator('#budget-note').waitFor();
    expect(await page.title()).toBe('Connections · forceflow');
    expect(await page.locator('#nav-connections').getAttribute('aria-current')).toBe('page');
    expect(await page.locator('#budget-note').textContent()).toContain('not refreshed by itself');
    const row = page.locator(`#budgets tr[data-profile="${PROFILE}"]`);
    const cells = row.locator('td');
    await cells.nth(4).waitFor();
    /** What the emulator says its org has left now (its control endpoint counts no call). */
    const org = async (): Promise<{ max: number; remaining: number; bulkV2QueryJobs: { max: number; remaining: number }; bulkApiBatches: { max: number; remaining: number } }> => (await (await limits()).json()) as never;
    const fmt = (n: number): Promise<string> => page.evaluate((x) => x.toLocaleString(), n);
    let now = await org();
    // The page's one /limits call is the only API request since the figures were set.
    expect(now.remaining).toBe(43_209);
    expect(await cells.nth(1).textContent()).toBe(`${await fmt(now.remaining)} / ${await fmt(now.max)}`);
    expect(await cells.nth(2).textContent()).toBe(`${await fmt(now.bulkV2QueryJobs.remaining)} / ${await fmt(now.bulkV2QueryJobs.max)}`);
    expect(await cells.nth(3).textContent()).toBe(`${await fmt(now.bulkApiBatches.remaining)} / ${await fmt(now.bulkApiBatches.max)}`);
    expect(await cells.nth(4).textContent()).toContain(`20% (${await fmt(10_000)} requests, ${await fmt(2_000)} query jobs`);
    // The org that does not answer: its row says so, the others are shown.
    const failed = page.locator('#budgets tr[data-profile="unreachable"] td.row-error');
    await failed.waitFor();
    expect(await failed.textContent()).toMatch(/^ConnectorServerException: Salesforce could not be reached .*ECONNREFUSED/);
    // Not polled: nothing more is read until Refresh, which reads once more.
    expect((await org()).remaining).toBe(43_209);
    await page.locator('#refresh').focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction((want) => (globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null } }).document.querySelector('#budgets tr[data-profile="forceflow-emulator"] td:nth-of-type(2)')?.textContent?.startsWith(want) === true, await fmt(43_208));
    now = await org();
    expect(now.remaining).toBe(43_208);
    // The keyboard stays where it was.
    expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string } | null } }).document.activeElement?.id)).toBe('refresh');
    await page.close();
  }, 60_000);
});
