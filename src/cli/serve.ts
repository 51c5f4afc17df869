import { isLoopbackHost } from '../core/http-guard.ts';
import type { Logger } from '../core/logger.ts';
import type { CliOutput } from './io.ts';
import { loadServiceConfig, type ServiceConfig } from '../service/config.ts';
import { startService } from '../service/start.ts';
import { clockFromEnv } from '../service/clock.ts';
import { stopSignal } from './stop-signal.ts';

export interface ServeCommandOptions {
  readonly port?: number;
  readonly host?: string;
  readonly stateDir?: string;
  readonly config?: string;
  readonly database?: string;
  readonly gracePeriod?: number;
  /** `--run-flows [n]`: true (1) or a count. */
  readonly runFlows?: number | boolean;
  readonly allowHost?: readonly string[];
  readonly allowOrigin?: readonly string[];
}

/**
 * `forceflow serve`: the AppFlow API (and what the composed operations bring: executor, scheduler) until
 * SIGINT/SIGTERM; exactly one JSON line on stdout once listening (endpoint, region, the local default
 * key and the environment a client needs). Command-line options win over service.json.
 */
export async function serveCommand(opts: ServeCommandOptions, log: Logger, output: CliOutput): Promise<void> {
  const fromFile: ServiceConfig = opts.config === undefined ? {} : loadServiceConfig(opts.config);
  const config: ServiceConfig = {
    ...fromFile,
    ...(opts.port === undefined ? {} : { port: opts.port }),
    ...(opts.host === undefined ? {} : { host: opts.host }),
    ...(opts.stateDir === undefined ? {} : { stateDir: opts.stateDir }),
    ...(opts.database === undefined ? {} : { database: opts.database }),
    ...(opts.gracePeriod === undefined ? {} : { gracePeriodSeconds: opts.gracePeriod }),
    ...(opts.runFlows === undefined ? {} : { runFlows: opts.runFlows === true ? 1 : Number(opts.runFlows) }),
    ...(opts.allowHost === undefined ? {} : { allowHosts: [...(fromFile.allowHosts ?? []), ...opts.allowHost] }),
    ...(opts.allowOrigin === undefined ? {} : { allowOrigins: [...(fromFile.allowOrigins ?? []), ...opts.allowOrigin] }),
  };
  const clock = clockFromEnv(process.env);
  const svc = await startService({ ...config, log, ...(clock ? { scheduleClock: clock } : {}) });
  const host = config.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) {
    output.writeErr(
      `forceflow serve: WARNING: listening on ${host}, not on loopback. Anyone who can reach this machine can try its access keys; ` +
        `requests travel unencrypted (plain HTTP), so put it behind TLS. Use --host 127.0.0.1 unless that is what you want.\n`,
    );
  }
  // Listen for the signals before printing the line: a supervisor may signal as soon as it reads it.
  const signal = stopSignal();
  const line = { endpoint: svc.endpoint, region: svc.region, accountId: svc.accountId, stateDir: svc.stateDir, accessKeyId: svc.accessKeyId, secretAccessKey: svc.secretAccessKey, env: svc.env };
  output.writeOut(`${JSON.stringify(line)}\n`);
  const received = await signal;
  log.info({ signal: received }, 'Stopping the service: no new requests; running work gets its grace period');
  await svc.close();
}
