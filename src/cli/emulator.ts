import type { Logger } from '../core/logger.ts';
import { startEmulator } from '../emulator/index.ts';

export interface EmulatorCommandOptions {
  readonly port: number;
  readonly host: string;
  readonly data?: string;
  readonly generate?: Record<string, number>;
  readonly seed: number;
  readonly faults?: string;
  readonly tokenTtl?: number;
  readonly apiLimit?: number;
  readonly s3?: boolean;
}

/** `forceflow emulator`: serve until SIGINT/SIGTERM; exactly one JSON line on stdout once listening. */
export async function emulatorCommand(opts: EmulatorCommandOptions, log: Logger): Promise<void> {
  const emu = await startEmulator({
    port: opts.port,
    host: opts.host,
    ...(opts.data === undefined ? {} : { dataDir: opts.data }),
    ...(opts.generate === undefined ? {} : { generate: opts.generate }),
    seed: opts.seed,
    ...(opts.faults === undefined ? {} : { faults: opts.faults }),
    ...(opts.tokenTtl === undefined ? {} : { tokenTtlSeconds: opts.tokenTtl }),
    ...(opts.apiLimit === undefined ? {} : { dailyApiLimit: opts.apiLimit }),
    logger: log.child({ component: 'emulator' }),
  });
  const { org: _org, close, ...info } = emu;
  process.stdout.write(`${JSON.stringify(info)}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await close();
}
