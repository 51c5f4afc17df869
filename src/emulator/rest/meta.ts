import type { ServerResponse } from 'node:http';
import { notFound, SfHttpError } from '../errors.ts';
import { sendJson, type EmuRequest } from '../http.ts';
import type { Org, OrgRouter } from '../context.ts';
import type { Table } from '../org/store.ts';
import { MAX_API_VERSION, MIN_API_VERSION } from '../api-versions.ts';
import { attributes } from './format.ts';

/**
 * Metadata resources of the REST API: versions, resources by version, describe global, sObject basic
 * info, sObject describe and limits. Shapes follow recorded responses of real orgs
 * (../shared/reference/salesforce-wire.md §2.1–2.4, §2.7).
 */

/** The seed org's metadata does not change while the emulator runs; `If-Modified-Since` compares to this. */
export const METADATA_LAST_MODIFIED = Date.parse('2024-06-28T18:00:00.000Z');

/** Release label of an API version: 31.0 is Summer '14, then Winter, Spring, Summer every year. */
export function releaseLabel(version: number): string {
  const k = Math.floor(version) - 31;
  const season = k % 3;
  if (season === 0) return `Summer '${String(14 + k / 3).padStart(2, '0')}`;
  if (season === 1) return `Winter '${String(15 + (k - 1) / 3).padStart(2, '0')}`;
  return `Spring '${String(15 + (k - 2) / 3).padStart(2, '0')}`;
}

/** `GET /services/data`: every served version, ascending. */
export function versions(): { label: string; url: string; version: string }[] {
  const out: { label: string; url: string; version: string }[] = [];
  for (let v = MIN_API_VERSION; v <= MAX_API_VERSION; v++) out.push({ label: releaseLabel(v), url: `/services/data/v${v}.0`, version: `${v}.0` });
  return out;
}

const RESOURCES = [
  'tooling', 'metadata', 'eclair', 'folders', 'prechatForms', 'contact-tracing', 'jsonxform', 'chatter', 'tabs', 'appMenu',
  'quickActions', 'queryAll', 'commerce', 'wave', 'iot', 'analytics', 'search', 'identity', 'composite', 'parameterizedSearch',
  'fingerprint', 'theme', 'nouns', 'event', 'serviceTemplates', 'recent', 'connect', 'licensing', 'limits', 'process',
  'async-queries', 'query', 'match', 'emailConnect', 'compactLayouts', 'knowledgeManagement', 'sobjects', 'actions', 'support',
  'uiapi', 'jobs',
];

/** `GET /services/data/vXX.X`: resource name → URL; `identity` is the caller's identity URL. */
export function resourcesByVersion(org: Org, version: string, userId: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of RESOURCES) out[r] = r === 'identity' ? org.auth.identityUrl(userId) : `/services/data/v${version}/${r}`;
  return out;
}

/** The `urls` of an object in describe global, basic info and describe. */
export function objectUrls(org: Org, table: Table, version: string): Record<string, string> {
  const name = table.schema.name;
  const base = `/services/data/v${version}/sobjects/${name}`;
  const d = table.schema.describe;
  if (d['layoutable'] !== true) return { rowTemplate: `${base}/{ID}`, describe: `${base}/describe`, sobject: base };
  return {
    compactLayouts: `${base}/describe/compactLayouts`,
    rowTemplate: `${base}/{ID}`,
    approvalLayouts: `${base}/describe/approvalLayouts`,
    uiDetailTemplate: `${org.baseUrl}/{ID}`,
    uiEditTemplate: `${org.baseUrl}/{ID}/e`,
    defaultValues: `${base}/defaultValues?recordTypeId&fields`,
    listviews: `${base}/listviews`,
    describe: `${base}/describe`,
    uiNewRecord: `${org.baseUrl}/${table.schema.keyPrefix}/e`,
    quickActions: `${base}/quickActions`,
    layouts: `${base}/describe/layouts`,
    sobject: base,
  };
}

const GLOBAL_KEYS = [
  'activateable', 'associateEntityType', 'associateParentEntity', 'createable', 'custom', 'customSetting', 'deepCloneable',
  'deletable', 'deprecatedAndHidden', 'feedEnabled', 'hasSubtypes', 'isInterface', 'isSubtype', 'keyPrefix', 'label',
  'labelPlural', 'layoutable', 'mergeable', 'mruEnabled', 'name', 'queryable', 'replicateable', 'retrieveable', 'searchable',
  'triggerable', 'undeletable', 'updateable',
] as const;

/** One object's entry in describe global (also `objectDescribe` of basic info). */
export function globalEntry(org: Org, table: Table, version: string): Record<string, unknown> {
  const d = table.schema.describe;
  const out: Record<string, unknown> = {};
  for (const k of GLOBAL_KEYS) out[k] = d[k] ?? null;
  out['urls'] = objectUrls(org, table, version);
  return out;
}

/** The full describe for a version: the stored describe with `urls` (and record type urls) for that version. */
export function describeFor(org: Org, table: Table, version: string): Record<string, unknown> {
  const d = table.schema.describe;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(d)) {
    if (k === 'urls') out[k] = objectUrls(org, table, version);
    else if (k === 'recordTypeInfos' && Array.isArray(v)) {
      out[k] = v.map((rt: Record<string, unknown>) => ({
        ...rt,
        urls: { layout: `/services/data/v${version}/sobjects/${table.schema.name}/describe/layouts/${String(rt['recordTypeId'])}` },
      }));
    } else out[k] = v;
  }
  return out;
}

/** 304 when the client's copy (`If-Modified-Since`) is at least as new as the metadata. */
function notModified(req: EmuRequest): boolean {
  const h = req.headers['if-modified-since'];
  if (typeof h !== 'string') return false;
  const t = Date.parse(h);
  return Number.isFinite(t) && t >= METADATA_LAST_MODIFIED;
}

function tableOr404(org: Org, name: string | undefined): Table {
  const table = name ? org.store.table(name) : undefined;
  if (!table) throw notFound();
  return table;
}

/** Daily/hourly limits as a Developer/Enterprise org reports them; API requests and Bulk jobs and batches from the org's counters. */
export function limitsBody(org: Org): Record<string, unknown> {
  const ml = (max: number, remaining = max): { Max: number; Remaining: number } => ({ Max: max, Remaining: remaining });
  let records = 0;
  for (const t of org.store.tables()) records += t.count(true);
  // Salesforce counts most records as 2 KB of data storage.
  const dataMb = Math.ceil((records * 2) / 1024);
  return {
    ActiveScratchOrgs: ml(3),
    AnalyticsExternalDataSizeMB: ml(40960),
    ConcurrentAsyncGetReportInstances: ml(200),
    ConcurrentEinsteinDataInsightsStoryCreation: ml(5),
    ConcurrentEinsteinDiscoveryStoryCreation: ml(2),
    ConcurrentSyncReportRuns: ml(20),
    DailyAnalyticsDataflowJobExecutions: ml(60),
    DailyAnalyticsUploadedFilesSizeMB: ml(51200),
    DailyApiRequests: org.limits.requests.entry(),
    DailyAsyncApexExecutions: ml(250000),
    DailyAsyncApexTests: ml(500),
    DailyBulkApiBatches: org.limits.bulkBatches.entry(),
    DailyBulkV2QueryFileStorageMB: ml(976562),
    DailyBulkV2QueryJobs: org.limits.bulkQueryJobs.entry(),
    DailyDeliveredPlatformEvents: ml(10000),
    DailyDurableGenericStreamingApiEvents: ml(10000),
    DailyDurableStreamingApiEvents: ml(10000),
    DailyEinsteinDataInsightsStoryCreation: ml(1000),
    DailyEinsteinDiscoveryPredictAPICalls: ml(50000),
    DailyEinsteinDiscoveryPredictionsByCDC: ml(500000),
    DailyEinsteinDiscoveryStoryCreation: ml(100),
    DailyFunctionsApiCallLimit: ml(235000),
    DailyGenericStreamingApiEvents: ml(10000),
    DailyScratchOrgs: ml(6),
    DailyStandardVolumePlatformEvents: ml(10000),
    DailyStreamingApiEvents: ml(10000),
    DailyWorkflowEmails: ml(390),
    DataStorageMB: ml(1024, 1024 - dataMb),
    DurableStreamingApiConcurrentClients: ml(20),
    FileStorageMB: ml(20480, 20480),
    HourlyAsyncReportRuns: ml(1200),
    HourlyDashboardRefreshes: ml(200),
    HourlyDashboardResults: ml(5000),
    HourlyDashboardStatuses: ml(999999999),
    HourlyLongTermIdMapping: ml(100000),
    HourlyManagedContentPublicRequests: ml(50000),
    HourlyODataCallout: ml(10000),
    HourlyPublishedPlatformEvents: ml(50000),
    HourlyPublishedStandardVolumePlatformEvents: ml(1000),
    HourlyShortTermIdMapping: ml(100000),
    HourlySyncReportRuns: ml(500),
    HourlyTimeBasedWorkflow: ml(50),
    MassEmail: ml(10),
    MonthlyEinsteinDiscoveryStoryCreation: ml(500),
    MonthlyPlatformEventsUsageEntitlement: ml(0),
    Package2VersionCreates: ml(6),
    Package2VersionCreatesWithoutValidation: ml(500),
    PermissionTypes: ml(30000),
    PrivateConnectOutboundCalloutHourlyLimitMB: ml(0),
    PublishCallbackUsageInApex: ml(5000000),
    SingleEmail: ml(15),
    StreamingApiConcurrentClients: ml(20),
  };
}

/** Up to 25 recently viewed records of the object (basic info `recentItems`). Generated tables report none. */
function recentItems(table: Table, version: string): Record<string, unknown>[] {
  if (table.generated || !table.schema.field('LastViewedDate')) return [];
  const viewed: { at: string; rec: Record<string, unknown> }[] = [];
  const nameField = table.schema.fields.find((f) => f.nameField)?.name;
  for (const r of table.scan(false)) {
    const at = r['LastViewedDate'];
    if (typeof at !== 'string') continue;
    const item: Record<string, unknown> = { attributes: attributes(table.schema.name, r['Id'] ?? null, version), Id: r['Id'] ?? null };
    if (nameField) item[nameField] = r[nameField] ?? null;
    viewed.push({ at, rec: item });
  }
  viewed.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
  return viewed.slice(0, 25).map((v) => v.rec);
}

function send304(): SfHttpError {
  return new SfHttpError(304, '');
}

export function registerMetaRoutes(router: OrgRouter): void {
  router.add('GET', '/services/data', { group: 'rest', auth: false, countsAsApiCall: false }, (_req, res: ServerResponse) => {
    sendJson(res, 200, versions());
  });
  router.add('GET', '/services/data/:version', { group: 'rest' }, (req, res, { org }) => {
    sendJson(res, 200, resourcesByVersion(org, req.version ?? '', req.session?.userId ?? org.auth.defaultUser.userId));
  });
  router.add('GET', '/services/data/:version/sobjects', { group: 'rest' }, (req, res, { org }) => {
    if (notModified(req)) throw send304();
    const version = req.version ?? '';
    const sobjects = [...org.store.tables()]
      .sort((a, b) => a.schema.name.localeCompare(b.schema.name))
      .map((t) => globalEntry(org, t, version));
    sendJson(res, 200, { encoding: 'UTF-8', maxBatchSize: 200, sobjects });
  });
  router.add('GET', '/services/data/:version/sobjects/:object/describe', { group: 'rest' }, (req, res, { org }) => {
    const table = tableOr404(org, req.params['object']);
    if (notModified(req)) throw send304();
    sendJson(res, 200, describeFor(org, table, req.version ?? ''));
  });
  router.add('GET', '/services/data/:version/sobjects/:object', { group: 'rest' }, (req, res, { org }) => {
    const table = tableOr404(org, req.params['object']);
    const version = req.version ?? '';
    sendJson(res, 200, { objectDescribe: globalEntry(org, table, version), recentItems: recentItems(table, version) });
  });
  router.add('GET', '/services/data/:version/limits', { group: 'rest' }, (_req, res, { org }) => {
    sendJson(res, 200, limitsBody(org));
  });
}
