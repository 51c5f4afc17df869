import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppflowClient } from '@aws-sdk/client-appflow';
import { KMSClient } from '@aws-sdk/client-kms';
import { silentLogger } from '../../src/core/logger.ts';
import type { RunningEmulator } from '../../src/emulator/index.ts';
import type { RunStateStore } from '../../src/flows/state.ts';
import { createProfile, openProfileContext } from '../../src/profiles/index.ts';
import { openServiceDatabase } from '../../src/service/db.ts';
import { openServiceState } from '../../src/service/state.ts';

/** Child `forceflow serve` and `forceflow worker` processes of the distributed mode, for the tests on PostgreSQL. */
export const ROOT = new URL('../..', import.meta.url).pathname;

export interface Child {
  readonly line: Promise<Record<string, unknown>>;
  readonly exit: Promise<number | null>;
  readonly stderr: () => string;
  kill(signal: NodeJS.Signals): void;
}

export function forceflowChild(args: readonly string[], env: NodeJS.ProcessEnv, cwd: string): Child {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [join(ROOT, 'bin/forceflow.js'), ...args], { env, cwd });
  let err = '';
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
    if (err.length > 2_000_000) err = err.slice(-1_000_000);
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const line = new Promise<Record<string, unknown>>((resolve, reject) => {
    // The first line that is a JSON object (serve and worker print one; migrate prints indented JSON).
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (l) => {
      if (!l.startsWith('{') || !l.endsWith('}')) return;
      lines.close();
      resolve(JSON.parse(l) as Record<string, unknown>);
    });
    void exit.then((code) => reject(new Error(`forceflow ${args[0]} exited ${code}: ${err.slice(-3000)}`)));
  });
  line.catch(() => undefined);
  return { line, exit, stderr: () => err, kill: (s) => child.kill(s) };
}

export async function until<T>(what: string, timeoutMs: number, read: () => Promise<T | undefined>, everyMs = 150): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms: ${what}`);
    await sleep(everyMs);
  }
}

/** Store the emulator's connector profile in the service database (migrated), as `forceflow profiles create --database` does. */
export async function storeProfile(emu: RunningEmulator, url: string, stateDir: string): Promise<void> {
  const kms = new KMSClient({ endpoint: emu.aws.kmsEndpoint, region: emu.aws.region, credentials: { accessKeyId: emu.aws.accessKeyId, secretAccessKey: emu.aws.secretAccessKey } });
  const db = openServiceDatabase({ url, stateDir });
  const state = openServiceState({ db, stateDir });
  const ctx = openProfileContext({ log: silentLogger(), store: state.profiles, kms });
  try {
    await createProfile(ctx, emu.connectorProfile);
  } finally {
    ctx.close();
    state.close();
    await db.destroy();
    kms.destroy();
  }
}

/** The service's run state in the service database (PostgreSQL), read as the service reads it. */
export function openRuns(url: string, stateDir: string): { readonly runs: RunStateStore; close(): Promise<void> } {
  const db = openServiceDatabase({ url, stateDir });
  const state = openServiceState({ db, stateDir });
  return { runs: state.runs, close: async () => { state.close(); await db.destroy(); } };
}

export function appflowOf(line: Record<string, unknown>): AppflowClient {
  return new AppflowClient({
    endpoint: String(line['endpoint']), region: String(line['region']), maxAttempts: 1,
    credentials: { accessKeyId: String(line['accessKeyId']), secretAccessKey: String(line['secretAccessKey']) },
  });
}
