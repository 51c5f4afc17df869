/**
 * The SOQL compiler: a parsed statement (@jetstreamapp/soql-parser-js) checked against the org's schemas and
 * turned into a {@link QueryPlan} (resolved fields, predicates, sort keys, aggregates, the REST output tree),
 * with Salesforce's errors for whatever does not compile. Execution is execute.ts, REST output serialize.ts.
 */
import {
  type Condition,
  type FieldType,
  type FunctionExp,
  type HavingClause,
  type OrderByClause,
  type Query,
  type Subquery,
  type ValueQueryCondition,
  type WhereClause,
} from '@jetstreamapp/soql-parser-js';
import { sfError, type SfHttpError } from '../errors.ts';
import { normalizeId } from '../../salesforce-wire/ids.ts';
import type { DescribeField, ObjectSchema } from '../org/schema.ts';
import type { OrgStore, StoredRecord, StoredValue, Table } from '../org/store.ts';
import { badChildRelationship, badRelationship, errorAt, malformed, noSuchColumn, unsupportedType, type SoqlText } from './errors.ts';
import { rows, value } from './execute.ts';
import { DATE_FUNCTIONS, dateLiteralRange, likeMatcher, parseDateLiteral, parseDateTimeLiteral, unquote } from './literals.ts';
import type {
  AggregateFunction,
  AggregateSpec,
  FieldPath,
  IdRange,
  Norm,
  OrderSpec,
  OutNode,
  PrepareOptions,
  Predicate,
  QueryColumn,
  QueryPlan,
  QueryRow,
  RelationshipStep,
  ValueKind,
} from './types.ts';
import { EMPTY_PARENTS, kindOf, normalize, resolveParent } from './values.ts';

/** Salesforce's largest OFFSET. */
export const MAX_OFFSET = 2000;

type Lit = { readonly kind: 'null' } | { readonly kind: 'scalar'; readonly v: string | number | boolean } | { readonly kind: 'range'; readonly start: number; readonly end: number };

const AGGREGATES = new Set<string>(['COUNT', 'COUNT_DISTINCT', 'SUM', 'AVG', 'MIN', 'MAX']);
const PASSTHROUGH_FUNCTIONS = new Set(['TOLABEL', 'FORMAT', 'CONVERTCURRENCY']);

/** The type name Salesforce uses in "must be of type X" messages. */
function typeName(field: DescribeField): string {
  if (field.type === 'int') return 'integer';
  const soap = field.soapType.split(':')[1] ?? field.type;
  return soap === 'ID' ? 'id' : soap;
}

function listOf<T>(x: T | readonly T[] | undefined): T[] {
  if (x === undefined) return [];
  return Array.isArray(x) ? [...(x as readonly T[])] : [x as T];
}

export interface CompileContext {
  readonly store: OrgStore;
  readonly text: SoqlText;
  readonly options: PrepareOptions;
}

/** Compiles one SELECT (the statement, a subquery or a semi-join) into a {@link QueryPlan}: the compiler is the plan. */
class QueryCompiler implements QueryPlan {
  readonly soql: string;
  readonly object: ObjectSchema;
  readonly table: Table;
  readonly store: OrgStore;
  readonly columns: QueryColumn[] = [];
  readonly includeDeleted: boolean;
  isCount = false;
  hasAggregate = false;
  hasSubquery = false;
  hasOffset = false;
  hasGroupBy = false;
  hasTypeof = false;
  hasOrderBy = false;
  /** ORDER BY Id DESC alone: rows come from the table's scan backwards. */
  idDescending = false;
  limit: number | undefined;
  offset = 0;

  private readonly ctx: CompileContext;
  private readonly alias: string | undefined;
  filter: Predicate | undefined;
  having: ((values: Record<string, StoredValue>) => boolean) | undefined;
  order: OrderSpec[] = [];
  readonly out: OutNode[] = [];
  readonly selectSteps: RelationshipStep[][] = [];
  readonly groupBy: FieldPath[] = [];
  readonly aggregates: AggregateSpec[] = [];
  hasRelationships = false;
  idKeys: string[] | undefined;
  idRange: IdRange | undefined;
  readonly parentLink: DescribeField | undefined;
  readonly cache: { childIndex?: Map<string, StoredRecord[]> } = {};

  constructor(ctx: CompileContext, table: Table, query: Query | Subquery, parentLink?: DescribeField) {
    this.ctx = ctx;
    this.store = ctx.store;
    this.soql = ctx.text.text;
    this.table = table;
    this.object = table.schema;
    this.includeDeleted = ctx.options.includeDeleted;
    this.alias = query.sObjectAlias;
    this.parentLink = parentLink;
    this.compileSelect(query);
    if (query.where) {
      this.filter = this.compileWhere(query.where);
      this.idKeys = idKeysOf(query.where, this.alias);
      this.idRange = idRangeOf(query.where, this.alias);
    }
    this.compileGroupBy(query);
    if (query.having) this.having = this.compileHaving(query.having);
    this.compileOrderBy(query);
    if (query.limit !== undefined) this.limit = query.limit;
    if (query.offset !== undefined) {
      this.hasOffset = true;
      if (query.offset > MAX_OFFSET) throw sfError(400, 'NUMBER_OUTSIDE_VALID_RANGE', `Maximum SOQL offset allowed is ${MAX_OFFSET}`);
      this.offset = query.offset;
    }
  }

  // ---------------------------------------------------------------- SELECT

  private pos(needle: string, from = 0): number {
    return this.ctx.text.locate(needle, from);
  }

  /** Split a dotted path, dropping the FROM alias. */
  private segments(raw: string): string[] {
    const parts = raw.split('.');
    if (parts.length > 1 && this.alias && parts[0]?.toLowerCase() === this.alias.toLowerCase()) parts.shift();
    return parts;
  }

  resolvePath(segments: readonly string[], rawForPos: string, from = 0): FieldPath {
    let current: ObjectSchema = this.object;
    const steps: RelationshipStep[] = [];
    const names: string[] = [];
    for (let i = 0; i < segments.length - 1; i++) {
      const seg = segments[i] as string;
      const ref = current.relationship(seg);
      const targetName = ref?.referenceTo.find((t) => this.ctx.store.table(t) !== undefined);
      const targetTable = targetName ? this.ctx.store.table(targetName) : undefined;
      if (!ref || !ref.relationshipName || !targetTable) throw badRelationship(this.ctx.text, this.pos(rawForPos, from), seg);
      names.push(ref.relationshipName);
      steps.push({
        field: ref,
        name: ref.relationshipName,
        path: names.join('.'),
        target: targetTable.schema,
        table: ref.referenceTo.length === 1 ? targetTable : undefined,
      });
      current = targetTable.schema;
    }
    const last = segments[segments.length - 1] ?? '';
    const field = current.field(last);
    if (!field) throw noSuchColumn(this.ctx.text, this.pos(rawForPos, from), last, current.name);
    return { path: [...names, field.name].join('.'), relationships: steps, field, object: current };
  }

  private addFieldColumn(ref: FieldPath, name?: string): QueryColumn {
    const key = ref.path.toLowerCase();
    if (this.columns.some((c) => c.kind === 'field' && c.path.toLowerCase() === key)) {
      throw errorAt('INVALID_FIELD', this.ctx.text, this.pos(ref.field.name), `duplicate field selected: ${ref.path}`);
    }
    const column: QueryColumn = {
      kind: 'field',
      path: ref.path,
      name: name ?? ref.field.name,
      field: ref.field,
      object: ref.object,
      relationships: ref.relationships,
      compound: ref.object.isCompound(ref.field),
      aggregate: undefined,
      subquery: undefined,
    };
    this.columns.push(column);
    if (ref.relationships.length > 0) {
      this.hasRelationships = true;
      this.selectSteps.push([...ref.relationships]);
    }
    // Place it in the output tree, merging fields under the same parent relationship.
    let nodes = this.out;
    for (const [k, step] of ref.relationships.entries()) {
      let parent = nodes.find((n): n is Extract<OutNode, { kind: 'parent' }> => n.kind === 'parent' && n.step.path === step.path);
      if (!parent) {
        parent = { kind: 'parent', step, trail: ref.relationships.slice(0, k + 1), children: [] };
        nodes.push(parent);
      }
      nodes = parent.children;
    }
    nodes.push({ kind: 'field', column, key: ref.field.name });
    return column;
  }

  private compileSelect(query: Query | Subquery): void {
    const fields = query.fields ?? [];
    if (fields.length === 0) throw malformed("unexpected token: 'FROM'");
    let exprCounter = 0;
    for (const item of fields) this.compileSelectItem(item, query, () => `expr${exprCounter++}`);
    if (this.isCount && this.columns.length > 0) {
      throw errorAt('MALFORMED_QUERY', this.ctx.text, this.pos('COUNT'), 'COUNT() and COUNT(fieldName) must be the only item in the SELECT list when used without GROUP BY');
    }
  }

  private compileSelectItem(item: FieldType, query: Query | Subquery, nextExpr: () => string): void {
    const text = this.ctx.text;
    switch (item.type) {
      case 'Field': {
        if (item.alias) throw errorAt('MALFORMED_QUERY', text, this.pos(item.alias), `unexpected token: '${item.alias}'`);
        const ref = this.resolvePath(this.segments(item.field), item.field);
        this.addFieldColumn(ref);
        return;
      }
      case 'FieldRelationship': {
        const raw = item.rawValue ?? [...item.relationships, item.field].join('.');
        const ref = this.resolvePath(this.segments([...item.relationships, item.field].join('.')), raw);
        this.addFieldColumn(ref);
        return;
      }
      case 'FieldFunctionExpression': {
        const fn = item.functionName.toUpperCase();
        const params = item.parameters.filter((p): p is string => typeof p === 'string');
        if (fn === 'FIELDS') {
          this.expandFields((params[0] ?? '').toUpperCase(), query);
          return;
        }
        if (AGGREGATES.has(fn)) {
          if (fn === 'COUNT' && params.length === 0) {
            this.isCount = true;
            return;
          }
          const arg = params[0] === undefined ? undefined : this.resolvePath(this.segments(params[0]), params[0]);
          if (arg) this.checkAggregatable(fn as AggregateFunction, arg);
          const name = item.alias ?? nextExpr();
          const column: QueryColumn = {
            kind: 'aggregate', path: name, name, field: arg?.field, object: arg?.object, relationships: arg?.relationships ?? [],
            compound: false, aggregate: fn as AggregateFunction, subquery: undefined,
          };
          this.columns.push(column);
          this.hasAggregate = true;
          this.aggregates.push({ column, fn: fn as AggregateFunction, arg, raw: (item.rawValue ?? '').replace(/\s+/g, '').toLowerCase() });
          if (arg && arg.relationships.length > 0) this.hasRelationships = true;
          return;
        }
        if (PASSTHROUGH_FUNCTIONS.has(fn) && params.length === 1 && item.parameters.length === 1) {
          const ref = this.resolvePath(this.segments(params[0] as string), params[0] as string);
          this.addFieldColumn(ref, item.alias);
          return;
        }
        throw errorAt('MALFORMED_QUERY', text, this.pos(item.functionName), `unexpected token: '${item.functionName}'`);
      }
      case 'FieldSubquery': {
        this.compileSubquery(item.subquery);
        return;
      }
      case 'FieldTypeof': {
        this.compileTypeof(item.field, item.conditions);
        return;
      }
      default:
        throw malformed('unexpected token in SELECT');
    }
  }

  private expandFields(which: string, query: Query | Subquery): void {
    if (which !== 'ALL' && which !== 'STANDARD' && which !== 'CUSTOM') {
      throw errorAt('MALFORMED_QUERY', this.ctx.text, this.pos('FIELDS'), `unexpected token: '${which}'`);
    }
    if (which !== 'STANDARD' && (query.limit === undefined || query.limit > 200)) {
      throw errorAt('MALFORMED_QUERY', this.ctx.text, this.pos('FIELDS'), 'The SOQL FIELDS function must have a LIMIT of at most 200');
    }
    for (const f of this.object.fields) {
      if (which === 'STANDARD' && f.custom) continue;
      if (which === 'CUSTOM' && !f.custom) continue;
      if (this.columns.some((c) => c.kind === 'field' && c.path === f.name)) continue;
      this.addFieldColumn({ path: f.name, relationships: [], field: f, object: this.object });
    }
  }

  private checkAggregatable(fn: AggregateFunction, arg: FieldPath): void {
    const kind = kindOf(arg.field);
    const ok =
      fn === 'SUM' || fn === 'AVG'
        ? kind === 'number'
        : fn === 'MIN' || fn === 'MAX'
          ? kind !== 'boolean' && kind !== 'other' && kind !== 'multipicklist'
          : kind !== 'other';
    if (!ok || !arg.field.aggregatable) {
      throw errorAt('INVALID_FIELD', this.ctx.text, this.pos(arg.field.name), `field ${arg.field.name} does not support aggregate operator ${fn}`);
    }
  }

  private compileSubquery(sub: Subquery): void {
    const text = this.ctx.text;
    const relName = sub.relationshipName;
    const rel = this.object.describe.childRelationships.find((r) => r.relationshipName?.toLowerCase() === relName.toLowerCase());
    const childTable = rel ? this.ctx.store.table(rel.childSObject) : undefined;
    const link = rel ? childTable?.schema.field(rel.field) : undefined;
    if (!rel || !childTable || !link || !rel.relationshipName) throw badChildRelationship(text, this.pos(relName), relName);
    const child = new QueryCompiler(this.ctx, childTable, sub, link);
    if (child.hasSubquery || child.hasAggregate || child.isCount) {
      throw errorAt('MALFORMED_QUERY', text, this.pos(relName), 'Nesting of semi join sub-selects is not supported');
    }
    const column: QueryColumn = {
      kind: 'subquery', path: rel.relationshipName, name: rel.relationshipName, field: undefined, object: childTable.schema,
      relationships: [], compound: false, aggregate: undefined, subquery: child,
    };
    this.columns.push(column);
    this.hasSubquery = true;
    this.out.push({ kind: 'subquery', column });
  }

  private compileTypeof(fieldName: string, conditions: readonly { type: string; objectType?: string; fieldList: string[] }[]): void {
    const text = this.ctx.text;
    const ref = this.object.relationship(fieldName);
    if (!ref || !ref.relationshipName) throw badRelationship(text, this.pos(fieldName), fieldName);
    const targetName = ref.referenceTo.find((t) => this.ctx.store.table(t) !== undefined);
    const targetTable = targetName ? this.ctx.store.table(targetName) : undefined;
    if (!targetTable) throw badRelationship(text, this.pos(fieldName), fieldName);
    const step: RelationshipStep = { field: ref, name: ref.relationshipName, path: ref.relationshipName, target: targetTable.schema, table: undefined };
    const cases = new Map<string, DescribeField[]>();
    let otherwise: DescribeField[] | undefined;
    for (const cond of conditions) {
      const schema = cond.type === 'WHEN' ? this.ctx.store.table(cond.objectType ?? '')?.schema : targetTable.schema;
      if (!schema) throw unsupportedType(text, this.pos(cond.objectType ?? fieldName), cond.objectType ?? '');
      const list: DescribeField[] = [];
      for (const name of cond.fieldList) {
        const f = schema.field(name);
        if (!f) throw noSuchColumn(text, this.pos(name), name, schema.name);
        list.push(f);
      }
      if (cond.type === 'WHEN') cases.set(schema.name.toLowerCase(), list);
      else otherwise = list;
    }
    const column: QueryColumn = {
      kind: 'typeof', path: ref.relationshipName, name: ref.relationshipName, field: ref, object: this.object, relationships: [step],
      compound: false, aggregate: undefined, subquery: undefined,
    };
    this.columns.push(column);
    this.hasTypeof = true;
    this.hasRelationships = true;
    this.selectSteps.push([step]);
    this.out.push({ kind: 'typeof', step, cases, otherwise });
  }

  // ---------------------------------------------------------------- WHERE

  /** Build a predicate tree from the parser's flat condition list (parentheses are counts on conditions). */
  private buildTree<T>(where: WhereClause | HavingClause, leaf: (cond: Condition | ValueQueryCondition) => (x: T) => boolean): (x: T) => boolean {
    type Tok = { t: '(' } | { t: ')' } | { t: 'AND' } | { t: 'OR' } | { t: 'NOT' } | { t: 'leaf'; p: (x: T) => boolean };
    const toks: Tok[] = [];
    let node: WhereClause | HavingClause | undefined = where;
    while (node) {
      const left = node.left as (Condition & { openParen?: number; closeParen?: number }) | null;
      if (left) {
        for (let i = 0; i < (left.openParen ?? 0); i++) toks.push({ t: '(' });
        if ('field' in left || 'fn' in left) toks.push({ t: 'leaf', p: leaf(left as Condition) });
        for (let i = 0; i < (left.closeParen ?? 0); i++) toks.push({ t: ')' });
      }
      const op = 'operator' in node ? node.operator : undefined;
      if (op === 'AND' || op === 'OR' || op === 'NOT') toks.push({ t: op });
      node = 'right' in node ? (node.right as WhereClause | HavingClause) : undefined;
    }
    let i = 0;
    const text = this.ctx.text;
    const fail = (what: string): SfHttpError => errorAt('MALFORMED_QUERY', text, this.pos(what, Math.max(0, text.keyword('where'))), `unexpected token: '${what}'`);
    const expr = (): ((x: T) => boolean) => {
      const parts = [term()];
      let joiner: 'AND' | 'OR' | undefined;
      while (i < toks.length && (toks[i]?.t === 'AND' || toks[i]?.t === 'OR')) {
        const op = (toks[i] as { t: 'AND' | 'OR' }).t;
        if (joiner && joiner !== op) throw fail(op);
        joiner = op;
        i++;
        parts.push(term());
      }
      if (parts.length === 1) return parts[0] as (x: T) => boolean;
      return joiner === 'AND' ? (x) => parts.every((p) => p(x)) : (x) => parts.some((p) => p(x));
    };
    const term = (): ((x: T) => boolean) => {
      const tok = toks[i++];
      if (!tok) throw fail('<EOF>');
      if (tok.t === 'NOT') {
        const inner = term();
        return (x) => !inner(x);
      }
      if (tok.t === '(') {
        const inner = expr();
        if (toks[i++]?.t !== ')') throw fail('(');
        return inner;
      }
      if (tok.t === 'leaf') return tok.p;
      throw fail(tok.t);
    };
    const result = expr();
    if (i < toks.length) throw fail(toks[i]?.t === 'leaf' ? 'AND' : (toks[i] as { t: string }).t);
    return result;
  }

  private compileWhere(where: WhereClause): Predicate {
    const whereAt = Math.max(0, this.ctx.text.keyword('where'));
    return this.buildTree<QueryRow>(where, (cond) => {
      if ('fn' in cond) return this.dateFunctionCondition(cond, whereAt);
      const fieldCond = cond as Condition & { field: string };
      const ref = this.resolvePath(this.segments(fieldCond.field), fieldCond.field, whereAt);
      const at = this.pos(fieldCond.field, whereAt);
      if (!ref.field.filterable || ref.object.isCompound(ref.field)) {
        throw errorAt('INVALID_FIELD', this.ctx.text, at, `field '${ref.field.name}' can not be filtered in a query call`);
      }
      if (ref.relationships.length > 0) this.hasRelationships = true;
      const kind = kindOf(ref.field);
      const getter = this.normGetter(ref, kind);
      if ('valueQuery' in cond && cond.valueQuery) return this.semiJoin(cond as ValueQueryCondition, ref, kind, getter, at);
      return this.comparison(cond as Condition & { operator: string; value: string | string[]; literalType?: string | string[] }, ref, kind, getter, at);
    });
  }

  /** `CALENDAR_YEAR(CreatedDate) = 2024`, `DAY_ONLY(CreatedDate) = TODAY` ...: a date function of a date/dateTime field. */
  private dateFunctionCondition(cond: WhereClause['left'] & { fn: FunctionExp }, whereAt: number): Predicate {
    const text = this.ctx.text;
    const name = (cond.fn.functionName ?? '').toUpperCase();
    const at = this.pos(cond.fn.functionName ?? '', whereAt);
    const spec = DATE_FUNCTIONS.get(name);
    const params = cond.fn.parameters ?? [];
    const param = params[0];
    if (!spec || params.length !== 1 || typeof param !== 'string') throw errorAt('MALFORMED_QUERY', text, at, `unexpected token: '${cond.fn.functionName ?? ''}'`);
    const ref = this.resolvePath(this.segments(param), param, whereAt);
    const fieldKind = kindOf(ref.field);
    if (fieldKind !== 'datetime' && (spec.datetimeOnly || fieldKind !== 'date')) {
      throw errorAt('INVALID_FIELD', text, at, `${name} can only be used with ${spec.datetimeOnly ? 'dateTime' : 'date or dateTime'} fields: ${ref.field.name}`);
    }
    if (!ref.field.filterable) throw errorAt('INVALID_FIELD', text, at, `field '${ref.field.name}' can not be filtered in a query call`);
    if (ref.relationships.length > 0) this.hasRelationships = true;
    const field = this.normGetter(ref, fieldKind);
    const fn = spec.value;
    const get = (row: QueryRow): Norm => {
      const v = field(row);
      return typeof v === 'number' ? fn(v) : null;
    };
    if ('valueQuery' in cond && cond.valueQuery) throw errorAt('MALFORMED_QUERY', text, at, `unexpected token: '${cond.fn.functionName ?? ''}'`);
    const kind: ValueKind = name === 'DAY_ONLY' ? 'date' : 'number';
    return this.comparison(cond as Condition & { operator: string; value: string | string[]; literalType?: string | string[] }, ref, kind, get, at);
  }

  private normGetter(ref: FieldPath, kind: ValueKind): (row: QueryRow) => Norm {
    const name = ref.field.name;
    if (ref.relationships.length === 0) return (row) => normalize(kind, row.record[name] ?? null);
    const { store } = this.ctx;
    const steps = ref.relationships;
    const inc = this.includeDeleted;
    return (row) => {
      const parent = resolveParent(store, row, steps, inc);
      return parent ? normalize(kind, parent[name] ?? null) : null;
    };
  }

  private literal(ref: FieldPath, kind: ValueKind, rawValue: string, literalType: string | undefined, at: number, forLike = false): Lit {
    const text = this.ctx.text;
    const f = ref.field;
    const type = (literalType ?? '').toUpperCase();
    if (type === 'NULL') return { kind: 'null' };
    const typeError = (quoted: boolean): SfHttpError =>
      errorAt('INVALID_FIELD', text, at, `value of filter criterion for field '${f.name}' must be of type ${typeName(f)} and should ${quoted ? '' : 'not '}be enclosed in quotes`);
    switch (kind) {
      case 'text': case 'multipicklist': case 'time': case 'other': {
        if (type !== 'STRING') throw typeError(true);
        const s = unquote(rawValue, forLike);
        if (s === undefined) throw errorAt('MALFORMED_QUERY', text, at, `unexpected token: ${rawValue}`);
        return { kind: 'scalar', v: kind === 'time' ? s : s.toLowerCase() };
      }
      case 'id': {
        if (type !== 'STRING') throw typeError(true);
        const s = unquote(rawValue, forLike);
        if (s === undefined) throw errorAt('MALFORMED_QUERY', text, at, `unexpected token: ${rawValue}`);
        if (forLike) return { kind: 'scalar', v: s };
        const id = normalizeId(s);
        if (!id) throw errorAt('INVALID_QUERY_FILTER_OPERATOR', text, at, `invalid ID field: ${s}`);
        return { kind: 'scalar', v: id };
      }
      case 'number': {
        if (!['INTEGER', 'DECIMAL', 'INTEGER_WITH_CURRENCY_PREFIX', 'DECIMAL_WITH_CURRENCY_PREFIX'].includes(type)) throw typeError(false);
        const n = Number(rawValue.replace(/^[A-Za-z]{3}/, ''));
        if (!Number.isFinite(n)) throw typeError(false);
        return { kind: 'scalar', v: n };
      }
      case 'boolean': {
        if (type !== 'BOOLEAN') throw typeError(false);
        return { kind: 'scalar', v: rawValue.toUpperCase() === 'TRUE' };
      }
      case 'date': case 'datetime': {
        if (type === 'DATE_LITERAL' || type === 'DATE_N_LITERAL') {
          const [name, nRaw] = rawValue.split(':');
          const range = dateLiteralRange(name ?? '', this.ctx.options.now, Number(nRaw ?? 0));
          if (!range) throw errorAt('MALFORMED_QUERY', text, at, `unexpected token: ${rawValue}`);
          return { kind: 'range', start: range.start, end: range.end };
        }
        const ms = kind === 'date' && type === 'DATE' ? parseDateLiteral(rawValue) : kind === 'datetime' && type === 'DATETIME' ? parseDateTimeLiteral(rawValue) : undefined;
        if (ms === undefined) {
          if ((kind === 'date' && type === 'DATE') || (kind === 'datetime' && type === 'DATETIME')) {
            throw errorAt('INVALID_FIELD', text, at, `value of filter criterion for field '${f.name}' must be a valid ${kind === 'date' ? 'date' : 'dateTime'}: ${rawValue}`);
          }
          throw typeError(false);
        }
        return { kind: 'scalar', v: ms };
      }
    }
  }

  private comparison(
    cond: { operator: string; value: string | string[]; literalType?: string | string[] },
    ref: FieldPath,
    kind: ValueKind,
    get: (row: QueryRow) => Norm,
    at: number,
  ): Predicate {
    const text = this.ctx.text;
    const op = cond.operator.toUpperCase();
    const values = listOf(cond.value);
    const types = listOf(cond.literalType);
    const typeAt = (i: number): string | undefined => (types.length === 1 ? types[0] : types[i]);

    if (op === 'IN' || op === 'NOT IN' || op === 'INCLUDES' || op === 'EXCLUDES') {
      if ((op === 'INCLUDES' || op === 'EXCLUDES') && kind !== 'multipicklist') {
        throw errorAt('INVALID_QUERY_FILTER_OPERATOR', text, at, 'includes or excludes operator only valid on multipicklist field');
      }
      const lits = values.map((v, i) => this.literal(ref, kind, v, typeAt(i), at));
      if (op === 'INCLUDES' || op === 'EXCLUDES') {
        const wanted = lits.map((l) => (l.kind === 'scalar' ? String(l.v).split(';').map((s) => s.trim()).filter(Boolean) : []));
        const includes = (row: QueryRow): boolean => {
          const v = get(row);
          if (v === null) return false;
          const have = new Set(String(v).split(';').map((s) => s.trim()));
          return wanted.some((set) => set.length > 0 && set.every((w) => have.has(w)));
        };
        return op === 'INCLUDES' ? includes : (row) => !includes(row);
      }
      const eqs = lits.map((l) => this.equals(l, kind));
      const isIn = (row: QueryRow): boolean => {
        const v = get(row);
        return eqs.some((eq) => eq(v));
      };
      return op === 'IN' ? isIn : (row) => !isIn(row);
    }
    if (values.length !== 1) throw errorAt('MALFORMED_QUERY', text, at, `unexpected token: '('`);
    const raw = values[0] as string;
    if (op === 'LIKE') {
      if (kind !== 'text' && kind !== 'id' && kind !== 'multipicklist') {
        throw errorAt('INVALID_FIELD', text, at, `invalid operator on field '${ref.field.name}'`);
      }
      const lit = this.literal(ref, kind === 'id' ? 'text' : kind, raw, typeAt(0), at, true);
      if (lit.kind !== 'scalar') return () => false;
      const match = likeMatcher(String(lit.v));
      return (row) => {
        const v = get(row);
        return v !== null && match(String(v));
      };
    }
    const lit = this.literal(ref, kind, raw, typeAt(0), at);
    const eq = this.equals(lit, kind);
    switch (op) {
      case '=': return (row) => eq(get(row));
      case '!=': case '<>': return (row) => !eq(get(row));
      case '<': case '<=': case '>': case '>=': {
        if (lit.kind === 'null') return () => false;
        if (kind === 'multipicklist' || kind === 'boolean') {
          throw errorAt('INVALID_FIELD', text, at, `invalid operator on field '${ref.field.name}'`);
        }
        const lo = lit.kind === 'range' ? lit.start : lit.v;
        const hi = lit.kind === 'range' ? lit.end : undefined;
        return (row) => {
          const v = get(row);
          if (v === null) return false;
          if (hi !== undefined) {
            if (typeof v !== 'number') return false;
            if (op === '<') return v < (lo as number);
            if (op === '<=') return v < hi;
            if (op === '>') return v >= hi;
            return v >= (lo as number);
          }
          if (op === '<') return v < lo;
          if (op === '<=') return v <= lo;
          if (op === '>') return v > lo;
          return v >= lo;
        };
      }
      default:
        throw errorAt('MALFORMED_QUERY', text, at, `unexpected token: '${cond.operator}'`);
    }
  }

  private equals(lit: Lit, kind: ValueKind): (v: Norm) => boolean {
    if (lit.kind === 'null') return (v) => v === null;
    if (lit.kind === 'range') return (v) => typeof v === 'number' && v >= lit.start && v < lit.end;
    if (kind === 'multipicklist') {
      const want = String(lit.v).split(';').map((s) => s.trim()).filter(Boolean).sort().join(';');
      return (v) => v !== null && String(v).split(';').map((s) => s.trim()).filter(Boolean).sort().join(';') === want;
    }
    const target = lit.v;
    return (v) => v === target;
  }

  private semiJoin(cond: ValueQueryCondition, ref: FieldPath, kind: ValueKind, get: (row: QueryRow) => Norm, at: number): Predicate {
    const text = this.ctx.text;
    const op = cond.operator.toUpperCase();
    if (op !== 'IN' && op !== 'NOT IN') throw errorAt('MALFORMED_QUERY', text, at, `unexpected token: '${cond.operator}'`);
    const inner = compileQuery(this.ctx, cond.valueQuery);
    const only = inner.columns[0];
    if (inner.columns.length !== 1 || only?.kind !== 'field' || !only.field) {
      throw errorAt('MALFORMED_QUERY', text, at, 'The selected field in a semi join sub-select must be an Id or reference');
    }
    let set: Set<Norm> | undefined;
    const innerKind = kindOf(only.field);
    const contains = (v: Norm): boolean => {
      if (!set) {
        set = new Set();
        for (const r of rows(inner)) set.add(normalize(innerKind, value(inner, r, only)));
      }
      return v !== null && set.has(v);
    };
    void kind;
    return op === 'IN' ? (row) => contains(get(row)) : (row) => !contains(get(row));
  }

  // ---------------------------------------------------------------- GROUP BY / HAVING / ORDER BY

  private compileGroupBy(query: Query | Subquery): void {
    const text = this.ctx.text;
    const groupAt = Math.max(0, text.keyword('group'));
    for (const g of listOf(query.groupBy)) {
      if (!('field' in g)) throw errorAt('MALFORMED_QUERY', text, groupAt, 'unexpected token: GROUP BY function');
      const ref = this.resolvePath(this.segments(g.field), g.field, groupAt);
      if (!ref.field.groupable) {
        throw errorAt('INVALID_FIELD', text, this.pos(ref.field.name, groupAt), `field '${ref.field.name}' can not be grouped in a query call`);
      }
      this.groupBy.push(ref);
      this.hasGroupBy = true;
    }
    if (this.hasGroupBy && this.isCount) {
      // COUNT() with GROUP BY behaves as COUNT(Id) per group in the count of groups; keep it simple: count groups.
    }
    if (this.hasAggregate || this.hasGroupBy) {
      if (this.hasSubquery) throw errorAt('MALFORMED_QUERY', text, groupAt, 'Aggregate query does not support sub-select');
      for (const c of this.columns) {
        if (c.kind !== 'field') continue;
        if (!this.groupBy.some((g) => g.path.toLowerCase() === c.path.toLowerCase())) {
          throw errorAt('MALFORMED_QUERY', text, this.pos(c.field?.name ?? c.path), `Field must be grouped or aggregated: ${c.path}`);
        }
      }
      this.hasAggregate = true;
    }
  }

  private aggregateFor(fn: FunctionExp): AggregateSpec {
    const raw = (fn.rawValue ?? '').replace(/\s+/g, '').toLowerCase();
    let spec = this.aggregates.find((a) => a.raw === raw);
    if (!spec) {
      // An aggregate used only in HAVING / ORDER BY: compute it, without an output column.
      const name = (fn.functionName ?? '').toUpperCase();
      if (!AGGREGATES.has(name)) throw errorAt('MALFORMED_QUERY', this.ctx.text, this.pos(fn.functionName ?? ''), `unexpected token: '${fn.functionName ?? ''}'`);
      const p = fn.parameters?.[0];
      const arg = typeof p === 'string' ? this.resolvePath(this.segments(p), p) : undefined;
      if (arg) this.checkAggregatable(name as AggregateFunction, arg);
      const hidden = `__hidden${this.aggregates.length}`;
      const column: QueryColumn = {
        kind: 'aggregate', path: hidden, name: hidden, field: arg?.field, object: arg?.object, relationships: arg?.relationships ?? [],
        compound: false, aggregate: name as AggregateFunction, subquery: undefined,
      };
      spec = { column, fn: name as AggregateFunction, arg, raw };
      this.aggregates.push(spec);
    }
    return spec;
  }

  private compileHaving(having: HavingClause): (values: Record<string, StoredValue>) => boolean {
    if (!this.hasAggregate) throw malformed('HAVING is only allowed in aggregate queries');
    return this.buildTree<Record<string, StoredValue>>(having, (cond) => {
      const c = cond as Condition & { fn?: FunctionExp; field?: string; operator: string; value: string | string[]; literalType?: string | string[] };
      let key: string;
      let ref: FieldPath;
      if (c.fn) {
        const spec = this.aggregateFor(c.fn);
        key = spec.column.name;
        ref = spec.arg ?? { path: 'Id', relationships: [], field: this.object.field('Id') as DescribeField, object: this.object };
        if (spec.fn === 'COUNT' || spec.fn === 'COUNT_DISTINCT' || spec.fn === 'SUM' || spec.fn === 'AVG') {
          ref = { ...ref, field: { ...ref.field, type: 'double', soapType: 'xsd:double' } };
        }
      } else {
        const path = this.resolvePath(this.segments(c.field ?? ''), c.field ?? '');
        const g = this.groupBy.find((x) => x.path.toLowerCase() === path.path.toLowerCase());
        if (!g) throw errorAt('MALFORMED_QUERY', this.ctx.text, this.pos(c.field ?? ''), `Field must be grouped or aggregated: ${path.path}`);
        key = `__group${this.groupBy.indexOf(g)}`;
        ref = g;
      }
      const kind = kindOf(ref.field);
      const pred = this.comparison(c, ref, kind, (row) => normalize(kind, row.record[key] ?? null), 0);
      return (values) => pred({ record: values, parents: EMPTY_PARENTS, aggregate: true });
    });
  }

  private compileOrderBy(query: Query | Subquery): void {
    const text = this.ctx.text;
    const orderAt = Math.max(0, text.keyword('order'));
    const clauses = listOf<OrderByClause>(query.orderBy);
    for (const clause of clauses) {
      const desc = clause.order === 'DESC';
      const nullsFirst = clause.nulls ? clause.nulls === 'FIRST' : !desc;
      if ('fn' in clause) {
        if (!this.hasAggregate) throw errorAt('MALFORMED_QUERY', text, this.pos(clause.fn.functionName ?? '', orderAt), `unexpected token: '${clause.fn.functionName ?? ''}'`);
        const spec = this.aggregateFor(clause.fn);
        const key = spec.column.name;
        this.order.push({ key: (row) => normalize('number', row.record[key] ?? null), desc, nullsFirst });
        continue;
      }
      const ref = this.resolvePath(this.segments(clause.field), clause.field, orderAt);
      if (!ref.field.sortable || ref.object.isCompound(ref.field)) {
        throw errorAt('INVALID_FIELD', text, this.pos(ref.field.name, orderAt), `field '${ref.field.name}' can not be sorted in a query call`);
      }
      const kind = kindOf(ref.field);
      if (this.hasAggregate) {
        const gi = this.groupBy.findIndex((g) => g.path.toLowerCase() === ref.path.toLowerCase());
        if (gi < 0) throw errorAt('MALFORMED_QUERY', text, this.pos(ref.field.name, orderAt), `Ordered field must be grouped or aggregated: ${ref.path}`);
        const key = `__group${gi}`;
        this.order.push({ key: (row) => normalize(kind, row.record[key] ?? null), desc, nullsFirst });
        continue;
      }
      if (ref.relationships.length > 0) this.hasRelationships = true;
      this.order.push({ key: this.normGetter(ref, kind), desc, nullsFirst });
    }
    this.hasOrderBy = this.order.length > 0;
    // ORDER BY Id (ascending) is the scan order: no sort needed; ORDER BY Id DESC is the scan backwards (Salesforce
    // answers `ORDER BY Id DESC LIMIT 1` from its index, as the emulator should without sorting the table).
    const only = clauses[0];
    if (clauses.length === 1 && only && 'field' in only && !this.hasAggregate) {
      const ref = this.resolvePath(this.segments(only.field), only.field);
      if (ref.relationships.length === 0 && ref.field.type === 'id') {
        this.order = [];
        this.idDescending = only.order === 'DESC';
      }
    }
  }
}

/**
 * The ids of a WHERE clause that is a plain AND chain (no OR, NOT or parentheses) containing `Id = 'x'` or
 * `Id IN ('x', ...)`, sorted and de-duplicated (Id order is scan order); undefined otherwise.
 */
function idKeysOf(where: WhereClause, alias: string | undefined): string[] | undefined {
  let node: WhereClause | undefined = where;
  let keys: string[] | undefined;
  while (node) {
    const left = node.left as (Condition & { openParen?: number; closeParen?: number; field?: string; value?: string | string[]; literalType?: unknown }) | null;
    if (!left || left.openParen || left.closeParen) return undefined;
    const op = 'operator' in node ? node.operator : undefined;
    if (op !== undefined && op !== 'AND') return undefined;
    const field = (left.field ?? '').toLowerCase();
    const isId = field === 'id' || (alias !== undefined && field === `${alias.toLowerCase()}.id`);
    if (!keys && isId && 'operator' in left && (left.operator === '=' || left.operator === 'IN') && !('valueQuery' in left)) {
      const ids: string[] = [];
      for (const raw of listOf(left.value)) {
        const id = normalizeId(unquote(raw) ?? '');
        if (id) ids.push(id);
      }
      keys = [...new Set(ids)].sort();
    }
    node = 'right' in node ? (node.right as WhereClause) : undefined;
  }
  return keys;
}

/**
 * The Id bounds of a WHERE clause that is a plain AND chain (no OR, NOT or parentheses) containing `Id >`, `>=`,
 * `<` or `<=` conditions: the highest lower bound and the lowest upper one (18-char ids); undefined otherwise.
 */
function idRangeOf(where: WhereClause, alias: string | undefined): IdRange | undefined {
  let node: WhereClause | undefined = where;
  let from: { id: string; inclusive: boolean } | undefined;
  let to: { id: string; inclusive: boolean } | undefined;
  let only = true;
  while (node) {
    const left = node.left as (Condition & { openParen?: number; closeParen?: number; field?: string; value?: string | string[]; operator?: string }) | null;
    if (!left || left.openParen || left.closeParen) return undefined;
    const op = 'operator' in node ? node.operator : undefined;
    if (op !== undefined && op !== 'AND') return undefined;
    const field = (left.field ?? '').toLowerCase();
    const isId = field === 'id' || (alias !== undefined && field === `${alias.toLowerCase()}.id`);
    const cmp = left.operator;
    const id = isId && (cmp === '>' || cmp === '>=' || cmp === '<' || cmp === '<=') && typeof left.value === 'string' && !('valueQuery' in left) ? normalizeId(unquote(left.value) ?? '') : undefined;
    if (id !== undefined && cmp !== undefined) {
      const inclusive = cmp.endsWith('=');
      // The tighter bound wins; at the same id, the exclusive one.
      if (cmp.startsWith('>')) {
        if (from === undefined || id > from.id || (id === from.id && !inclusive)) from = { id, inclusive };
      } else if (to === undefined || id < to.id || (id === to.id && !inclusive)) to = { id, inclusive };
    } else only = false;
    node = 'right' in node ? (node.right as WhereClause) : undefined;
  }
  if (from === undefined && to === undefined) return undefined;
  return {
    only,
    ...(from === undefined ? {} : { from: from.id, fromInclusive: from.inclusive }),
    ...(to === undefined ? {} : { to: to.id, toInclusive: to.inclusive }),
  };
}

/** Compile a top-level statement (or a semi-join's) against the org's schemas. */
export function compileQuery(ctx: CompileContext, query: Query): QueryPlan {
  const name = query.sObject ?? '';
  const table = ctx.store.table(name);
  if (!table) {
    const fromAt = ctx.text.keyword('from');
    throw unsupportedType(ctx.text, ctx.text.locate(name, Math.max(0, fromAt)), name);
  }
  return new QueryCompiler(ctx, table, query);
}
