import { jsonErrorPosition } from '../core/json-position.ts';
import type { z } from 'zod';
import { ForceflowError } from '../core/errors.ts';
import type { AnalyzedTasks } from '../mapping/compile.ts';
import type { FlowProblem } from '../mapping/types.ts';
import { MAX_JSON_DEPTH, tooDeepAt } from '../core/json-depth.ts';
import { didYouMean } from './did-you-mean.ts';
import { flowNotices } from './no-effect.ts';
import { connectorTypeProblem, crossFieldRules } from './rules.ts';
import { defaultRegistry, type ConnectorRegistry } from '../connectors/registry.ts';
import { CLOUDFORMATION_KEYS, flowDefinitionSchema, SPELLING_UNIONS } from './schema.ts';
import type { FlowDefinition } from './schema.ts';

export type { FlowProblem } from '../mapping/types.ts';
export { didYouMean } from './did-you-mean.ts';

/**
 * Validation of a flow definition: parsing with the zod schema (shapes, enums, strict keys; zod's issues
 * turned into problems here) and then AppFlow's rules between fields (src/flows/rules.ts: connector
 * properties matching connectorType, the projection requirement, every task's properties). Every
 * problem is reported, each with its JSON path and a sentence on what to do.
 *
 * Five spellings found in the wild (CloudFormation's, camelCased: taskProperties and tags as lists of
 * {key, value}, errorHandlingConfig.failOnFirstError, Scheduled.timeZone, and triggerProperties holding
 * scheduleExpression directly) are rewritten to the API form by the schema itself (src/flows/schema.ts,
 * docs/flows.md); the problems for them read as they did when they were rewritten before parsing.
 */

export interface CheckResult {
  readonly ok: boolean;
  /** The definition in its API form when ok. */
  readonly flow?: FlowDefinition;
  readonly problems: readonly FlowProblem[];
  /** The parsed tasks when ok (used by compileFlow). */
  readonly tasks?: AnalyzedTasks;
  /** When ok: accepted fields of this flow that have no effect, one sentence each (src/flows/no-effect.ts). */
  readonly notices?: readonly string[];
}

export interface CheckOptions {
  /** "Now" for rules about time (a scheduleEndTime already past); the clock by default. */
  readonly now?: Date;
  /** The connectors a flow may name (default: forceflow's, defaultRegistry()). */
  readonly registry?: ConnectorRegistry;
}

// ---------------------------------------------------------------------------------------------------
// zod issues -> problems

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const s = String(seg);
      out += /^[A-Za-z_$][\w$]*$/.test(s) ? (out === '' ? s : `.${s}`) : `[${JSON.stringify(s)}]`;
    }
  }
  return out === '' ? '(root)' : out;
}

type AnySchema = z.core.$ZodType;

function defOf(s: AnySchema): Record<string, unknown> & { type: string } {
  return (s as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
}

/**
 * Visit every schema the walk reaches along `path`, with the depth reached, looking through optional, default,
 * pipe, union, array and record wrappers (one walker for the look-ups below).
 */
function walkPath(schema: AnySchema, path: readonly PropertyKey[], visit: (s: AnySchema, depth: number) => void): void {
  const walk = (s: AnySchema, i: number): void => {
    visit(s, i);
    const def = defOf(s);
    switch (def.type) {
      case 'optional': case 'nullable': case 'default': case 'readonly': case 'nonoptional': case 'catch':
        walk(def.innerType as AnySchema, i); return;
      case 'pipe': walk((defOf(def.in as AnySchema).type === 'transform' ? def.out : def.in) as AnySchema, i); return;
      case 'union': for (const o of def.options as AnySchema[]) walk(o, i); return;
      case 'array':
        if (i < path.length && typeof path[i] === 'number') walk(def.element as AnySchema, i + 1);
        return;
      case 'record':
        if (i < path.length) walk(def.valueType as AnySchema, i + 1);
        return;
      case 'object': {
        const next = i < path.length ? (def.shape as Record<string, AnySchema>)[String(path[i])] : undefined;
        if (next) walk(next, i + 1);
        return;
      }
      default:
    }
  };
  walk(schema, 0);
}

/** The object keys the schema accepts at `path`. */
function knownKeysAt(schema: AnySchema, path: readonly PropertyKey[]): string[] {
  const found: string[] = [];
  walkPath(schema, path, (s, i) => {
    const def = defOf(s);
    if (i === path.length && def.type === 'object') found.push(...Object.keys(def.shape as Record<string, AnySchema>));
  });
  // CloudFormation's spelling of a key is accepted, but not suggested where the API key is known.
  return [...new Set(found)].filter((k) => { const api = CLOUDFORMATION_KEYS[k]; return api === undefined || !found.includes(api); });
}

/** True when the schema at `path` is a union of an API form and its CloudFormation spelling (schema.ts). */
function isSpellingUnion(schema: AnySchema, path: readonly PropertyKey[]): boolean {
  let hit = false;
  walkPath(schema, path, (s, i) => {
    if (i === path.length && SPELLING_UNIONS.includes(s)) hit = true;
  });
  return hit;
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  return `${typeof v} ${String(v)}`;
}

const EXPECTED: Readonly<Record<string, string>> = {
  string: 'a string', number: 'a number', int: 'an integer', boolean: 'true or false', object: 'an object',
  array: 'a list', record: 'an object',
};

function issueToProblems(issue: z.core.$ZodIssue, root: AnySchema, registry: ConnectorRegistry): FlowProblem[] {
  const path = formatPath(issue.path);
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeysAt(root, issue.path);
      return issue.keys.map((key) => {
        const keyPath = formatPath([...issue.path, key]);
        const last = issue.path[issue.path.length - 1];
        if ((last === 'sourceConnectorProperties' || last === 'destinationConnectorProperties') && didYouMean(key, known) !== key) {
          const side = last === 'sourceConnectorProperties' ? 'source' : 'destination';
          const p = connectorTypeProblem(registry, keyPath, key, side);
          if (p) return p;
        }
        const guess = didYouMean(key, known);
        const hint = guess !== undefined ? ` Did you mean "${guess}"?` : '';
        return { path: keyPath, message: `is not a known key.${hint} Remove it or fix its spelling (known keys here: ${known.join(', ')}).` };
      });
    }
    case 'invalid_type': {
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      if (input === undefined) return [{ path, message: `is missing. Add it (${expected}).` }];
      if (issue.expected === 'int') return [{ path, message: `expected an integer, got ${describeValue(input)}. Use a whole number.` }];
      if (issue.expected === 'string' && (typeof input === 'number' || typeof input === 'boolean')) {
        return [{ path, message: `expected a string, got ${describeValue(input)}. Write it in quotes, for example "${String(input)}".` }];
      }
      return [{ path, message: `expected ${expected}, got ${describeValue(input)}. Set it to ${expected}.` }];
    }
    case 'invalid_value': {
      if (input === undefined) return [{ path, message: `is missing. Add it (one of ${issue.values.map((v) => String(v)).join(', ')}).` }];
      const values = issue.values.map((v) => String(v));
      const guess = typeof input === 'string' ? didYouMean(input, values) : undefined;
      const hint = guess !== undefined ? ` Did you mean "${guess}"?` : '';
      return [{ path, message: `expected one of ${values.join(', ')}, got ${describeValue(input)}.${hint} Use one of the listed values.` }];
    }
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'string') return [{ path, message: `is too short (at least ${min} character${min === 1 ? '' : 's'}). Write a longer value.` }];
      if (issue.origin === 'array') return [{ path, message: `needs at least ${min} item${min === 1 ? '' : 's'}. Add ${min === 1 ? 'one' : 'more'}.` }];
      return [{ path, message: `must be at least ${min}${issue.inclusive === false ? ' (exclusive)' : ''}, got ${describeValue(input)}. Use a larger value.` }];
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'string') return [{ path, message: `is too long (at most ${max} characters). Shorten it.` }];
      if (issue.origin === 'array') return [{ path, message: `has too many items (at most ${max}). Remove some.` }];
      return [{ path, message: `must be at most ${max}, got ${describeValue(input)}. Use a smaller value.` }];
    }
    case 'invalid_format': {
      const custom = issue.message && !issue.message.startsWith('Invalid') ? issue.message : `a value matching ${issue.pattern ?? issue.format}`;
      return [{ path, message: `${custom.startsWith('expected') ? custom : `expected ${custom}`}, got ${describeValue(input)}. Fix the value.` }];
    }
    case 'invalid_union':
      if (issue.errors.length === 2 && isSpellingUnion(root, issue.path)) {
        // The API form's problems, unless the value is CloudFormation's list and only its rewritten
        // form is wrong (a malformed list reads as "expected an object", as before the rewrite).
        const [api = [], list = []] = issue.errors;
        const fromList = Array.isArray(input) && list.length > 0 && list.every((i) => typeof i.path[0] !== 'number');
        return (fromList ? list : api).flatMap((i) => issueToProblems({ ...i, path: [...issue.path, ...i.path] } as z.core.$ZodIssue, root, registry));
      }
      return [{ path, message: `${issue.message}, got ${describeValue(input)}. Use one of those forms.` }];
    default:
      return [{ path, message: `${issue.message}, got ${describeValue(input)}. Fix the value.` }];
  }
}

// ---------------------------------------------------------------------------------------------------
// entry points

/** Checks a flow definition without throwing; `ok` is true when there are no problems. */
export function checkFlow(json: unknown, options: CheckOptions = {}): CheckResult {
  const deep = tooDeepAt(json);
  if (deep !== undefined) {
    return { ok: false, problems: [{ path: deep, message: `is nested more than ${MAX_JSON_DEPTH} levels deep. A flow definition nests only a few levels: check the file is the flow you meant.` }] };
  }
  const registry = options.registry ?? defaultRegistry();
  const schema = flowDefinitionSchema(registry);
  const parsed = schema.safeParse(json, { reportInput: true });
  if (!parsed.success) {
    const problems = parsed.error.issues.flatMap((i) => issueToProblems(i, schema, registry));
    return { ok: false, problems: dedupe(problems) };
  }
  const { problems, tasks } = crossFieldRules(parsed.data, registry, options.now);
  if (problems.length > 0) return { ok: false, problems: dedupe(problems) };
  return { ok: true, flow: parsed.data, problems: [], ...(tasks ? { tasks } : {}), notices: flowNotices(parsed.data) };
}

function dedupe(problems: readonly FlowProblem[]): FlowProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.path}\u0000${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** One line per problem: `path: message`. */
export function formatProblems(problems: readonly FlowProblem[]): string {
  return problems.map((p) => `${p.path}: ${p.message}`).join('\n');
}

/**
 * Validates a flow definition (parsed JSON, or JSON text) and returns it in its API form, or throws a
 * ForceflowError FLOW_INVALID whose message lists every problem (`tasks[3].taskProperties.MASK_LENGTH:
 * expected a positive integer, got "x". Set it to ...`) and whose details carry `problems`.
 */
export function validateFlow(json: unknown, options: { readonly source?: string } & CheckOptions = {}): FlowDefinition {
  const result = checkFlow(typeof json === 'string' ? parseJsonText(json, options.source) : json, { ...(options.now ? { now: options.now } : {}), ...(options.registry ? { registry: options.registry } : {}) });
  if (result.ok && result.flow) return result.flow;
  throw flowInvalid(result.problems, options.source);
}

export function flowInvalid(problems: readonly FlowProblem[], source?: string): ForceflowError {
  const where = source !== undefined ? `Flow ${source}` : 'The flow definition';
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  const lines = problems.map((p) => `  ${p.path}: ${p.message}`).join('\n');
  return new ForceflowError('FLOW_INVALID', `${where} is invalid (${count}):\n${lines}`, {
    details: { problems, ...(source !== undefined ? { source } : {}) },
  });
}

/** Parses JSON text, turning a syntax error into FLOW_INVALID with the line and column. */
export function parseJsonText(text: string, source?: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const msg = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ');
    const { line, column } = jsonErrorPosition(text);
    throw flowInvalid([{ path: '(root)', message: `is not valid JSON at line ${line}, column ${column} (${msg}). Fix the syntax; an editor using docs/flow-schema.json points at it.` }], source);
  }
}
