import type { ConnectorRegistry } from '../connectors/registry.ts';
import type { FlowProblem } from '../mapping/types.ts';
import type { FlowDefinition } from './schema.ts';

/**
 * The flow tag that turns on the formula refresh of an incremental Salesforce flow (docs/flows.md, "Formula
 * refresh"): a tag AppFlow stores and ignores, so the definition stays AppFlow's.
 * - `every:N`: every Nth successful run refreshes (N from 1 to 10000; `every:1` is every run);
 * - `interval:DURATION`: a run refreshes when the last refresh (or the flow's first run) is at least DURATION
 *   ago; DURATION is ISO-8601 days, hours, minutes and seconds (`P1D`, `PT24H`, `PT30M`, `P1DT12H`), at least a minute.
 */
export const FORMULA_REFRESH_TAG = 'forceflow:formulaRefresh';
export const MAX_REFRESH_EVERY = 10_000;
const MIN_INTERVAL_MS = 60_000;
const MAX_INTERVAL_MS = 366 * 86_400_000;

export type FormulaRefreshConfig =
  | { readonly kind: 'every'; readonly runs: number }
  | { readonly kind: 'interval'; readonly ms: number; readonly text: string };

/** The tag's value, or undefined when it is not one. */
export function parseFormulaRefresh(value: unknown): FormulaRefreshConfig | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  const every = /^every:(\d{1,5})$/i.exec(text);
  if (every) {
    const runs = Number(every[1]);
    return runs >= 1 && runs <= MAX_REFRESH_EVERY ? { kind: 'every', runs } : undefined;
  }
  const interval = /^interval:P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/i.exec(text);
  if (!interval || /T$/i.test(text) || /^interval:P$/i.test(text)) return undefined;
  const [d, h, m, s] = [interval[1], interval[2], interval[3], interval[4]].map((x) => Number(x ?? 0)) as [number, number, number, number];
  const ms = ((d * 24 + h) * 60 + m) * 60_000 + s * 1000;
  if (ms < MIN_INTERVAL_MS || ms > MAX_INTERVAL_MS) return undefined;
  return { kind: 'interval', ms, text: text.slice('interval:'.length).toUpperCase() };
}

/** The tag, when present, is `every:N` or `interval:DURATION`, on an incremental flow whose source has formula fields. */
export function formulaRefreshTagProblems(flow: FlowDefinition, registry: ConnectorRegistry): FlowProblem[] {
  const value = flow.tags?.[FORMULA_REFRESH_TAG];
  if (value === undefined) return [];
  const path = `tags.${FORMULA_REFRESH_TAG}`;
  if (parseFormulaRefresh(value) === undefined) {
    return [{
      path,
      message: `is ${JSON.stringify(value)}, not "every:N" (N from 1 to ${MAX_REFRESH_EVERY}) or "interval:DURATION" (ISO-8601, from PT1M to P366D). Write for example "every:5" or "interval:PT24H", or remove the tag.`,
    }];
  }
  const src = flow.sourceFlowConfig.connectorType;
  if (registry.get(src)?.capabilities.formulaRefresh !== true) {
    const able = registry.connectors.filter((c) => c.capabilities.formulaRefresh === true).map((c) => c.connectorType);
    return [{ path, message: `applies to ${able.join(', ') || 'no'} sources (their formula fields), but the source is ${src}. Remove the tag.` }];
  }
  if (flow.triggerConfig.triggerProperties?.Scheduled?.dataPullMode !== 'Incremental') {
    return [{ path, message: 'applies to incremental flows only (a Complete or on-demand run reads every record, formulas included). Set triggerConfig.triggerProperties.Scheduled.dataPullMode to Incremental, or remove the tag.' }];
  }
  return [];
}
