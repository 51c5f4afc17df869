/**
 * Bulk API 2.0 job states, as the `state` of a job's info. Ingest jobs go Open → UploadComplete → InProgress →
 * JobComplete or Failed; query jobs start at UploadComplete. Aborted can end either at any point before the end.
 * The client polls until a terminal state; the emulator moves its jobs along the same states.
 */
export const BULK_JOB_STATES = ['Open', 'UploadComplete', 'InProgress', 'JobComplete', 'Failed', 'Aborted'] as const;

export type BulkJobState = (typeof BULK_JOB_STATES)[number];

/** The states a job never leaves. */
export type TerminalJobState = 'JobComplete' | 'Failed' | 'Aborted';

/** True when a job in this state is over (completed, failed or aborted): polling it again shows nothing new. */
export function isTerminalJobState(state: string): state is TerminalJobState {
  return state === 'JobComplete' || state === 'Failed' || state === 'Aborted';
}
