import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from '../../src/service/http/sigv4.ts';

const START = fileURLToPath(new URL('../../node_modules/cognito-local/lib/bin/start.js', import.meta.url));

/** cognito-local (the npm package) as a real user pool service on 127.0.0.1, in its own process and folder. */
export interface CognitoLocal {
  /** `http://127.0.0.1:<port>`: the API endpoint, and the issuer domain of its tokens. */
  readonly endpoint: string;
  /** A Cognito Identity Provider API call (`AWSCognitoIdentityProviderService.<target>`), SigV4-signed JSON over HTTP. */
  call<T = Record<string, unknown>>(target: string, body: Record<string, unknown>): Promise<T>;
  close(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * Start cognito-local with its config folder (`.cognito/config.json`, read from its working directory) in a
 * temporary directory. The port is chosen first, because the tokens' `iss` is `TokenConfig.IssuerDomain`
 * (default `http://localhost:9229`, whatever port it listens on) followed by the pool id. Pools get no username
 * attributes (cognito-local's default is email, where the username is a UUID), so usernames are plain names.
 */
export async function startCognitoLocal(): Promise<CognitoLocal> {
  const dir = mkdtempSync(join(tmpdir(), 'ff-cognito-'));
  mkdirSync(join(dir, '.cognito'));
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  writeFileSync(join(dir, '.cognito', 'config.json'), JSON.stringify({ TokenConfig: { IssuerDomain: endpoint }, UserPoolDefaults: { UsernameAttributes: [] } }));
  const child: ChildProcess = spawn(process.execPath, [START], { cwd: dir, env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', NODE_NO_WARNINGS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  try {
    await new Promise<void>((resolveStart, reject) => {
      const timer = setTimeout(() => reject(new Error(`cognito-local did not start within 20 s: ${output}`)), 20_000);
      const onData = (d: Buffer): void => {
        output += d.toString();
        if (output.includes('Cognito Local running on')) {
          clearTimeout(timer);
          resolveStart();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`cognito-local exited (${String(code)}): ${output}`));
      });
    });
  } catch (error) {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  // cognito-local checks no signature; the requests are signed anyway, as the AWS SDK would sign them.
  const signer = new SignatureV4({ service: 'cognito-idp', region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, sha256: NodeSha256 });
  return {
    endpoint,
    async call<T>(target: string, body: Record<string, unknown>): Promise<T> {
      const text = JSON.stringify(body);
      const request = new HttpRequest({
        method: 'POST',
        protocol: 'http:',
        hostname: '127.0.0.1',
        port,
        path: '/',
        headers: { host: `127.0.0.1:${port}`, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `AWSCognitoIdentityProviderService.${target}` },
        body: text,
      });
      const signed = await signer.sign(request);
      const res = await fetch(`${endpoint}/`, { method: 'POST', headers: signed.headers, body: text });
      const json = (await res.json()) as T;
      if (!res.ok) throw new Error(`cognito-local ${target}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    },
    async close(): Promise<void> {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill();
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
