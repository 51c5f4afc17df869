import type { FlowProblem } from '../mapping/types.ts';
import type { FlowDefinition } from './schema.ts';

/**
 * The flow tag that chooses what a run does when the org's API reserve is reached part-way (docs/flows.md,
 * "API budget"): `fail` (default: the run ends Error with API_BUDGET_RESERVE_REACHED and delivers nothing) or
 * `stop` (an incremental flow stops early, keeps what it read, and the next run resumes from there). A tag
 * AppFlow stores and ignores, so the definition stays AppFlow's.
 */
export const ON_API_RESERVE_TAG = 'forceflow:onApiReserve';

export type OnApiReserve = 'fail' | 'stop';

export function onApiReserveOf(flow: FlowDefinition): OnApiReserve {
  return flow.tags?.[ON_API_RESERVE_TAG] === 'stop' ? 'stop' : 'fail';
}

/** The tag, when present, is `fail` or `stop`. */
export function onApiReserveTagProblems(flow: FlowDefinition): FlowProblem[] {
  const value = flow.tags?.[ON_API_RESERVE_TAG];
  if (value === undefined || value === 'fail' || value === 'stop') return [];
  return [{ path: `tags.${ON_API_RESERVE_TAG}`, message: `is ${JSON.stringify(value)}; write "stop" (an incremental flow stops early and keeps what it read) or "fail" (the default), or remove the tag.` }];
}
