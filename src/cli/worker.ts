import type { Logger } from '../core/logger.ts';
import type { CliOutput } from './io.ts';
import { loadServiceConfig, type ServiceConfig } from '../service/config.ts';
import { DEFAULT_GRACE_PERIOD_SECONDS } from '../service/start.ts';
import { startWorkerProcess } from '../service/worker-process.ts';
import { stopSignal } from './stop-signal.ts';

export interface WorkerCommandOptions {
  readonly database?: string;
  readonly stateDir?: string;
  readonly config?: string;
  readonly concurrency?: number;
  readonly gracePeriod?: number;
  readonly leaseSeconds?: number;
}

/**
 * `forceflow worker`: run the distributed mode's queued flow runs (docs/service.md, "Distributed mode") until
 * SIGINT/SIGTERM, then drain (running runs get the grace period, then are cancelled). Prints one JSON line
 * once taking runs. Command-line options win over service.json (database, stateDir, gracePeriodSeconds, runLeaseSeconds).
 */
export async function workerCommand(opts: WorkerCommandOptions, log: Logger, output: CliOutput): Promise<void> {
  const fromFile: ServiceConfig = opts.config === undefined ? {} : loadServiceConfig(opts.config);
  const database = opts.database ?? fromFile.database;
  const stateDir = opts.stateDir ?? fromFile.stateDir;
  const leaseSeconds = opts.leaseSeconds ?? fromFile.runLeaseSeconds;
  const graceMs = (opts.gracePeriod ?? fromFile.gracePeriodSeconds ?? DEFAULT_GRACE_PERIOD_SECONDS) * 1000;
  const proc = await startWorkerProcess({
    log,
    ...(database === undefined ? {} : { database }),
    ...(stateDir === undefined ? {} : { stateDir }),
    ...(opts.concurrency === undefined ? {} : { concurrency: opts.concurrency }),
    ...(leaseSeconds === undefined ? {} : { leaseMs: leaseSeconds * 1000 }),
  });
  const signal = stopSignal();
  output.writeOut(`${JSON.stringify({ worker: proc.worker.id, database: proc.database, stateDir: proc.stateDir, concurrency: opts.concurrency ?? 1 })}\n`);
  const received = await signal;
  log.info({ signal: received }, 'Stopping the worker: no new runs; running runs get the grace period');
  await proc.close(graceMs);
}
