import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isForceflowError } from '../../src/core/errors.ts';
import { startLocalS3 } from '../../src/emulator/s3/local.ts';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';

/**
 * What a web page in the user's browser can send to the emulator: cross-site "simple" requests (no preflight)
 * and DNS-rebinding requests (a foreign Host). Each is refused and changes nothing. Real HTTP through
 * node:http, which (unlike fetch) lets a test set Host and Origin freely.
 */

let emu: RunningEmulator;
let port: number;

beforeAll(async () => {
  emu = await startEmulator();
  port = Number(new URL(emu.instanceUrl).port);
});
afterAll(async () => {
  await emu.close();
});

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

function send(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { ...(body === undefined ? {} : { 'Content-Length': String(Buffer.byteLength(body)) }), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const EVIL = 'https://evil.example';
const accounts = (): number => emu.org.store.table('Account')?.count(false) ?? -1;
const bearer = (): Record<string, string> => ({ Authorization: `Bearer ${emu.accessToken}` });
const limits = (headers: Record<string, string> = {}): Promise<Answer> => send('GET', '/services/data/v58.0/limits', { ...bearer(), ...headers });

describe('control endpoints refuse what a browser sends cross-site without a preflight', () => {
  it('refuses a text/plain record insert from a foreign origin, with or without the header, and inserts nothing', async () => {
    const before = accounts();
    const body = JSON.stringify({ Name: 'CSRF Inc' });
    for (const headers of <Record<string, string>[]>[
      { 'Content-Type': 'text/plain', Origin: EVIL },
      { 'Content-Type': 'text/plain' },
      { 'Content-Type': 'application/x-www-form-urlencoded' },
      { 'Content-Type': 'multipart/form-data; boundary=x' },
      { 'Content-Type': 'text/plain', 'X-Forceflow-Emulator': '1' },
      { 'Content-Type': 'application/json' },
      { 'Content-Type': 'application/json', 'X-Forceflow-Emulator': '1', Origin: EVIL },
      { 'Content-Type': 'application/json', 'X-Forceflow-Emulator': '1', Origin: 'null' },
    ]) {
      const res = await send('POST', '/__emulator/records/Account', headers, body);
      expect(res.status, JSON.stringify(headers)).toBe(403);
      expect(JSON.parse(res.text)).toEqual([{ errorCode: 'FORBIDDEN', message: expect.any(String) as string }]);
    }
    // The path is matched case-insensitively by the router, so the guard must be too.
    expect((await send('POST', '/__EMULATOR/records/Account', { 'Content-Type': 'text/plain' }, body)).status).toBe(403);
    expect(accounts()).toBe(before);
    // The same request with the header and a JSON body is served.
    const ok = await send('POST', '/__emulator/records/Account', emu.controlHeaders, body);
    expect(ok.status).toBe(201);
    expect(accounts()).toBe(before + 1);
  });

  it('refuses session expiry and reset sent as simple requests; the session and the records survive', async () => {
    const before = accounts();
    for (const path of ['/__emulator/sessions/expire', '/__emulator/reset']) {
      expect((await send('POST', path, { 'Content-Type': 'text/plain', Origin: EVIL }, '')).status).toBe(403);
      expect((await send('POST', path, { 'Content-Type': 'text/plain' }, '')).status).toBe(403);
      expect((await send('POST', path)).status).toBe(403);
    }
    expect((await limits()).status).toBe(200);
    expect(accounts()).toBe(before);
  });

  it('refuses control reads without the header (they list connected apps and their client secrets)', async () => {
    const res = await send('GET', '/__emulator/connected-apps');
    expect(res.status).toBe(403);
    expect(res.text).not.toContain(emu.clientSecret);
    expect(res.text).toContain('X-Forceflow-Emulator: 1');
    expect((await send('GET', '/__emulator/connected-apps', { 'X-Forceflow-Emulator': '1' })).status).toBe(200);
  });
});

describe('DNS rebinding: a foreign Host is refused on every route', () => {
  it('refuses Secrets Manager GetSecretValue and KMS with an AWS-shaped 421, and keeps the secret', async () => {
    const create = await send('POST', '/', { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'secretsmanager.CreateSecret', Authorization: 'AWS4-HMAC-SHA256 Credential=x' }, JSON.stringify({ Name: 'rebind/secret', SecretString: 'TOP-SECRET-VALUE' }));
    expect(create.status).toBe(200);
    const headers = { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'secretsmanager.GetSecretValue', Authorization: 'AWS4-HMAC-SHA256 Credential=x', Host: `rebind.evil.example:${port}` };
    const res = await send('POST', '/', headers, JSON.stringify({ SecretId: 'rebind/secret' }));
    expect(res.status).toBe(421);
    expect(res.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(JSON.parse(res.text)).toMatchObject({ __type: 'AccessDeniedException' });
    expect(res.text).not.toContain('TOP-SECRET-VALUE');
    const kms = await send('POST', '/', { ...headers, 'X-Amz-Target': 'TrentService.ListKeys' }, '{}');
    expect(kms.status).toBe(421);
  });

  it('refuses the connected apps (with their client secret), REST and OAuth under a foreign host', async () => {
    const apps = await send('GET', '/__emulator/connected-apps', { ...emu.controlHeaders, Host: `rebind.evil.example:${port}` });
    expect(apps.status).toBe(421);
    expect(apps.text).not.toContain(emu.clientSecret);
    expect(JSON.parse(apps.text)).toEqual([{ errorCode: 'MISDIRECTED_REQUEST', message: expect.stringContaining('rebind.evil.example') as string }]);
    expect((await limits({ Host: `rebind.evil.example:${port}` })).status).toBe(421);
    const token = await send('POST', '/services/oauth2/token', { 'Content-Type': 'application/x-www-form-urlencoded', Host: 'rebind.evil.example' }, new URLSearchParams({ grant_type: 'password', client_id: emu.clientId, client_secret: emu.clientSecret, username: emu.username, password: emu.password }).toString());
    expect(token.status).toBe(421);
    expect(JSON.parse(token.text)).toMatchObject({ error: 'invalid_request' });
    expect(token.text).not.toContain('access_token');
  });

  it('refuses to start with an allowOrigins or allowHosts entry that could never match', async () => {
    for (const options of [{ allowOrigins: ['localhost:3000'] }, { allowOrigins: ['http://localhost:3000/console'] }, { allowHosts: ['http://host.docker.internal'] }, { allowHosts: ['a b'] }]) {
      const error = await startEmulator(options).then(
        async (e) => {
          await e.close();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(isForceflowError(error, 'EMULATOR_ERROR'), JSON.stringify(options)).toBe(true);
      expect((error as Error).message).toMatch(/is not an? (origin|host name)/);
    }
    await expect(startLocalS3({ allowOrigins: ['null'] })).rejects.toThrow(/allowOrigins: "null" is not an origin/);
  });

  it('answers to a host name configured with allowHosts (a container reaching the host)', async () => {
    const own = await startEmulator({ allowHosts: ['host.docker.internal'] });
    try {
      const url = new URL(own.instanceUrl);
      const status = (host: string): Promise<number> =>
        new Promise((resolve, reject) => {
          const req = request({ host: url.hostname, port: url.port, path: '/services/data/v58.0/limits', headers: { Host: host, Authorization: `Bearer ${own.accessToken}` } }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', reject);
          req.end();
        });
      expect(await status(`host.docker.internal:${url.port}`)).toBe(200);
      expect(await status(`HOST.DOCKER.INTERNAL:${url.port}`)).toBe(200);
      expect(await status(`other.docker.internal:${url.port}`)).toBe(421);
    } finally {
      await own.close();
    }
  });

  it('serves loopback names, *.localhost and IP literals', async () => {
    for (const host of [`localhost:${port}`, `LOCALHOST:${port}`, `app.localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, '127.0.0.1', `localhost.:${port}`]) {
      expect((await limits({ Host: host })).status, host).toBe(200);
    }
    for (const host of ['localhost.evil.example', 'evil.example', '127.0.0.1.nip.io', 'localhost:1:2']) {
      expect((await limits({ Host: host })).status, host).toBe(421);
    }
  });
});

describe('foreign origins are refused on every route', () => {
  it('refuses REST, Bulk, OAuth and AWS calls from a foreign page, Salesforce- or AWS-shaped', async () => {
    const rest = await limits({ Origin: EVIL });
    expect(rest.status).toBe(403);
    expect(JSON.parse(rest.text)).toEqual([{ errorCode: 'FORBIDDEN', message: expect.stringContaining(EVIL) as string }]);
    expect((await send('GET', '/services/data/v58.0/jobs/query', { ...bearer(), Origin: EVIL })).status).toBe(403);
    const oauth = await send('POST', '/services/oauth2/token', { 'Content-Type': 'application/x-www-form-urlencoded', Origin: EVIL }, 'grant_type=password');
    expect(oauth.status).toBe(403);
    expect(JSON.parse(oauth.text)).toMatchObject({ error: 'access_denied' });
    const aws = await send('POST', '/', { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'TrentService.ListKeys', Authorization: 'AWS4-HMAC-SHA256 Credential=x', Origin: EVIL }, '{}');
    expect(aws.status).toBe(403);
    expect(JSON.parse(aws.text)).toMatchObject({ __type: 'AccessDeniedException' });
  });

  it('refuses loopback pages on other ports and opaque origins, serves its own origin', async () => {
    for (const origin of [`http://127.0.0.1:${port + 1}`, 'http://localhost:3000', `https://127.0.0.1:${port}`, 'null', 'file://', `http://evil.example:${port}`]) {
      expect((await limits({ Origin: origin })).status, origin).toBe(403);
    }
    for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`, `http://[::1]:${port}`]) {
      expect((await limits({ Origin: origin })).status, origin).toBe(200);
    }
    // Same origin as the Host it was sent to (a name that passes the Host check).
    expect((await limits({ Host: 'app.localhost:8443', Origin: 'http://app.localhost:8443' })).status).toBe(200);
  });

  it('lets an origin configured with allowOrigins call it, with CORS headers and a preflight answer', async () => {
    const own = await startEmulator({ allowOrigins: ['http://localhost:3000'] });
    try {
      const url = new URL(own.instanceUrl);
      const ask = (method: string, headers: Record<string, string>): Promise<Answer> =>
        new Promise((resolve, reject) => {
          const req = request({ host: url.hostname, port: url.port, method, path: '/services/data/v58.0/limits', headers }, (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: '' }));
          });
          req.on('error', reject);
          req.end();
        });
      const ok = await ask('GET', { Authorization: `Bearer ${own.accessToken}`, Origin: 'http://localhost:3000' });
      expect(ok.status).toBe(200);
      expect(ok.headers['access-control-allow-origin']).toBe('http://localhost:3000');
      const pre = await ask('OPTIONS', { Origin: 'http://localhost:3000', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization' });
      expect(pre.status).toBe(204);
      expect(String(pre.headers['access-control-allow-headers'])).toContain('Authorization');
      expect((await ask('OPTIONS', { Origin: EVIL, 'Access-Control-Request-Method': 'POST' })).status).toBe(403);
      expect((await ask('GET', { Authorization: `Bearer ${own.accessToken}`, Origin: 'http://localhost:3001' })).status).toBe(403);
    } finally {
      await own.close();
    }
  });
});
