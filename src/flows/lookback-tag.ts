import type { FlowProblem } from '../mapping/types.ts';
import type { FlowDefinition } from './schema.ts';

/** The flow tag that sets a flow's lookback: a tag AppFlow stores and ignores, so the definition stays AppFlow's. */
export const LOOKBACK_TAG = 'forceflow:lookbackSeconds';
/** The longest lookback, in seconds (10 hours: AppFlow's bound on scheduleOffset, the other latency knob). */
export const MAX_LOOKBACK_SECONDS = 36_000;

export function parseLookbackSeconds(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  return Number.isSafeInteger(n) && n >= 0 && n <= MAX_LOOKBACK_SECONDS ? n : undefined;
}

/** The lookback tag, when present, is a whole number of seconds from 0 to 36000. */
export function lookbackTagProblems(flow: FlowDefinition): FlowProblem[] {
  const value = flow.tags?.[LOOKBACK_TAG];
  if (value === undefined || parseLookbackSeconds(value) !== undefined) return [];
  return [{ path: `tags.${LOOKBACK_TAG}`, message: `is ${JSON.stringify(value)}, not a whole number of seconds from 0 to ${MAX_LOOKBACK_SECONDS}. Write the seconds, for example "300", or remove the tag.` }];
}

