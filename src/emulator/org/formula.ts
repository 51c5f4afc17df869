import type { DescribeField, ObjectSchema } from './schema.ts';
import type { StoredRecord, StoredValue } from './record.ts';

/**
 * The emulator's formula fields (docs/emulator-formulas.md): a describe field with `calculated: true` and a
 * `calculatedFormula` of numbers, `+ - * /`, parentheses, unary minus and field references, either of the
 * record itself (`Quantity__c`) or reached through lookups (`Invoice__r.Exchange_Rate__c`,
 * `Invoice__r.Account__r.AnnualRevenue`). A blank (null or non-numeric) operand makes the result blank, as
 * Salesforce's "treat blank fields as blanks"; division by zero is blank too (Salesforce shows #Error!).
 *
 * Formulas over the record's own fields are computed when the record is written (src/emulator/org/derived.ts):
 * their inputs only change with the record, and then its SystemModstamp changes too. Formulas that reach a
 * parent are computed when the record is read (`FormulaView`), so a parent's change shows in its children at
 * once and never touches the children's SystemModstamp or LastModifiedDate, as in a real org.
 */

/** A parsed formula. */
export type FormulaNode =
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'field'; readonly path: readonly string[] }
  | { readonly kind: 'negate'; readonly operand: FormulaNode }
  | { readonly kind: 'binary'; readonly op: '+' | '-' | '*' | '/'; readonly left: FormulaNode; readonly right: FormulaNode };

/** Parse a formula's text; throws an Error naming what it cannot read. */
export function parseFormula(source: string): FormulaNode {
  const tokens: string[] = [];
  const re = /\s*(?:([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)|(\d+(?:\.\d+)?|\.\d+)|([-+*/()]))/y;
  let at = 0;
  while (at < source.length) {
    if (/^\s*$/.test(source.slice(at))) break;
    re.lastIndex = at;
    const m = re.exec(source);
    if (!m) throw new Error(`formula "${source}": cannot read "${source.slice(at).trim()}"`);
    tokens.push((m[1] ?? m[2] ?? m[3]) as string);
    at = re.lastIndex;
  }
  let pos = 0;
  const peek = (): string | undefined => tokens[pos];
  const primary = (): FormulaNode => {
    const t = tokens[pos++];
    if (t === undefined) throw new Error(`formula "${source}" ends early`);
    if (t === '(') {
      const e = sum();
      if (tokens[pos++] !== ')') throw new Error(`formula "${source}": missing ")"`);
      return e;
    }
    if (t === '-') return { kind: 'negate', operand: primary() };
    if (t === '+') return primary();
    if (/^[\d.]/.test(t)) return { kind: 'number', value: Number(t) };
    if (/^[A-Za-z_]/.test(t)) return { kind: 'field', path: t.split('.') };
    throw new Error(`formula "${source}": unexpected "${t}"`);
  };
  const product = (): FormulaNode => {
    let e = primary();
    while (peek() === '*' || peek() === '/') {
      const op = tokens[pos++] as '*' | '/';
      e = { kind: 'binary', op, left: e, right: primary() };
    }
    return e;
  };
  const sum = (): FormulaNode => {
    let e = product();
    while (peek() === '+' || peek() === '-') {
      const op = tokens[pos++] as '+' | '-';
      e = { kind: 'binary', op, left: e, right: product() };
    }
    return e;
  };
  const tree = sum();
  if (pos < tokens.length) throw new Error(`formula "${source}": unexpected "${tokens[pos] ?? ''}"`);
  return tree;
}

/** Whether a formula reads a field through a lookup (then it is computed on read). */
export function readsParent(node: FormulaNode): boolean {
  switch (node.kind) {
    case 'number': return false;
    case 'field': return node.path.length > 1;
    case 'negate': return readsParent(node.operand);
    case 'binary': return readsParent(node.left) || readsParent(node.right);
  }
}

type Num = number | null;
/** A compiled formula: its value for a record (null: blank). */
export type FormulaExpr = (rec: StoredRecord) => Num;

/** Reads a parent record by id (the org's tables, through their views, so a parent's own formulas are current). */
export type ParentReader = (target: ObjectSchema | undefined, id: string) => StoredRecord | undefined;

/** How a formula resolves field paths: schemas by object name, and parent records by id. */
export interface FormulaScope {
  readonly schema: (objectName: string) => ObjectSchema | undefined;
  readonly parent: ParentReader;
}

/**
 * Compile a parsed formula against an object. Field references are checked here: an unknown field or
 * relationship throws (the formula is then left as stored by its caller).
 */
export function compileFormulaNode(node: FormulaNode, schema: ObjectSchema, scope: FormulaScope | undefined): FormulaExpr {
  switch (node.kind) {
    case 'number': {
      const n = node.value;
      return () => n;
    }
    case 'negate': {
      const e = compileFormulaNode(node.operand, schema, scope);
      return (r) => {
        const v = e(r);
        return v === null ? null : -v;
      };
    }
    case 'binary': {
      const a = compileFormulaNode(node.left, schema, scope);
      const b = compileFormulaNode(node.right, schema, scope);
      const op = node.op;
      return (r) => {
        const x = a(r);
        if (x === null) return null;
        const y = b(r);
        if (y === null) return null;
        if (op === '+') return x + y;
        if (op === '-') return x - y;
        if (op === '*') return x * y;
        return y === 0 ? null : x / y;
      };
    }
    case 'field':
      return fieldReader(node.path, schema, scope);
  }
}

function fieldReader(path: readonly string[], schema: ObjectSchema, scope: FormulaScope | undefined): FormulaExpr {
  const last = path[path.length - 1] as string;
  // Each hop: the lookup field of the current object, and the object it points to.
  const hops: { field: DescribeField; target: ObjectSchema | undefined }[] = [];
  let current = schema;
  for (const name of path.slice(0, -1)) {
    if (!scope) throw new Error(`formula of ${schema.name} reads ${path.join('.')} through a lookup`);
    const lookup = current.relationship(name);
    if (!lookup) throw new Error(`formula of ${schema.name}: ${current.name} has no relationship ${name}`);
    const targetName = lookup.referenceTo[0];
    const target = targetName === undefined ? undefined : scope.schema(targetName);
    if (!target) throw new Error(`formula of ${schema.name}: ${current.name}.${name} points to no known object`);
    hops.push({ field: lookup, target: lookup.referenceTo.length === 1 ? target : undefined });
    current = target;
  }
  const field = current.field(last);
  if (!field) throw new Error(`formula of ${schema.name}: ${current.name} has no field ${last}`);
  const name = field.name;
  if (hops.length === 0) {
    return (r) => {
      const v = r[name];
      return typeof v === 'number' ? v : null;
    };
  }
  const parent = (scope as FormulaScope).parent;
  return (r) => {
    let rec: StoredRecord | undefined = r;
    for (const hop of hops) {
      const id: StoredValue | undefined = rec[hop.field.name];
      if (typeof id !== 'string' || id === '') return null;
      rec = parent(hop.target, id);
      if (!rec) return null;
    }
    const v = rec[name];
    return typeof v === 'number' ? v : null;
  };
}

/** A formula's value as stored: rounded to the field's scale; blank when not finite. */
export function formulaValue(field: DescribeField, v: Num): StoredValue {
  if (v === null || !Number.isFinite(v)) return null;
  const f = 10 ** field.scale;
  return Math.round(v * f) / f;
}

/** The formula fields of an object, parsed once; those a parser or compiler refuses are left out (stay as stored). */
export function formulaFields(schema: ObjectSchema): { field: DescribeField; node: FormulaNode }[] {
  const out: { field: DescribeField; node: FormulaNode }[] = [];
  for (const f of schema.fields) {
    if (!f.calculated || !f.calculatedFormula) continue;
    try {
      out.push({ field: f, node: parseFormula(f.calculatedFormula) });
    } catch {
      // A formula the small evaluator does not read stays as stored.
    }
  }
  return out;
}

/**
 * The read side of an object's cross-object formulas: `apply(rec)` is the record with those fields computed
 * from the current parents (a copy; the stored record is never changed), or the record itself when the object
 * has none.
 */
export class FormulaView {
  private readonly parsed: { readonly field: DescribeField; readonly node: FormulaNode }[];
  /** Compiled on first use: the tables of the parents may be added to the org after this one. */
  private compiled: { readonly name: string; readonly field: DescribeField; readonly expr: FormulaExpr }[] | undefined;

  constructor(private readonly schema: ObjectSchema, private readonly scope: FormulaScope) {
    this.parsed = formulaFields(schema).filter((f) => readsParent(f.node));
  }

  get empty(): boolean {
    return this.parsed.length === 0;
  }

  apply(rec: StoredRecord): StoredRecord {
    const formulas = (this.compiled ??= this.compile());
    if (formulas.length === 0) return rec;
    const out: Record<string, StoredValue> = { ...rec };
    for (const { name, field, expr } of formulas) out[name] = formulaValue(field, expr(rec));
    return out;
  }

  private compile(): { name: string; field: DescribeField; expr: FormulaExpr }[] {
    const out: { name: string; field: DescribeField; expr: FormulaExpr }[] = [];
    for (const { field, node } of this.parsed) {
      try {
        out.push({ name: field.name, field, expr: compileFormulaNode(node, this.schema, this.scope) });
      } catch {
        // Unknown fields or relationships: left as stored.
      }
    }
    return out;
  }
}
