import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { isForceflowError } from '../../core/errors.ts';
import type { ConnectorRegistry } from '../../connectors/registry.ts';
import { compileFlow } from '../../flows/compile.ts';
import type { ExecutionRecord } from '../../flows/run-record.ts';
import type { RunStateStore } from '../../flows/state.ts';
import type { FlowProblem } from '../../flows/validate.ts';
import type { FlowDefinition } from '../../flows/schema.ts';
import { ApiError } from '../api-error.ts';
import type { Executor, LiveRun } from '../executor.ts';
import type { FlowMembers, FlowStatus, FlowStore, StoredFlow } from '../flows/store.ts';
import { operation, type Operation, type OperationContext } from '../operation.ts';
import type { Scheduler } from '../scheduler.ts';

export interface FlowOperationDeps {
  readonly flows: FlowStore;
  readonly executor: Executor;
  /** The run history (the records `forceflow runs list` shows). */
  readonly state: RunStateStore;
  /** The connectors flows may name: the service's one registry (built once, at start). */
  readonly registry: ConnectorRegistry;
  /** Whether a connector profile of that name exists (CreateFlow/UpdateFlow refuse flows naming a missing one). */
  profileExists(name: string): Promise<boolean>;
  /** Key that signs paging tokens (default: random per process, so tokens do not survive a restart). */
  readonly tokenKey?: Buffer;
  /** Flows per account (AppFlow's quota: 1,000). */
  readonly maxFlows?: number;
  /** Schedules Active Scheduled flows: StartFlow activates, StopFlow and DeleteFlow deactivate, UpdateFlow reschedules. */
  readonly scheduler?: Pick<Scheduler, 'activate' | 'update' | 'deactivate'> & Partial<Pick<Scheduler, 'nextFireAt'>>;
}

/** The definition members CreateFlow stores and DescribeFlow echoes (UpdateFlow replaces all but kmsArn). */
const MEMBERS = ['description', 'kmsArn', 'triggerConfig', 'sourceFlowConfig', 'destinationFlowConfigList', 'tasks', 'metadataCatalogConfig'] as const;
const UPDATABLE = MEMBERS.filter((m) => m !== 'kmsArn');

const FLOW_NAME = z.string().max(256).regex(/^[a-zA-Z0-9][\w!@#.-]+$/, { error: 'Member must satisfy regular expression pattern: [a-zA-Z0-9][\\w!@#.-]+ (no spaces)' });
const CLIENT_TOKEN = z.string().min(1).max(256).regex(/^[ -~]+$/, { error: 'Member must be 1 to 256 printable ASCII characters' });
const MAX_RESULTS = z.number().int().min(1).max(100);
const NEXT_TOKEN = z.string().max(2048).regex(/^\S+$/);
const TAG_KEY = /^(?!aws:)[a-zA-Z+-=._:/]+$/;
const TAG_VALUE = /^[\s\w+-=.:/@]*$/;
const TAGS = z.record(z.string(), z.string());

function flowArn(ctx: OperationContext, name: string): string {
  return `arn:aws:appflow:${ctx.region}:${ctx.accountId}:flow/${name}`;
}

function notFound(name: string): ApiError {
  return new ApiError('ResourceNotFoundException', `Flow ${name} does not exist.`);
}

async function mustGet(deps: FlowOperationDeps, name: string): Promise<StoredFlow> {
  const flow = await deps.flows.get(name);
  if (!flow) throw notFound(name);
  return flow;
}

/** JSON with sorted keys (comparing connector sides whatever their key order). */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function validationFailed(what: 'Create' | 'Update' | 'Start', problems: readonly FlowProblem[]): ApiError {
  return new ApiError('ValidationException', `${what} Flow request failed: [${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}]`);
}

function checkTags(tags: Readonly<Record<string, string>>, member: string): void {
  const keys = Object.keys(tags);
  if (keys.length > 50) throw new ApiError('ValidationException', `Value at '${member}' failed to satisfy constraint: Member must have at most 50 tags (got ${keys.length}). Remove some.`);
  for (const [k, v] of Object.entries(tags)) {
    if (k.length < 1 || k.length > 128 || !TAG_KEY.test(k)) throw new ApiError('ValidationException', `Tag key ${JSON.stringify(k.slice(0, 128))} at '${member}' is invalid: a key has 1 to 128 characters from letters and +-=._:/, and must not start with "aws:".`);
    if (v.length > 256 || !TAG_VALUE.test(v)) throw new ApiError('ValidationException', `The value of tag ${JSON.stringify(k)} at '${member}' is invalid: a value has at most 256 characters from letters, digits, spaces and _.:/=+-@.`);
  }
}

/** The flow's ARN → its name, for this service's region and account only. */
function flowNameFromArn(ctx: OperationContext, arn: string): string {
  const m = /^arn:aws:appflow:([^:]*):([^:]*):([^/]+)\/(.+)$/.exec(arn);
  if (!m) throw new ApiError('ValidationException', `Value at 'resourceArn' failed to satisfy constraint: expected a flow ARN, arn:aws:appflow:<region>:<account>:flow/<flowName>.`);
  const [, region, account, kind, name] = m as unknown as [string, string, string, string, string];
  if (kind !== 'flow') throw new ApiError('ValidationException', `Only flows can be tagged; ${arn} is a ${kind}.`);
  if (region !== ctx.region || account !== ctx.accountId) throw new ApiError('ResourceNotFoundException', `Flow ${arn} does not exist: this service holds the flows of account ${ctx.accountId} in ${ctx.region}.`);
  return name;
}

/** Opaque, signed paging tokens: a token from another operation, flow or service is refused. */
function pager(key: Buffer): { make(scope: string, cursor: unknown): string; read<T>(scope: string, token: string): T } {
  const mac = (payload: string): Buffer => createHmac('sha256', key).update(payload).digest().subarray(0, 16);
  return {
    make(scope, cursor) {
      const payload = Buffer.from(JSON.stringify({ s: scope, c: cursor })).toString('base64url');
      return `${payload}.${mac(payload).toString('base64url')}`;
    },
    read<T>(scope: string, token: string): T {
      const bad = (): ApiError => new ApiError('ValidationException', `The nextToken is not one this service returned for this request (it may come from another operation or flow, or from before the service restarted). Start again without nextToken.`);
      const [payload, sig, extra] = token.split('.');
      if (payload === undefined || sig === undefined || extra !== undefined) throw bad();
      const given = Buffer.from(sig, 'base64url');
      const want = mac(payload);
      if (given.length !== want.length || !timingSafeEqual(given, want)) throw bad();
      const body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { s: string; c: T };
      if (body.s !== scope) throw bad();
      return body.c;
    },
  };
}

function pickMembers(input: Record<string, unknown>, names: readonly string[]): FlowMembers {
  const out: FlowMembers = {};
  for (const n of names) if (input[n] !== undefined) out[n] = input[n];
  return out;
}

function triggerType(members: FlowMembers): string {
  return String((members['triggerConfig'] as { triggerType?: unknown } | undefined)?.triggerType ?? 'OnDemand');
}

/** What identifies a connector side: type, profile and the object (or bucket and prefix, or path) it reads or writes. */
function sideOf(config: unknown, propsKey: string): string {
  const c = (config ?? {}) as Record<string, unknown>;
  const props = (c[propsKey] ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const typed = props[String(c['connectorType'])] ?? {};
  return canonical({ type: c['connectorType'], profile: c['connectorProfileName'] ?? null, object: typed['object'] ?? null, bucket: typed['bucketName'] ?? null, prefix: typed['bucketPrefix'] ?? null, path: typed['path'] ?? null });
}

/** The flow's latest run (since it was created), for lastRunExecutionDetails. */
async function latestRun(deps: FlowOperationDeps, flow: StoredFlow): Promise<ExecutionRecord | undefined> {
  const [latest] = await deps.state.runs(flow.name, { since: flow.createdAt.toISOString(), limit: 1 });
  return latest;
}

/** A run record as AppFlow's ExecutionRecord; a run going on here shows its live counts and a requested cancel. */
function executionRecord(r: ExecutionRecord, live: LiveRun | undefined): Record<string, unknown> {
  const running = r.executionStatus === 'InProgress' && live !== undefined;
  const status = running && live.cancelRequested ? 'CancelStarted' : r.executionStatus;
  const res = r.executionResult;
  const errorInfo = res.errorInfo.executionMessage !== null || res.errorInfo.putFailuresCount > 0
    ? { putFailuresCount: res.errorInfo.putFailuresCount, ...(res.errorInfo.executionMessage === null ? {} : { executionMessage: res.errorInfo.executionMessage }) }
    : undefined;
  return {
    executionId: r.executionId,
    executionStatus: status,
    executionResult: {
      ...(errorInfo ? { errorInfo } : {}),
      bytesProcessed: running && live.progress ? live.progress.bytesProcessed : res.bytesProcessed,
      bytesWritten: res.bytesWritten,
      recordsProcessed: running && live.progress ? live.progress.recordsRead : res.recordsProcessed,
    },
    startedAt: new Date(r.startedAt),
    lastUpdatedAt: new Date(r.lastUpdatedAt),
    ...(r.dataPullStartTime === null ? {} : { dataPullStartTime: new Date(r.dataPullStartTime) }),
    ...(r.dataPullEndTime === null ? {} : { dataPullEndTime: new Date(r.dataPullEndTime) }),
  };
}

function lastRunDetails(latest: ExecutionRecord | undefined, live: readonly LiveRun[]): Record<string, unknown> | undefined {
  if (!latest) return undefined;
  const l = live.find((x) => x.executionId === latest.executionId);
  const status = latest.executionStatus === 'InProgress' && l?.cancelRequested ? 'CancelStarted' : latest.executionStatus;
  const message = latest.executionResult.errorInfo.executionMessage;
  return { mostRecentExecutionStatus: status, mostRecentExecutionTime: new Date(latest.startedAt), ...(message === null ? {} : { mostRecentExecutionMessage: message }) };
}

/**
 * The parts of a definition that read or write files of the service's machine: LocalFile sources and
 * destinations, and a Salesforce destination's errorHandlingConfig.localPath. `forceflow run` takes them from
 * the flow's author, who owns the machine; through the API they would give every access key every file the
 * service can read or write (its profiles, keys and shell start-up files included), so the service refuses them.
 */
function localFileProblems(def: FlowDefinition): FlowProblem[] {
  const problems: FlowProblem[] = [];
  const why = 'reads or writes files on the service\'s machine, which API callers may not do (an access key would reach every file the service can). Use S3, or run this flow with `forceflow run`.';
  if (def.sourceFlowConfig.connectorType === 'LocalFile') problems.push({ path: 'sourceFlowConfig.connectorType', message: `LocalFile ${why}` });
  def.destinationFlowConfigList.forEach((d, i) => {
    if (d.connectorType === 'LocalFile') problems.push({ path: `destinationFlowConfigList[${i}].connectorType`, message: `LocalFile ${why}` });
    const eh = (d.destinationConnectorProperties as { Salesforce?: { errorHandlingConfig?: { localPath?: unknown } } }).Salesforce?.errorHandlingConfig;
    if (eh?.localPath !== undefined) problems.push({ path: `destinationFlowConfigList[${i}].destinationConnectorProperties.Salesforce.errorHandlingConfig.localPath`, message: `localPath ${why}` });
  });
  return problems;
}

/**
 * The stored definition validated and compiled once (compileFlow validates): its problems, or the validated
 * definition and the mapping fingerprint behind schemaVersion. Definitions that reach the service machine's files
 * are refused (localFileProblems).
 */
function compiled(members: FlowMembers, name: string, now: Date, registry: ConnectorRegistry): { problems: readonly FlowProblem[] } | { def: FlowDefinition; fingerprint: string } {
  try {
    const plan = compileFlow({ ...members, flowName: name }, { now, registry });
    const local = localFileProblems(plan.definition);
    if (local.length > 0) return { problems: local };
    return { def: plan.definition, fingerprint: plan.schemaFingerprint };
  } catch (error) {
    if (isForceflowError(error) && error.code === 'FLOW_INVALID') {
      const problems = (error.details as { problems?: FlowProblem[] } | undefined)?.problems;
      return { problems: problems ?? [{ path: '(root)', message: error.message }] };
    }
    throw error;
  }
}

async function checkProfiles(deps: FlowOperationDeps, def: FlowDefinition): Promise<void> {
  const names = [def.sourceFlowConfig.connectorProfileName, ...def.destinationFlowConfigList.map((d) => d.connectorProfileName)];
  for (const name of names) {
    if (name !== undefined && name !== '' && !(await deps.profileExists(name))) {
      throw new ApiError('ResourceNotFoundException', `Connector Profile with name ${name} does not exist.`);
    }
  }
}

/** Build the flow operations (CreateFlow … ListTagsForResource) over a flow store, run history and executor. */
export function flowOperations(deps: FlowOperationDeps): Operation[] {
  const pages = pager(deps.tokenKey ?? randomBytes(32));

  const createFlow = operation({
    name: 'CreateFlow', method: 'POST', path: '/create-flow', readOnly: false,
    input: z.looseObject({ flowName: FLOW_NAME, clientToken: CLIENT_TOKEN.optional(), tags: TAGS.optional() }),
    handle: async (input, ctx) => {
      const members = pickMembers(input, MEMBERS);
      const now = ctx.now();
      const result = compiled(members, input.flowName, now, deps.registry);
      if ('problems' in result) throw validationFailed('Create', result.problems);
      const tags = input.tags ?? {};
      checkTags(tags, 'tags');
      await checkProfiles(deps, result.def);
      if ((await deps.flows.count()) >= (deps.maxFlows ?? 1000)) {
        throw new ApiError('ServiceQuotaExceededException', `This account already has ${deps.maxFlows ?? 1000} flows, the most it may have. Delete flows you no longer need.`);
      }
      const status: FlowStatus = triggerType(members) === 'OnDemand' ? 'Active' : 'Draft';
      const arn = flowArn(ctx, input.flowName);
      const created = await deps.flows.create({ name: input.flowName, arn, definition: members, status, at: now, by: ctx.caller.arn, schemaFingerprint: result.fingerprint, tags });
      if (!created) throw new ApiError('ConflictException', `Flow ${input.flowName} already exists. Choose another name, or change it with UpdateFlow.`);
      ctx.log.info({ flowName: input.flowName, flowStatus: status }, 'flow created');
      return { flowArn: arn, flowStatus: status };
    },
  });

  const describeFlow = operation({
    name: 'DescribeFlow', method: 'POST', path: '/describe-flow', readOnly: true,
    input: z.looseObject({ flowName: FLOW_NAME }),
    async handle(input) {
      const flow = await mustGet(deps, input.flowName);
      const latest = await latestRun(deps, flow);
      const details = lastRunDetails(latest, await deps.executor.live(flow.name));
      return {
        flowArn: flow.arn,
        flowName: flow.name,
        ...flow.definition,
        flowStatus: flow.status,
        ...(flow.statusMessage === null ? {} : { flowStatusMessage: flow.statusMessage }),
        ...(details ? { lastRunExecutionDetails: details } : {}),
        createdAt: flow.createdAt,
        lastUpdatedAt: flow.lastUpdatedAt,
        createdBy: flow.createdBy,
        lastUpdatedBy: flow.lastUpdatedBy,
        tags: flow.tags,
        schemaVersion: flow.schemaVersion,
      };
    },
  });

  const listFlows = operation({
    name: 'ListFlows', method: 'POST', path: '/list-flows', readOnly: true,
    input: z.looseObject({ maxResults: MAX_RESULTS.optional(), nextToken: NEXT_TOKEN.optional() }),
    async handle(input) {
      const limit = input.maxResults ?? 20;
      const after = input.nextToken === undefined ? undefined : pages.read<string>('ListFlows', input.nextToken);
      const rows = await deps.flows.list({ ...(after === undefined ? {} : { after }), limit: limit + 1 });
      const page = rows.slice(0, limit);
      const flows = await Promise.all(page.map(async (f) => {
        const source = f.definition['sourceFlowConfig'] as { connectorType?: string; apiVersion?: string } | undefined;
        const dest = (f.definition['destinationFlowConfigList'] as Array<{ connectorType?: string }> | undefined)?.[0];
        const details = lastRunDetails(await latestRun(deps, f), await deps.executor.live(f.name));
        const description = f.definition['description'];
        return {
          flowArn: f.arn,
          ...(description === undefined ? {} : { description }),
          flowName: f.name,
          flowStatus: f.status,
          sourceConnectorType: source?.connectorType,
          destinationConnectorType: dest?.connectorType,
          triggerType: triggerType(f.definition),
          createdAt: f.createdAt,
          lastUpdatedAt: f.lastUpdatedAt,
          createdBy: f.createdBy,
          lastUpdatedBy: f.lastUpdatedBy,
          tags: f.tags,
          ...(details ? { lastRunExecutionDetails: details } : {}),
        };
      }));
      const last = page[page.length - 1];
      return { flows, ...(rows.length > limit && last ? { nextToken: pages.make('ListFlows', last.name) } : {}) };
    },
  });

  const updateFlow = operation({
    name: 'UpdateFlow', method: 'POST', path: '/update-flow', readOnly: false,
    input: z.looseObject({ flowName: FLOW_NAME, clientToken: CLIENT_TOKEN.optional() }),
    handle: async (input, ctx) => {
      const flow = await mustGet(deps, input.flowName);
      const kmsArn = flow.definition['kmsArn'];
      const members: FlowMembers = { ...pickMembers(input, UPDATABLE), ...(kmsArn === undefined ? {} : { kmsArn }) };
      const result = compiled(members, flow.name, ctx.now(), deps.registry);
      if ('problems' in result) throw validationFailed('Update', result.problems);
      if (sideOf(members['sourceFlowConfig'], 'sourceConnectorProperties') !== sideOf(flow.definition['sourceFlowConfig'], 'sourceConnectorProperties')) {
        throw new ApiError('ValidationException', `Update Flow request failed: [Source object for the source connector can not be updated. sourceFlowConfig's connectorType, connectorProfileName and object must stay as they are; create a new flow to read from elsewhere.]`);
      }
      const destinations = (m: FlowMembers): string => ((m['destinationFlowConfigList'] ?? []) as unknown[]).map((d) => sideOf(d, 'destinationConnectorProperties')).join('|');
      if (destinations(members) !== destinations(flow.definition)) {
        throw new ApiError('ValidationException', `Update Flow request failed: [Destination object for the destination connector can not be updated. destinationFlowConfigList's connectorType, connectorProfileName and object must stay as they are; create a new flow to write elsewhere.]`);
      }
      await checkProfiles(deps, result.def);
      const before = triggerType(flow.definition);
      const after = triggerType(members);
      const status: FlowStatus = before === after ? flow.status : after === 'OnDemand' ? 'Active' : 'Draft';
      // An Active scheduled flow is rescheduled (its new trigger refused before anything is stored); one that
      // stops being scheduled leaves the scheduler.
      if (status === 'Active' && after === 'Scheduled') {
        try {
          deps.scheduler?.update({ flowName: flow.name, triggerConfig: result.def.triggerConfig, activatedAt: flow.activatedAt ?? flow.lastUpdatedAt });
        } catch (error) {
          if (isForceflowError(error)) throw new ApiError('ValidationException', `Update Flow request failed: [${error.message}]`);
          throw error;
        }
      } else if (before === 'Scheduled') deps.scheduler?.deactivate(flow.name);
      const updated = await deps.flows.update(flow.name, { definition: members, status, schemaFingerprint: result.fingerprint, at: ctx.now(), by: ctx.caller.arn });
      if (!updated) throw notFound(flow.name);
      return { flowStatus: updated.status };
    },
  });

  const deleteFlow = operation({
    name: 'DeleteFlow', method: 'POST', path: '/delete-flow', readOnly: false,
    input: z.looseObject({ flowName: FLOW_NAME, forceDelete: z.boolean().optional() }),
    async handle(input, ctx) {
      const flow = await mustGet(deps, input.flowName);
      const live = await deps.executor.live(flow.name);
      if (live.length > 0) {
        if (input.forceDelete !== true) {
          throw new ApiError('ConflictException', `Flow ${flow.name} has a run in progress (${live.map((l) => l.executionId).join(', ')}). Cancel it with CancelFlowExecutions, wait for it to end, or delete with forceDelete.`);
        }
        await deps.executor.cancel(flow.name);
        await Promise.all(live.map((l) => deps.executor.finished(l.executionId)));
      }
      deps.scheduler?.deactivate(flow.name);
      await deps.flows.delete(flow.name);
      // A new flow of this name is a new flow, as in AppFlow: its first incremental run reads from the first-run
      // rule, not from where this one stopped, and it inherits no lookback keys or formula hashes. The run
      // history stays (audit; a flow's history starts at its creation) and so does the write journal (crash recovery).
      await deps.state.setWindow(flow.name, null, ctx.now(), 'flow deleted (DeleteFlow)');
      await deps.state.formulaState?.forget(flow.name);
      ctx.log.info({ flowName: flow.name, forced: live.length > 0 }, 'flow deleted');
      return {};
    },
  });

  const startFlow = operation({
    name: 'StartFlow', method: 'POST', path: '/start-flow', readOnly: false,
    input: z.looseObject({ flowName: FLOW_NAME, clientToken: CLIENT_TOKEN.optional() }),
    handle: async (input, ctx) => {
      const flow = await mustGet(deps, input.flowName);
      const result = compiled(flow.definition, flow.name, ctx.now(), deps.registry);
      if ('problems' in result) throw validationFailed('Start', result.problems);
      if (triggerType(flow.definition) !== 'OnDemand') {
        // Scheduled and event flows: StartFlow activates (no run; executionId null). Already Active: no-op.
        if (flow.status === 'Active') return { flowArn: flow.arn, flowStatus: flow.status };
        const activatedAt = ctx.now();
        if (triggerType(flow.definition) === 'Scheduled') {
          try {
            deps.scheduler?.activate({ flowName: flow.name, triggerConfig: result.def.triggerConfig, activatedAt });
          } catch (error) {
            if (isForceflowError(error)) throw new ApiError('ValidationException', `Start Flow request failed: [${error.message}]`);
            throw error;
          }
        }
        const active = await deps.flows.setStatus(flow.name, 'Active', null, activatedAt);
        if (!active) {
          deps.scheduler?.deactivate(flow.name);
          throw notFound(flow.name);
        }
        return { flowArn: flow.arn, flowStatus: active.status };
      }
      let outcome;
      try {
        outcome = await deps.executor.start(flow.name, { startedBy: 'manual' });
      } catch (error) {
        if (isForceflowError(error) && error.code === 'SERVICE_STOPPING') throw new ApiError('ConflictException', error.message);
        throw error;
      }
      if ('skipped' in outcome) {
        const holder = outcome.executionId === undefined ? '' : ` (execution ${outcome.executionId})`;
        throw new ApiError('ConflictException', `Flow ${flow.name} is already running${holder}; a flow runs once at a time. Wait for the run to end, or cancel it with CancelFlowExecutions.`);
      }
      return { flowArn: flow.arn, flowStatus: flow.status, executionId: outcome.executionId };
    },
  });

  const stopFlow = operation({
    name: 'StopFlow', method: 'POST', path: '/stop-flow', readOnly: false,
    input: z.looseObject({ flowName: FLOW_NAME }),
    async handle(input, ctx) {
      const flow = await mustGet(deps, input.flowName);
      if (triggerType(flow.definition) === 'OnDemand') {
        throw new ApiError('UnsupportedOperationException', `Flow ${flow.name} runs on demand: there is no schedule or event trigger to deactivate. To stop a run in progress, use CancelFlowExecutions.`);
      }
      if (flow.status !== 'Active') return { flowArn: flow.arn, flowStatus: flow.status };
      deps.scheduler?.deactivate(flow.name);
      const stopped = await deps.flows.setStatus(flow.name, 'Suspended', null, ctx.now());
      if (!stopped) throw notFound(flow.name);
      return { flowArn: flow.arn, flowStatus: stopped.status };
    },
  });

  const cancelFlowExecutions = operation({
    name: 'CancelFlowExecutions', method: 'POST', path: '/cancel-flow-executions', readOnly: false,
    input: z.looseObject({ flowName: FLOW_NAME, executionIds: z.array(z.string().min(1).max(256).regex(/^\S+$/)).max(100).optional() }),
    async handle(input, ctx) {
      const flow = await mustGet(deps, input.flowName);
      const { invalid, canceled } = await deps.executor.cancel(flow.name, input.executionIds);
      if (canceled.length > 0) ctx.log.info({ flowName: flow.name, canceled }, 'cancel requested');
      return { invalidExecutions: invalid };
    },
  });

  const describeExecutions = operation({
    name: 'DescribeFlowExecutionRecords', method: 'POST', path: '/describe-flow-execution-records', readOnly: true,
    input: z.looseObject({ flowName: FLOW_NAME, maxResults: MAX_RESULTS.optional(), nextToken: NEXT_TOKEN.optional() }),
    async handle(input) {
      const flow = await mustGet(deps, input.flowName);
      const limit = input.maxResults ?? 20;
      const scope = `DescribeFlowExecutionRecords:${flow.name}:${flow.createdAt.toISOString()}`;
      const cursor = input.nextToken === undefined ? undefined : pages.read<{ at: string; id: string }>(scope, input.nextToken);
      // Runs since the flow was created (a flow deleted and created again starts a new history), newest first:
      // one page and one more run (to know whether a next page exists), read from the store, never the whole history.
      const rest = await deps.state.runs(flow.name, { since: flow.createdAt.toISOString(), limit: limit + 1, ...(cursor === undefined ? {} : { before: { startedAt: cursor.at, executionId: cursor.id } }) });
      const page = rest.slice(0, limit);
      const live = new Map((await deps.executor.live(flow.name)).map((l) => [l.executionId, l]));
      const last = page[page.length - 1];
      return {
        flowExecutions: page.map((r) => executionRecord(r, live.get(r.executionId))),
        ...(rest.length > limit && last ? { nextToken: pages.make(scope, { at: last.startedAt, id: last.executionId }) } : {}),
      };
    },
  });

  // forceflow's own read-only operation (the web console's): what AppFlow's ExecutionRecord has no member for, which
  // the AWS SDK would drop from DescribeFlowExecutionRecords. Same runs, same paging, plus the API each side used and
  // why, the error file, the catalogued error, and the flow's next scheduled run.
  const describeFlowRuns = operation({
    name: 'DescribeFlowRuns', method: 'POST', path: '/forceflow/describe-flow-runs', readOnly: true,
    input: z.looseObject({ flowName: FLOW_NAME, maxResults: MAX_RESULTS.optional(), nextToken: NEXT_TOKEN.optional() }),
    async handle(input) {
      const flow = await mustGet(deps, input.flowName);
      const limit = input.maxResults ?? 20;
      const scope = `DescribeFlowRuns:${flow.name}:${flow.createdAt.toISOString()}`;
      const cursor = input.nextToken === undefined ? undefined : pages.read<{ at: string; id: string }>(scope, input.nextToken);
      const rest = await deps.state.runs(flow.name, { since: flow.createdAt.toISOString(), limit: limit + 1, ...(cursor === undefined ? {} : { before: { startedAt: cursor.at, executionId: cursor.id } }) });
      const page = rest.slice(0, limit);
      const live = new Map((await deps.executor.live(flow.name)).map((l) => [l.executionId, l]));
      const last = page[page.length - 1];
      const nextRunAt = flow.status === 'Active' ? deps.scheduler?.nextFireAt?.(flow.name) : undefined;
      return {
        flowName: flow.name,
        flowStatus: flow.status,
        ...(nextRunAt === undefined ? {} : { nextRunAt }),
        runs: page.map((r) => ({
          ...executionRecord(r, live.get(r.executionId)),
          startedBy: r.startedBy,
          recordsWritten: r.executionResult.recordsWritten,
          recordsFiltered: r.executionResult.recordsFiltered,
          recordsDropped: r.executionResult.recordsDropped,
          sourceDataTransferApi: r.sourceDataTransferApi,
          sourceDataTransferApiReason: r.sourceDataTransferApiReason,
          destinationDataTransferApi: r.destinationDataTransferApi,
          destinationDataTransferApiReason: r.destinationDataTransferApiReason,
          errorFile: r.errorFile,
          outputs: r.outputs,
          error: r.error === null ? null : { code: r.error.code, message: r.error.message },
          notes: r.notes,
        })),
        ...(rest.length > limit && last ? { nextToken: pages.make(scope, { at: last.startedAt, id: last.executionId }) } : {}),
      };
    },
  });

  const tagResource = operation({
    name: 'TagResource', method: 'POST', path: '/tags/{resourceArn}', readOnly: false,
    input: z.looseObject({ resourceArn: z.string().min(1).max(512), tags: TAGS }),
    async handle(input, ctx) {
      const flow = await mustGet(deps, flowNameFromArn(ctx, input.resourceArn));
      checkTags(input.tags, 'tags');
      const merged = { ...flow.tags, ...input.tags };
      if (Object.keys(merged).length > 50) throw new ApiError('ValidationException', `Flow ${flow.name} would have ${Object.keys(merged).length} tags; a flow has at most 50. Remove some with UntagResource first.`);
      await deps.flows.tag(flow.name, input.tags);
      return {};
    },
  });

  const untagResource = operation({
    name: 'UntagResource', method: 'DELETE', path: '/tags/{resourceArn}', readOnly: false,
    input: z.looseObject({ resourceArn: z.string().min(1).max(512), tagKeys: z.array(z.string().min(1).max(128)).max(50) }),
    async handle(input, ctx) {
      const flow = await mustGet(deps, flowNameFromArn(ctx, input.resourceArn));
      await deps.flows.untag(flow.name, input.tagKeys);
      return {};
    },
  });

  const listTags = operation({
    name: 'ListTagsForResource', method: 'GET', path: '/tags/{resourceArn}', readOnly: true,
    input: z.looseObject({ resourceArn: z.string().min(1).max(512) }),
    async handle(input, ctx) {
      const flow = await mustGet(deps, flowNameFromArn(ctx, input.resourceArn));
      return { tags: flow.tags };
    },
  });

  return [createFlow, describeFlow, listFlows, updateFlow, deleteFlow, startFlow, stopFlow, cancelFlowExecutions, describeExecutions, describeFlowRuns, tagResource, untagResource, listTags] as Operation[];
}
