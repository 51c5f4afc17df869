import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppflowClient, DescribeFlowCommand } from '@aws-sdk/client-appflow';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
let emu: RunningEmulator;
let dir: string;

beforeAll(async () => {
  emu = await startEmulator();
  dir = mkdtempSync(join(tmpdir(), 'ff-serve-'));
});
afterAll(async () => {
  await emu?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface ServeLine {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  stateDir: string;
  env: Record<string, string>;
}

/** Spawn `forceflow serve`, with the emulator as KMS; resolves on its JSON line. */
function serve(args: string[]): { line: Promise<ServeLine>; exit: Promise<number | null>; kill: (s: NodeJS.Signals) => void; stderr: () => string } {
  const env = {
    ...process.env,
    AWS_ENDPOINT_URL_KMS: emu.aws.kmsEndpoint,
    AWS_REGION: emu.aws.region,
    AWS_ACCESS_KEY_ID: emu.aws.accessKeyId,
    AWS_SECRET_ACCESS_KEY: emu.aws.secretAccessKey,
    FORCEFLOW_LOG_LEVEL: 'info',
  };
  const child = spawn(process.execPath, [join(ROOT, 'bin/forceflow.js'), 'serve', ...args], { env, cwd: dir });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const line = new Promise<ServeLine>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.once('line', (l) => resolve(JSON.parse(l) as ServeLine));
    void exit.then((code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  line.catch(() => undefined); // a test that expects an exit does not wait for a line
  return { line, exit, kill: (s) => child.kill(s), stderr: () => err };
}

describe('forceflow serve', () => {
  it('prints one JSON line once listening, answers SigV4 calls with the printed key, and exits 0 on SIGTERM', async () => {
    const state = join(dir, 'state');
    const config = join(dir, 'service.json');
    writeFileSync(config, JSON.stringify({ region: 'eu-central-1', accountId: '999988887777', gracePeriodSeconds: 5 }));
    const p = serve(['--state-dir', state, '--config', config]);
    const line = await p.line;
    expect(line.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(line.region).toBe('eu-central-1');
    expect(line.env).toEqual({ AWS_ENDPOINT_URL_APPFLOW: line.endpoint, AWS_REGION: 'eu-central-1', AWS_DEFAULT_REGION: 'eu-central-1', AWS_ACCESS_KEY_ID: line.accessKeyId, AWS_SECRET_ACCESS_KEY: line.secretAccessKey });
    expect(line.accessKeyId).toMatch(/^FFLK[A-Z2-7]{16}$/);
    expect(statSync(join(state, 'service.db')).mode & 0o777).toBe(0o600);

    const good = new AppflowClient({ endpoint: line.endpoint, region: line.region, credentials: { accessKeyId: line.accessKeyId, secretAccessKey: line.secretAccessKey }, maxAttempts: 1 });
    const bad = new AppflowClient({ endpoint: line.endpoint, region: line.region, credentials: { accessKeyId: line.accessKeyId, secretAccessKey: 'wrong'.repeat(8) }, maxAttempts: 1 });
    try {
      // The printed key verifies (the answer is past authentication) and a wrong secret does not.
      const ok = await good.send(new DescribeFlowCommand({ flowName: 'f1' })).catch((e: Error) => e);
      expect((ok as Error).name).not.toMatch(/Signature|Unrecognized|MissingAuthentication/);
      const refused = await bad.send(new DescribeFlowCommand({ flowName: 'f1' })).catch((e: Error) => e);
      expect((refused as Error).name).toBe('InvalidSignatureException');
    } finally {
      good.destroy();
      bad.destroy();
    }
    p.kill('SIGTERM');
    expect(await p.exit).toBe(0);
    expect(p.stderr()).toContain('Service stopped');

    // A restart keeps the same default key (sealed in service.db).
    const again = serve(['--state-dir', state, '--port', '0']);
    const second = await again.line;
    expect(second.accessKeyId).toBe(line.accessKeyId);
    expect(second.secretAccessKey).toBe(line.secretAccessKey);
    again.kill('SIGINT');
    expect(await again.exit).toBe(0);
  });

  it('refuses an invalid service.json with a message naming the member (exit 2)', async () => {
    const config = join(dir, 'bad.json');
    writeFileSync(config, JSON.stringify({ region: 'Mars', port: 'x' }));
    const p = serve(['--state-dir', join(dir, 'state2'), '--config', config]);
    expect(await p.exit).toBe(2);
    expect(p.stderr()).toMatch(/CONFIG_INVALID: .*bad\.json is not valid: .*port/);
    expect(p.stderr()).toContain('region');
  });
});
