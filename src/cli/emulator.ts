import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { ForceflowError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { startEmulator } from '../emulator/index.ts';
import { startLocalS3, type LocalS3 } from '../emulator/s3/local.ts';
import { isLoopbackHost } from '../core/http-guard.ts';
import type { CliOutput } from './io.ts';
import { stopSignal } from './stop-signal.ts';

export interface EmulatorCommandOptions {
  readonly port: number;
  readonly host: string;
  readonly data?: string;
  readonly generate?: Record<string, number>;
  readonly seed: number;
  readonly faults?: string;
  readonly tokenTtl?: number;
  readonly apiLimit?: number;
  readonly bulkQueryRate?: number;
  readonly s3?: boolean;
  /** The local S3 on HTTPS (implies s3). */
  readonly s3Https?: boolean;
  readonly allowOrigin?: readonly string[];
  readonly allowHost?: readonly string[];
  /** With s3: the bucket created in the local S3 (default `forceflow`, the examples' bucket). */
  readonly bucket?: string;
}

/** `--data` must name a folder (created when absent), never a file. */
function checkDataDir(dir: string): void {
  let isFolder: boolean;
  try {
    isFolder = statSync(dir).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new ForceflowError('EMULATOR_ERROR', `--data ${dir} cannot be used: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}. Give a folder you can write to.`, { details: { data: resolve(dir) } });
  }
  if (!isFolder) {
    throw new ForceflowError('EMULATOR_ERROR', `--data ${dir} is a file, not a folder. Give a folder (it is created when absent) where the emulator keeps the org's state.`, { details: { data: resolve(dir) } });
  }
}

/** `forceflow emulator`: serve until SIGINT/SIGTERM; exactly one JSON line on stdout once listening. */
export async function emulatorCommand(opts: EmulatorCommandOptions, log: Logger, output: CliOutput): Promise<void> {
  if (opts.data !== undefined) checkDataDir(opts.data);
  const allowOrigins = opts.allowOrigin ?? [];
  const allowHosts = opts.allowHost ?? [];
  const emu = await startEmulator({
    port: opts.port,
    host: opts.host,
    allowOrigins,
    allowHosts,
    ...(opts.data === undefined ? {} : { dataDir: opts.data }),
    ...(opts.generate === undefined ? {} : { generate: opts.generate }),
    seed: opts.seed,
    ...(opts.faults === undefined ? {} : { faults: opts.faults }),
    ...(opts.tokenTtl === undefined ? {} : { tokenTtlSeconds: opts.tokenTtl }),
    ...(opts.apiLimit === undefined ? {} : { dailyApiLimit: opts.apiLimit }),
    ...(opts.bulkQueryRate === undefined ? {} : { bulkQueryBytesPerSecond: opts.bulkQueryRate }),
    logger: log.child({ component: 'emulator' }),
  });
  const { org: _org, close, ...info } = emu;
  let s3: LocalS3 | undefined;
  let line: Record<string, unknown> = info;
  if (opts.s3 === true || opts.s3Https === true) {
    // A local S3 (s3rver) next to the org; the env then works for S3, KMS and Secrets Manager at once
    // (the emulator's AWS endpoints accept any credentials, so s3rver's keys serve for all three).
    // On HTTPS, env's NODE_EXTRA_CA_CERTS names its certificate for the node processes that use it.
    s3 = await startLocalS3({ bucket: opts.bucket ?? 'forceflow', allowOrigins, allowHosts, https: opts.s3Https === true, ...(opts.host ? { host: opts.host } : {}) });
    line = { ...info, s3: { endpoint: s3.endpoint, bucket: s3.bucket, directory: s3.directory, ...(s3.caFile === undefined ? {} : { caFile: s3.caFile }) }, env: { ...info.env, ...s3.env } };
  }
  if (!isLoopbackHost(opts.host)) {
    // Nothing here is protected by real credentials: say so where the user will see it, not only in the log.
    output.writeErr(
      `forceflow emulator: WARNING: listening on ${opts.host}, not on loopback. Anyone who can reach this machine on port ${new URL(info.instanceUrl).port}` +
        `${s3 ? ` (and ${new URL(s3.endpoint).port} for S3)` : ''} gets the org and its records, its connected apps with their client secrets, ` +
        `its access tokens, and the emulated KMS keys and Secrets Manager secrets${s3 ? ', and the local S3 bucket' : ''}. Use --host 127.0.0.1 unless that is what you want.\n`,
    );
  }
  // Listen for the stop signal before printing the ready line: a supervisor (or a test) may send it as soon as it
  // reads the line, and a signal with no listener yet would end the process without closing the local S3 (whose
  // temporary folders would stay).
  const stopped = stopSignal();
  output.writeOut(`${JSON.stringify(line)}\n`);
  await stopped;
  await s3?.close();
  await close();
}
