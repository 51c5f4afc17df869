/**
 * Writes the seed org: fixtures/org/describe/<Object>.json (full describes) and
 * fixtures/org/records/<Object>.json (deterministic records from a seeded PRNG).
 *
 *   node --import tsx scripts/make-seed.ts
 *
 * Account's describe is the real recorded v48 describe (fixtures/org/source/account-describe.v48.json),
 * trimmed of the recording org's package fields and given External_Id__c; the others come from
 * src/emulator/org/objects.ts through describe-builder.ts.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDescribe, buildField, childRelationshipsOf } from '../src/emulator/org/describe-builder.ts';
import { OBJECT_SPECS, OPPORTUNITY_STAGES } from '../src/emulator/org/objects.ts';
import { ObjectSchema, type DescribeField, type SObjectDescribe } from '../src/emulator/org/schema.ts';
import { Deriver } from '../src/emulator/org/derived.ts';
import { makeId } from '../src/emulator/ids.ts';
import type { StoredValue } from '../src/emulator/org/store.ts';
import { ADDRESSES, COMPANY_PARTS, FIRST_NAMES, LAST_NAMES, TITLES, WORDS } from './seed-vocabulary.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'fixtures/org');

// ---------- PRNG (mulberry32) ----------
let state = 0x5eed2024;
function rand(): number {
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
const chance = (p: number): boolean => rand() < p;
const maybe = <T>(p: number, v: () => T): T | null => (chance(p) ? v() : null);
const round = (v: number, scale: number): number => Math.round(v * 10 ** scale) / 10 ** scale;

// ---------- Describes ----------
const DROP_ACCOUNT_FIELDS = new Set(['RecordTypeId', 'Primary_Contact__c', 'ns__Description__c', 'History__c', 'ns__LinkedAccount__c']);
const recorded = JSON.parse(readFileSync(join(out, 'source/account-describe.v48.json'), 'utf8')) as SObjectDescribe;
const accountFields: DescribeField[] = recorded.fields
  .filter((f) => !DROP_ACCOUNT_FIELDS.has(f.name))
  // A standard (not Person Account) org: Name is a plain text name field.
  .map((f) => (f.name === 'Name' ? { ...f, compoundFieldName: null, extraTypeInfo: null } : f));
accountFields.push(
  buildField({ name: 'External_Id__c', type: 'string', label: 'External Id', length: 50, externalId: true, unique: true, idLookup: true }),
);
const accountTop: Record<string, unknown> = { ...recorded, fields: accountFields, urls: {} };
accountTop['recordTypeInfos'] = [
  {
    active: true, available: true, defaultRecordTypeMapping: true, developerName: 'Master', master: true, name: 'Master',
    recordTypeId: '012000000000000AAA', urls: { layout: '/services/data/v{version}/sobjects/Account/describe/layouts/012000000000000AAA' },
  },
];

const describes: Record<string, unknown>[] = [accountTop, ...OBJECT_SPECS.map((s) => buildDescribe(s, []) as Record<string, unknown>)];
const plain = describes.map((d) => ({ name: d['name'] as string, fields: d['fields'] as DescribeField[] }));
for (const d of describes) d['childRelationships'] = childRelationshipsOf(d['name'] as string, plain);

mkdirSync(join(out, 'describe'), { recursive: true });
mkdirSync(join(out, 'records'), { recursive: true });
const schemas = new Map<string, ObjectSchema>();
for (const d of describes) {
  writeFileSync(join(out, 'describe', `${String(d['name'])}.json`), `${JSON.stringify(d, null, 1)}\n`);
  schemas.set(d['name'] as string, new ObjectSchema(d as unknown as SObjectDescribe));
}

// ---------- Records ----------
type Rec = Record<string, StoredValue>;
const records = new Map<string, Rec[]>();
const START = Date.parse('2023-01-02T08:00:00.000Z');
const SPAN = Date.parse('2024-06-28T18:00:00.000Z') - START;
const iso = (ms: number): string => new Date(ms).toISOString();
const day = (ms: number): string => iso(ms).slice(0, 10);

function finish(objectName: string, rows: Rec[], userIds: readonly string[]): void {
  const schema = schemas.get(objectName);
  if (!schema) throw new Error(objectName);
  const deriver = new Deriver(schema);
  const prefix = schema.keyPrefix;
  rows.forEach((r, i) => {
    const created = START + Math.floor(((i + rand() * 0.9) / rows.length) * SPAN);
    const modified = chance(0.3) ? created : created + int(60_000, 90 * 86_400_000);
    const full: Rec = {};
    for (const f of schema.fields) if (!schema.isCompound(f)) full[f.name] = null;
    Object.assign(full, {
      Id: makeId(prefix, i + 1),
      IsDeleted: false,
      CreatedDate: iso(created),
      CreatedById: userIds[0] ?? null,
      LastModifiedDate: iso(modified),
      LastModifiedById: chance(0.8) ? (userIds[0] ?? null) : pick(userIds),
      SystemModstamp: iso(modified + int(0, 5000)),
    });
    if (schema.field('OwnerId')) full['OwnerId'] = chance(0.6) ? (userIds[0] ?? null) : pick(userIds);
    if (schema.field('LastViewedDate')) full['LastViewedDate'] = maybe(0.1, () => iso(modified + int(0, 86_400_000)));
    if (schema.field('LastReferencedDate')) full['LastReferencedDate'] = full['LastViewedDate'] ?? null;
    for (const [k, v] of Object.entries(r)) {
      const f = schema.field(k);
      if (!f) throw new Error(`${objectName}.${k} is not in the describe`);
      full[f.name] = v;
    }
    deriver.apply(full);
    rows[i] = full;
  });
  records.set(objectName, rows);
}

function personName(): { first: string | null; last: string } {
  return { first: maybe(0.95, () => pick(FIRST_NAMES)), last: pick(LAST_NAMES) };
}
function emailOf(first: string | null, last: string, domain: string): string {
  const local = `${first ?? 'info'}.${last}`.normalize('NFKD').replace(/[^A-Za-z0-9.]/g, '').toLowerCase().replace(/^\.+|\.+$/g, '') || 'contact';
  return `${local}${int(1, 999)}@${domain}`;
}
function phoneNumber(country: string | null): string {
  if (country === 'Japan') return `+81 3-${int(1000, 9999)}-${int(1000, 9999)}`;
  if (country === 'France') return `+33 1 ${int(10, 99)} ${int(10, 99)} ${int(10, 99)} ${int(10, 99)}`;
  if (country === 'Germany') return `+49 30 ${int(1000000, 9999999)}`;
  if (country === 'United Kingdom') return `+44 20 ${int(1000, 9999)} ${int(1000, 9999)}`;
  return `(${int(201, 989)}) ${int(200, 999)}-${int(1000, 9999)}`;
}
function address(prefix: string, p = 0.92): Rec {
  if (!chance(p)) return {};
  const a = pick(ADDRESSES);
  const street = chance(0.1) ? `${int(1, 9999)} ${a.street}\nSuite ${int(100, 999)}` : `${int(1, 9999)} ${a.street}`;
  const geocoded = chance(0.5);
  const jitter = (): number => (rand() - 0.5) * 0.05;
  return {
    [`${prefix}Street`]: street,
    [`${prefix}City`]: a.city,
    [`${prefix}State`]: a.state,
    [`${prefix}PostalCode`]: a.postalCode,
    [`${prefix}Country`]: a.country,
    [`${prefix}Latitude`]: geocoded ? round(a.lat + jitter(), 6) : null,
    [`${prefix}Longitude`]: geocoded ? round(a.lng + jitter(), 6) : null,
    [`${prefix}GeocodeAccuracy`]: geocoded ? pick(['Address', 'Street', 'Zip', 'City']) : null,
  };
}
function sentence(minWords: number, maxWords: number): string {
  const n = int(minWords, maxWords);
  const words: string[] = [];
  for (let i = 0; i < n; i++) words.push(pick(WORDS));
  const s = words.join(' ');
  return s.charAt(0).toUpperCase() + s.slice(1) + '.';
}
function picklist(objectName: string, field: string): string {
  const f = schemas.get(objectName)?.field(field);
  return pick(f?.picklistValues.map((v) => v.value) ?? ['?']);
}

// Users (the default user first).
const USERS = [
  { FirstName: 'Ada', LastName: 'Admin', Username: 'admin@forceflow.emulator', Email: 'admin@forceflow.emulator', Alias: 'aadmin', Title: 'System Administrator' },
  { FirstName: 'Bruno', LastName: 'Sánchez', Username: 'bruno.sanchez@forceflow.emulator', Email: 'bruno.sanchez@example.com', Alias: 'bsanc', Title: 'Account Executive' },
  { FirstName: 'Chiyo', LastName: '佐藤', Username: 'chiyo.sato@forceflow.emulator', Email: 'chiyo.sato@example.jp', Alias: 'csato', Title: 'Sales Manager' },
  { FirstName: 'Dmitri', LastName: 'Ivanov', Username: 'dmitri.ivanov@forceflow.emulator', Email: 'dmitri@example.com', Alias: 'divan', Title: 'Sales Engineer' },
  { FirstName: 'Émilie', LastName: 'Lefèvre', Username: 'emilie.lefevre@forceflow.emulator', Email: 'emilie@example.fr', Alias: 'elefe', Title: 'Account Executive' },
  { FirstName: 'Integration', LastName: 'User', Username: 'integration@forceflow.emulator', Email: 'integration@forceflow.emulator', Alias: 'integ', Title: null },
];
const userIds = USERS.map((_, i) => makeId('005', i + 1));
finish(
  'User',
  USERS.map((u, i): Rec => ({
    ...u,
    CommunityNickname: u.Alias,
    CompanyName: 'Forceflow Emulator',
    Department: i === 0 ? 'IT' : i === 5 ? null : 'Sales',
    IsActive: i !== 3,
    TimeZoneSidKey: i === 2 ? 'Asia/Tokyo' : i === 4 ? 'Europe/Paris' : 'America/Los_Angeles',
    LocaleSidKey: i === 2 ? 'ja_JP' : i === 4 ? 'fr_FR' : 'en_US',
    EmailEncodingKey: 'UTF-8',
    LanguageLocaleKey: i === 2 ? 'ja' : i === 4 ? 'fr' : 'en_US',
    ProfileId: i === 0 || i === 5 ? makeId('00e', 1) : makeId('00e', 2),
    UserType: 'Standard',
    ManagerId: i === 1 || i === 3 ? (userIds[2] ?? null) : null,
    LastLoginDate: i === 3 ? null : iso(START + SPAN + i * 3_600_000),
  })),
  userIds,
);
// Audit fields of users point to the admin; the admin created itself.

finish(
  'Organization',
  [
    {
      Name: 'Forceflow Emulator Org',
      Street: '415 Mission Street', City: 'San Francisco', State: 'CA', PostalCode: '94105', Country: 'United States',
      Phone: '(415) 555-0100', PrimaryContact: 'Ada Admin', DefaultLocaleSidKey: 'en_US', TimeZoneSidKey: 'America/Los_Angeles',
      LanguageLocaleKey: 'en_US', FiscalYearStartMonth: 1, InstanceName: 'EMU1', IsSandbox: false, TrialExpirationDate: null,
      OrganizationType: 'Developer Edition', NamespacePrefix: null,
    },
  ],
  userIds,
);

// Accounts: names with accents, CJK, emoji, commas, quotes and newlines; billing/shipping addresses; nulls.
const ACCOUNTS = 1000;
const usedNames = new Set<string>();
function companyName(i: number): string {
  for (;;) {
    const kind = rand();
    let n: string;
    if (kind < 0.55) n = `${pick(COMPANY_PARTS.first)} ${pick(COMPANY_PARTS.second)}${chance(0.5) ? ` ${pick(COMPANY_PARTS.suffix)}` : ''}`;
    else if (kind < 0.7) n = `${pick(LAST_NAMES)} & ${pick(LAST_NAMES)}`;
    else if (kind < 0.78) n = `${pick(COMPANY_PARTS.cjk)}`;
    else if (kind < 0.84) n = `${pick(COMPANY_PARTS.first)} ${pick(COMPANY_PARTS.second)}, ${pick(['Inc.', 'LLC', 'Ltd.', 'S.A.'])}`;
    else if (kind < 0.88) n = `"${pick(COMPANY_PARTS.first)}" ${pick(COMPANY_PARTS.second)}`;
    else if (kind < 0.92) n = `${pick(COMPANY_PARTS.first)} ${pick(COMPANY_PARTS.emoji)} ${pick(COMPANY_PARTS.second)}`;
    else n = `${pick(LAST_NAMES)} ${pick(COMPANY_PARTS.second)} ${pick(COMPANY_PARTS.suffix)}`;
    if (!usedNames.has(n) || i % 97 === 0) {
      usedNames.add(n);
      return n;
    }
  }
}
const accounts: Rec[] = [];
for (let i = 0; i < ACCOUNTS; i++) {
  const billing = address('Billing');
  const shipping = chance(0.4) ? { ...billing } : address('Shipping', 0.5);
  const ship: Rec = {};
  for (const [k, v] of Object.entries(shipping)) ship[k.replace(/^Billing/, 'Shipping')] = v;
  const name = companyName(i);
  const domain = name.normalize('NFKD').replace(/[^A-Za-z0-9]/g, '').toLowerCase().slice(0, 20) || `acct${i}`;
  accounts.push({
    Name: name,
    Type: maybe(0.8, () => picklist('Account', 'Type')),
    ParentId: i > 50 && chance(0.05) ? makeId('001', int(1, 50)) : null,
    ...billing,
    ...ship,
    Phone: maybe(0.85, () => phoneNumber((billing['BillingCountry'] as string | undefined) ?? null)),
    Fax: maybe(0.2, () => phoneNumber((billing['BillingCountry'] as string | undefined) ?? null)),
    AccountNumber: maybe(0.6, () => `CD${int(100000, 999999)}`),
    Website: maybe(0.7, () => `https://www.${domain}.example.com`),
    Sic: maybe(0.3, () => String(int(1000, 9999))),
    Industry: maybe(0.75, () => picklist('Account', 'Industry')),
    AnnualRevenue: maybe(0.6, () => int(1, 5000) * 100_000),
    NumberOfEmployees: maybe(0.7, () => int(1, 250_000)),
    Ownership: maybe(0.4, () => picklist('Account', 'Ownership')),
    TickerSymbol: maybe(0.1, () => domain.slice(0, 4).toUpperCase() || 'TCKR'),
    Description: maybe(0.35, () => (chance(0.2) ? `${sentence(5, 15)}\n${sentence(5, 25)}\n"Key account", per ${pick(LAST_NAMES)}.` : sentence(6, 40))),
    Rating: maybe(0.5, () => picklist('Account', 'Rating')),
    Site: maybe(0.2, () => pick(['HQ', 'Branch', 'Plant', 'Warehouse', 'Remote'])),
    IsPartner: false,
    IsCustomerPortal: false,
    AccountSource: maybe(0.5, () => picklist('Account', 'AccountSource')),
    CleanStatus: chance(0.9) ? 'Pending' : picklist('Account', 'CleanStatus'),
    YearStarted: maybe(0.3, () => String(int(1850, 2023))),
    External_Id__c: i % 5 === 4 ? null : `ACME-${String(i + 1).padStart(6, '0')}`,
    LastActivityDate: maybe(0.3, () => day(START + rand() * SPAN)),
  });
}
finish('Account', accounts, userIds);
const accountIds = accounts.map((a) => a['Id'] as string);
const accountOf = (i: number): Rec => accounts[i] as Rec;

// Contacts
const contacts: Rec[] = [];
for (let i = 0; i < 1500; i++) {
  const { first, last } = personName();
  const ai = chance(0.92) ? int(0, ACCOUNTS - 1) : -1;
  const acct = ai >= 0 ? accountOf(ai) : undefined;
  const mailing: Rec = {};
  if (acct && chance(0.8)) for (const k of ['Street', 'City', 'State', 'PostalCode', 'Country', 'Latitude', 'Longitude', 'GeocodeAccuracy']) mailing[`Mailing${k}`] = acct[`Billing${k}`] ?? null;
  else Object.assign(mailing, address('Mailing', 0.6));
  contacts.push({
    AccountId: acct ? (acct['Id'] as string) : null,
    FirstName: first,
    LastName: chance(0.01) ? `${last}, Jr.` : last,
    Salutation: maybe(0.4, () => picklist('Contact', 'Salutation')),
    ...mailing,
    ...(chance(0.1) ? address('Other') : {}),
    Phone: maybe(0.8, () => phoneNumber((mailing['MailingCountry'] as string | undefined) ?? null)),
    MobilePhone: maybe(0.5, () => phoneNumber((mailing['MailingCountry'] as string | undefined) ?? null)),
    Email: maybe(0.9, () => emailOf(first, last, acct ? String(acct['Website'] ?? 'example.com').replace(/^https:\/\/www\./, '') : 'example.org')),
    Title: maybe(0.7, () => pick(TITLES)),
    Department: maybe(0.4, () => pick(['Sales', 'Finance', 'Engineering', 'Operations', 'Marketing', 'Legal', 'R&D'])),
    LeadSource: maybe(0.5, () => picklist('Contact', 'LeadSource')),
    Birthdate: maybe(0.3, () => day(Date.parse('1950-01-01') + rand() * 50 * 365 * 86_400_000)),
    Description: maybe(0.15, () => (chance(0.3) ? `Met at "${pick(WORDS)} summit", 2023.\nFollow up: ${sentence(3, 8)}` : sentence(4, 20))),
    HasOptedOutOfEmail: chance(0.1),
    DoNotCall: chance(0.05),
    CleanStatus: 'Pending',
  });
}
finish('Contact', contacts, userIds);
contacts.forEach((c, i) => {
  if (i > 10 && chance(0.05)) {
    const mgr = contacts[int(0, i - 1)] as Rec;
    if (mgr['AccountId'] === c['AccountId']) c['ReportsToId'] = mgr['Id'] as string;
  }
});

// Opportunities
const opps: Rec[] = [];
for (let i = 0; i < 800; i++) {
  const acct = accountOf(int(0, ACCOUNTS - 1));
  const stage = pick(OPPORTUNITY_STAGES);
  opps.push({
    AccountId: chance(0.97) ? (acct['Id'] as string) : null,
    Name: `${String(acct['Name']).split('\n')[0]} - ${pick(['Renewal', 'Expansion', 'New Business', 'Upgrade', 'Services', 'Pilot'])}`,
    StageName: stage,
    Amount: maybe(0.9, () => round(int(500, 2_000_000) + rand(), 2)),
    CloseDate: day(START + rand() * (SPAN + 180 * 86_400_000)),
    Type: maybe(0.7, () => picklist('Opportunity', 'Type')),
    NextStep: maybe(0.4, () => sentence(2, 6)),
    LeadSource: maybe(0.5, () => picklist('Opportunity', 'LeadSource')),
    TotalOpportunityQuantity: maybe(0.3, () => int(1, 500)),
    IsPrivate: chance(0.02),
    Description: maybe(0.2, () => sentence(5, 30)),
    HasOpportunityLineItem: false,
  });
}
finish('Opportunity', opps, userIds);

// Leads
const leads: Rec[] = [];
for (let i = 0; i < 500; i++) {
  const { first, last } = personName();
  const company = chance(0.9) ? companyName(i + 7) : '[not provided]';
  const addr = address('', 0.7);
  leads.push({
    FirstName: first,
    LastName: last,
    Salutation: maybe(0.3, () => picklist('Lead', 'Salutation')),
    Title: maybe(0.6, () => pick(TITLES)),
    Company: company,
    ...addr,
    Phone: maybe(0.7, () => phoneNumber((addr['Country'] as string | undefined) ?? null)),
    Email: maybe(0.85, () => emailOf(first, last, 'example.net')),
    Website: maybe(0.3, () => `https://${last.normalize('NFKD').replace(/[^A-Za-z]/g, '').toLowerCase() || 'lead'}.example.net`),
    Description: maybe(0.2, () => sentence(3, 25)),
    LeadSource: maybe(0.7, () => picklist('Lead', 'LeadSource')),
    Status: pick(['Open - Not Contacted', 'Open - Not Contacted', 'Working - Contacted', 'Closed - Not Converted']),
    Industry: maybe(0.5, () => picklist('Lead', 'Industry')),
    Rating: maybe(0.4, () => picklist('Lead', 'Rating')),
    AnnualRevenue: maybe(0.3, () => int(1, 900) * 100_000),
    NumberOfEmployees: maybe(0.4, () => int(1, 20_000)),
    IsConverted: false,
    IsUnreadByOwner: chance(0.3),
    CleanStatus: 'Pending',
  });
}
finish('Lead', leads, userIds);

// Invoices
const invoices: Rec[] = [];
const TAGS = ['Priority', 'Recurring', 'Disputed', 'Export', 'Tax Exempt'];
for (let i = 0; i < 600; i++) {
  const ai = int(0, ACCOUNTS - 1);
  const acct = accountOf(ai);
  const status = pick(['Draft', 'Sent', 'Sent', 'Paid', 'Paid', 'Paid', 'Overdue', 'Void']);
  const invDate = START + rand() * SPAN;
  const tags = TAGS.filter(() => chance(0.2));
  const lat = acct['BillingLatitude'];
  invoices.push({
    Name: `INV-${String(i + 1).padStart(5, '0')}`,
    External_Id__c: `INV-EXT-${String(i + 1).padStart(5, '0')}`,
    Account__c: chance(0.95) ? (acct['Id'] as string) : null,
    Amount__c: maybe(0.95, () => round(int(10, 250_000) + rand(), 2)),
    Tax_Rate__c: maybe(0.8, () => pick([0, 5.5, 7.25, 8.875, 10, 19, 20])),
    Exchange_Rate__c: maybe(0.5, () => round(0.5 + rand() * 1.5, 6)),
    Line_Count__c: maybe(0.9, () => int(1, 60)),
    Invoice_Date__c: day(invDate),
    Paid_At__c: status === 'Paid' ? iso(invDate + int(1, 60) * 86_400_000 + int(0, 86_399_999)) : null,
    Reminder_Time__c: maybe(0.4, () => `${String(int(7, 18)).padStart(2, '0')}:${pick(['00', '15', '30', '45'])}:00.000Z`),
    Is_Paid__c: status === 'Paid',
    Status__c: status,
    Tags__c: tags.length > 0 ? tags.join(';') : null,
    Notes__c: maybe(0.3, () => (chance(0.3) ? `Line 1: ${sentence(3, 8)}\nLine 2, "quoted": ${sentence(2, 6)}\n✅ ok` : sentence(5, 60))),
    Billing_Email__c: maybe(0.7, () => `billing${i + 1}@${String(acct['Website'] ?? 'https://www.example.com').replace(/^https:\/\/www\./, '')}`),
    Portal_Url__c: maybe(0.4, () => `https://portal.example.com/invoices/${i + 1}`),
    Contact_Phone__c: maybe(0.5, () => phoneNumber((acct['BillingCountry'] as string | null) ?? null)),
    Location__Latitude__s: typeof lat === 'number' && chance(0.7) ? round(lat, 6) : null,
    Location__Longitude__s: null,
  });
  const inv = invoices[invoices.length - 1] as Rec;
  if (inv['Location__Latitude__s'] !== null) inv['Location__Longitude__s'] = round(acct['BillingLongitude'] as number, 6);
}
finish('Invoice__c', invoices, userIds);

// Invoice lines (after every other object, so the records above keep their random draws).
const lines: Rec[] = [];
for (let i = 0; i < 900; i++) {
  const inv = invoices[int(0, invoices.length - 1)] as Rec;
  lines.push({
    Name: `LINE-${String(i + 1).padStart(5, '0')}`,
    Invoice__c: inv['Id'] as string,
    Quantity__c: maybe(0.95, () => int(1, 40)),
    Unit_Price__c: maybe(0.95, () => round(int(1, 5000) + rand(), 2)),
  });
}
finish('Invoice_Line__c', lines, userIds);

// A few soft-deleted records, so that queryAll has something to find.
for (const [obj, idx] of [['Account', [13, 207, 555]], ['Contact', [42, 777, 1201]], ['Opportunity', [99]], ['Lead', [8, 300]], ['Invoice__c', [17]]] as const) {
  for (const i of idx) {
    const r = (records.get(obj) as Rec[])[i] as Rec;
    r['IsDeleted'] = true;
    r['LastModifiedDate'] = iso(START + SPAN + 86_400_000 + i * 1000);
    r['SystemModstamp'] = r['LastModifiedDate'];
  }
}

let total = 0;
for (const [name, rows] of records) {
  total += rows.length;
  writeFileSync(join(out, 'records', `${name}.json`), `[\n${rows.map((r) => JSON.stringify(r)).join(',\n')}\n]\n`);
}
console.log(`wrote ${describes.length} describes and ${total} records to ${out}`);
void accountIds;
