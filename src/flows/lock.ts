import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { ForceflowError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { FlowLockInfo, LockOwner, RunStateStore } from './state.ts';
import { canceled } from '../core/cancel.ts';

/** A lock's lease: without a heartbeat for this long, a holder on another host counts as gone. */
export const DEFAULT_LOCK_LEASE_MS = 60_000;

/**
 * This process's identity beyond its pid: the boot id and the process's start time (Linux), so a pid reused
 * after a reboot or by a restarted container is not mistaken for the holder. Undefined where /proc is absent.
 */
export function processStart(pid: number = process.pid): string | undefined {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime), counted after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = fields[19];
    return start === undefined ? undefined : `${boot}:${start}`;
  } catch {
    return undefined;
  }
}

export function lockOwner(executionId: string): LockOwner {
  const start = processStart();
  return { executionId, host: hostname(), pid: process.pid, ...(start === undefined ? {} : { processStart: start }) };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, owned by someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether a lock's holder is gone. On this host: its process has ended (or its pid now names another
 * process). On another host: its lease expired (no heartbeat for the lease time).
 */
export function holderGone(holder: FlowLockInfo, now: Date): boolean {
  if (holder.host === hostname()) {
    if (!pidAlive(holder.pid)) return true;
    if (holder.processStart !== undefined) {
      const current = processStart(holder.pid);
      if (current !== undefined && current !== holder.processStart) return true;
    }
    return false;
  }
  return Date.parse(holder.expiresAt) < now.getTime();
}

export function describeHolder(holder: FlowLockInfo): string {
  return `run ${holder.executionId} (pid ${holder.pid} on ${holder.host}, since ${holder.acquiredAt})`;
}

export function lockedError(flowName: string, holder: FlowLockInfo, waitedMs?: number): ForceflowError {
  const waited = waitedMs === undefined ? '' : ` after waiting ${Math.round(waitedMs / 1000)} s`;
  return new ForceflowError(
    'FLOW_LOCKED',
    `Flow "${flowName}" is already running${waited}: ${describeHolder(holder)} holds its lock. Wait for it to end, run again with --wait-lock [seconds] to wait, or cancel it. A holder whose process has died is taken over automatically.`,
    { details: { flowName, holder: { executionId: holder.executionId, pid: holder.pid, host: holder.host, since: holder.acquiredAt } } },
  );
}

export interface FlowLockOptions {
  readonly state: RunStateStore;
  readonly flowName: string;
  readonly executionId: string;
  readonly log: Logger;
  readonly now: () => Date;
  /** Wait this long (ms) for a held lock; 0 (default) refuses at once; Infinity waits until the signal aborts. */
  readonly waitMs?: number;
  readonly leaseMs?: number;
  readonly signal?: AbortSignal;
  /** Called when the lock is lost to another run (taken over after this process looked dead). */
  readonly onLost?: () => void;
}

export interface HeldFlowLock {
  /** The run whose lock was taken over (its process died): to be treated as interrupted. */
  readonly takenOverFrom?: FlowLockInfo;
  release(): Promise<void>;
}

/**
 * Take a flow's lock (the one mechanism for "never two runs of one flow at once"), waiting if asked, and keep
 * it with a heartbeat until released. Throws FLOW_LOCKED naming the holder.
 */
export async function acquireFlowLock(options: FlowLockOptions): Promise<HeldFlowLock> {
  const { state, flowName, executionId, log } = options;
  const leaseMs = options.leaseMs ?? DEFAULT_LOCK_LEASE_MS;
  const owner = lockOwner(executionId);
  const started = Date.now();
  let delay = 100;
  let logged = false;
  for (;;) {
    const attempt = await state.acquireLock(flowName, owner, { leaseMs, now: options.now(), isGone: holderGone });
    if (attempt.acquired) {
      if (attempt.takenOverFrom) log.warn({ holder: attempt.takenOverFrom }, 'took over the lock of a run whose process is gone; that run is treated as interrupted');
      let lost = false;
      const timer = setInterval(() => {
        state
          .renewLock(flowName, executionId, leaseMs, options.now())
          .then((kept) => {
            if (!kept && !lost) {
              lost = true;
              log.error('the flow lock was taken over by another run; stopping this one');
              options.onLost?.();
            }
          })
          .catch((error: unknown) => log.warn({ err: (error as Error).message }, 'could not renew the flow lock'));
      }, Math.max(1000, Math.floor(leaseMs / 3)));
      timer.unref();
      return {
        ...(attempt.takenOverFrom ? { takenOverFrom: attempt.takenOverFrom } : {}),
        async release() {
          clearInterval(timer);
          await state.releaseLock(flowName, executionId);
        },
      };
    }
    const waited = Date.now() - started;
    const waitMs = options.waitMs ?? 0;
    if (waited >= waitMs) throw lockedError(flowName, attempt.holder, waitMs > 0 ? waited : undefined);
    if (!logged) {
      log.info({ holder: attempt.holder }, `waiting for the lock of flow "${flowName}", held by ${describeHolder(attempt.holder)}`);
      logged = true;
    }
    try {
      await sleep(Math.min(delay, waitMs - waited), undefined, options.signal ? { signal: options.signal } : {});
    } catch {
      throw canceled(`The run was cancelled while waiting for the lock of flow "${flowName}".`);
    }
    delay = Math.min(2000, delay * 2);
  }
}
