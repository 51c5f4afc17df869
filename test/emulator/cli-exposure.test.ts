import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { forceflow } from '../helpers/cli.ts';

/** `forceflow emulator` as a child process (it serves until a signal): the non-loopback warning and --allow-origin. */

interface Started {
  readonly info: { instanceUrl: string; s3?: { endpoint: string; caFile?: string }; env: Record<string, string> };
  /** Stops the child and resolves with everything it wrote to stderr. */
  stop(): Promise<string>;
}

function startCli(args: string[]): Promise<Started> {
  const child = spawn(process.execPath, ['bin/forceflow.js', 'emulator', '--port', '0', ...args], { env: { ...process.env, FORCEFLOW_HOME: '/nonexistent' } });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the emulator exited (${String(code)}): ${stderr}`))); // no-op once resolved
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
      const nl = stdout.indexOf('\n');
      if (nl < 0) return;
      resolve({
        info: JSON.parse(stdout.slice(0, nl)) as Started['info'],
        async stop() {
          child.kill('SIGTERM');
          await exited;
          return stderr;
        },
      });
    });
  });
}

function get(url: string, headers: Record<string, string>): Promise<{ status: number; allowOrigin: string | undefined }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, allowOrigin: res.headers['access-control-allow-origin'] as string | undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('forceflow emulator exposure', () => {
  it('warns on stderr when it listens beyond loopback, and serves origins given with --allow-origin', async () => {
    const emu = await startCli(['--host', '0.0.0.0', '--allow-origin', 'http://localhost:3000', '--allow-host', 'host.docker.internal', '--s3']);
    let stderr: string;
    try {
      const wellKnown = `${emu.info.instanceUrl}/.well-known/openid-configuration`;
      const allowed = await get(wellKnown, { Origin: 'http://localhost:3000' });
      expect(allowed).toEqual({ status: 200, allowOrigin: 'http://localhost:3000' });
      expect((await get(wellKnown, { Origin: 'https://evil.example' })).status).toBe(403);
      expect((await get(wellKnown, { Host: 'host.docker.internal' })).status).toBe(200);
      expect((await get(wellKnown, { Host: 'rebind.evil.example' })).status).toBe(421);
      // The local S3 gets the same origin list (an unsigned request is still refused, but not for its origin).
      expect((await get(`${emu.info.s3?.endpoint ?? ''}/forceflow`, { Origin: 'https://evil.example' })).status).toBe(403);
    } finally {
      stderr = await emu.stop();
    }
    expect(stderr).toContain('WARNING: listening on 0.0.0.0');
    expect(stderr).toMatch(/client secrets.*KMS keys and Secrets Manager secrets/);
  });

  it('--s3-https starts the local S3 on HTTPS: its certificate file (for --allow-host names too) is s3.caFile and env.NODE_EXTRA_CA_CERTS', async () => {
    const emu = await startCli(['--s3-https', '--allow-host', 'host.docker.internal']);
    const caFile = emu.info.s3?.caFile ?? '';
    try {
      expect(emu.info.s3?.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(emu.info.env['AWS_ENDPOINT_URL_S3']).toBe(emu.info.s3?.endpoint);
      expect(emu.info.env['NODE_EXTRA_CA_CERTS']).toBe(caFile);
      const cert = new X509Certificate(readFileSync(caFile));
      expect(cert.subjectAltName).toContain('DNS:host.docker.internal');
      expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    } finally {
      await emu.stop();
    }
    expect(existsSync(caFile)).toBe(false);
  });

  it('does not warn on loopback', async () => {
    const emu = await startCli([]);
    const stderr = await emu.stop();
    expect(emu.info.instanceUrl).toMatch(/^http:\/\/127\.0\.0\.1:/);
    expect(stderr).not.toContain('WARNING');
  });

  it('refuses an --allow-origin that is not an origin and an --allow-host that is not a host name', async () => {
    // In-process (runCli): the command line is refused before anything listens.
    for (const bad of ['localhost:3000', 'http://localhost:3000/app']) {
      const refused = await forceflow(['emulator', '--port', '0', '--allow-origin', bad], { env: { FORCEFLOW_HOME: '/nonexistent' } });
      expect(refused.code).toBe(2);
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toMatch(/expected an origin such as http:\/\/localhost:3000/i);
    }
    const refused = await forceflow(['emulator', '--port', '0', '--allow-host', 'http://host.docker.internal'], { env: { FORCEFLOW_HOME: '/nonexistent' } });
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/expected a host name such as host.docker.internal/i);
  });
});
