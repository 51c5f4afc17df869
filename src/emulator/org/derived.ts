import type { DescribeField, ObjectSchema } from './schema.ts';
import type { StoredValue } from './record.ts';
import { compileFormulaNode, formulaFields, formulaValue, readsParent, type FormulaExpr } from './formula.ts';

/**
 * Fields Salesforce computes itself: formula (calculated) fields, the person Name of Contact/Lead/User,
 * and Opportunity's stage-driven fields. Applied on every write (MemoryTable, generated overlay) so that
 * reads always see consistent values.
 */

function roundTo(v: number, scale: number): number {
  const f = 10 ** scale;
  return Math.round(v * f) / f;
}

const STAGE_INFO: Record<string, { probability: number; forecast: string; forecastName: string; closed: boolean; won: boolean }> = {
  Prospecting: { probability: 10, forecast: 'Pipeline', forecastName: 'Pipeline', closed: false, won: false },
  Qualification: { probability: 10, forecast: 'Pipeline', forecastName: 'Pipeline', closed: false, won: false },
  'Needs Analysis': { probability: 20, forecast: 'Pipeline', forecastName: 'Pipeline', closed: false, won: false },
  'Value Proposition': { probability: 50, forecast: 'Pipeline', forecastName: 'Pipeline', closed: false, won: false },
  'Id. Decision Makers': { probability: 60, forecast: 'Pipeline', forecastName: 'Pipeline', closed: false, won: false },
  'Perception Analysis': { probability: 70, forecast: 'Pipeline', forecastName: 'Pipeline', closed: false, won: false },
  'Proposal/Price Quote': { probability: 75, forecast: 'Pipeline', forecastName: 'Pipeline', closed: false, won: false },
  'Negotiation/Review': { probability: 90, forecast: 'Pipeline', forecastName: 'Pipeline', closed: false, won: false },
  'Closed Won': { probability: 100, forecast: 'Closed', forecastName: 'Closed', closed: true, won: true },
  'Closed Lost': { probability: 0, forecast: 'Omitted', forecastName: 'Omitted', closed: true, won: false },
};

/** Per-object derivation, compiled once per schema. */
export class Deriver {
  /** True when a step reads the `changed` set (person names, Opportunity stages); formulas do not. */
  private changeAware = false;
  private readonly steps: ((rec: Record<string, StoredValue>, changed: ReadonlySet<string> | undefined) => void)[] = [];

  constructor(schema: ObjectSchema) {
    // Formulas over the record's own fields (src/emulator/org/formula.ts); those reaching a parent are computed
    // on read (FormulaView), never stored.
    const formulas: { field: DescribeField; expr: FormulaExpr }[] = [];
    for (const { field, node } of formulaFields(schema)) {
      if (readsParent(node)) continue;
      try {
        formulas.push({ field, expr: compileFormulaNode(node, schema, undefined) });
      } catch {
        // Formulas naming unknown fields stay as stored.
      }
    }
    if (formulas.length > 0) {
      this.steps.push((rec) => {
        for (const { field, expr } of formulas) rec[field.name] = formulaValue(field, expr(rec));
      });
    }
    const nameField = schema.field('Name');
    if (nameField?.extraTypeInfo === 'personname' && schema.field('LastName')) {
      this.changeAware = true;
      this.steps.push((rec, changed) => {
        if (changed && !changed.has('FirstName') && !changed.has('LastName')) return;
        const first = rec['FirstName'];
        const last = rec['LastName'];
        const parts = [first, last].filter((p): p is string => typeof p === 'string' && p !== '');
        rec['Name'] = parts.length > 0 ? parts.join(' ') : null;
      });
    }
    if (schema.name === 'Opportunity') {
      this.changeAware = true;
      this.steps.push((rec, changed) => {
        const stage = rec['StageName'];
        const info = typeof stage === 'string' ? STAGE_INFO[stage] : undefined;
        if (info) {
          if (!changed || changed.has('StageName')) {
            if (!changed?.has('Probability') && (changed || rec['Probability'] === null || rec['Probability'] === undefined)) rec['Probability'] = info.probability;
            rec['ForecastCategory'] = info.forecast;
            if (!changed?.has('ForecastCategoryName')) rec['ForecastCategoryName'] = info.forecastName;
          }
          rec['IsClosed'] = info.closed;
          rec['IsWon'] = info.won;
        }
        const amount = rec['Amount'];
        const p = rec['Probability'];
        rec['ExpectedRevenue'] = typeof amount === 'number' && typeof p === 'number' ? roundTo((amount * p) / 100, 2) : null;
        const close = rec['CloseDate'];
        if (typeof close === 'string' && /^\d{4}-\d{2}/.test(close)) {
          const year = Number(close.slice(0, 4));
          const q = Math.floor((Number(close.slice(5, 7)) - 1) / 3) + 1;
          rec['FiscalYear'] = year;
          rec['FiscalQuarter'] = q;
          rec['Fiscal'] = `${year} ${q}`;
        }
      });
    }
  }

  /** Whether a step reads `changed` (update callers may skip building the set when none does). */
  get readsChanged(): boolean {
    return this.changeAware;
  }

  get empty(): boolean {
    return this.steps.length === 0;
  }

  /** Recompute derived fields of `rec` in place. `changed`: field names written (undefined on insert). */
  apply(rec: Record<string, StoredValue>, changed?: ReadonlySet<string>): void {
    for (const step of this.steps) step(rec, changed);
  }
}
