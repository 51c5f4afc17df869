import { describe, expect, it } from 'vitest';
import { buildEmulator, type Org } from '../../src/emulator/index.ts';
import { ObjectSchema, type DescribeField, type SfFieldType } from '../../src/emulator/org/schema.ts';
import { MemoryTable } from '../../src/emulator/org/store.ts';
import { applyMixedWrites, applyWrites, checkColumns, type WriteRequest } from '../../src/emulator/org/dml.ts';
import { SfHttpError } from '../../src/emulator/errors.ts';

/** A full describe field with a real org's defaults; tests override what matters. */
function field(name: string, type: SfFieldType, extra: Partial<DescribeField> = {}): DescribeField {
  return {
    aggregatable: true, aiPredictionField: false, autoNumber: false, byteLength: 0, calculated: false, calculatedFormula: null,
    cascadeDelete: false, caseSensitive: false, compoundFieldName: null, controllerName: null, createable: true, custom: true,
    defaultValue: null, defaultValueFormula: null, defaultedOnCreate: false, dependentPicklist: false, deprecatedAndHidden: false,
    digits: 0, displayLocationInDecimal: false, encrypted: false, externalId: false, extraTypeInfo: null, filterable: true,
    filteredLookupInfo: null, formulaTreatNullNumberAsZero: false, groupable: true, highScaleNumber: false, htmlFormatted: false,
    idLookup: false, inlineHelpText: null, label: name.replace(/__c$/, '').replace(/_/g, ' '), length: 0, mask: null, maskType: null,
    name, nameField: false, namePointing: false, nillable: true, permissionable: true, picklistValues: [], polymorphicForeignKey: false,
    precision: 0, queryByDistance: false, referenceTargetField: null, referenceTo: [], relationshipName: null, relationshipOrder: null,
    restrictedDelete: false, restrictedPicklist: false, scale: 0, searchPrefilterable: false, soapType: 'xsd:string', sortable: true,
    type, unique: false, updateable: true, writeRequiresMasterRead: false, ...extra,
  };
}

const sysFields = (): DescribeField[] => [
  field('Id', 'id', { createable: false, updateable: false, nillable: false, defaultedOnCreate: true, idLookup: true, custom: false, length: 18, soapType: 'tns:ID' }),
  field('IsDeleted', 'boolean', { createable: false, updateable: false, nillable: false, defaultedOnCreate: true, custom: false }),
  field('OwnerId', 'reference', { nillable: false, defaultedOnCreate: true, referenceTo: ['User'], relationshipName: 'Owner', custom: false, label: 'Owner ID' }),
  field('CreatedDate', 'datetime', { createable: false, updateable: false, nillable: false, defaultedOnCreate: true, custom: false }),
  field('CreatedById', 'reference', { createable: false, updateable: false, nillable: false, defaultedOnCreate: true, referenceTo: ['User'], relationshipName: 'CreatedBy', custom: false }),
  field('LastModifiedDate', 'datetime', { createable: false, updateable: false, nillable: false, defaultedOnCreate: true, custom: false }),
  field('LastModifiedById', 'reference', { createable: false, updateable: false, nillable: false, defaultedOnCreate: true, referenceTo: ['User'], relationshipName: 'LastModifiedBy', custom: false }),
  field('SystemModstamp', 'datetime', { createable: false, updateable: false, nillable: false, defaultedOnCreate: true, custom: false }),
];

const pick = (values: string[]) => values.map((v) => ({ active: true, defaultValue: v === 'Warm', label: v, validFor: null, value: v }));

function schema(name: string, keyPrefix: string, fields: DescribeField[]): ObjectSchema {
  return new ObjectSchema({
    name, label: name.replace(/__c$/, ''), labelPlural: name, keyPrefix, custom: true, createable: true, updateable: true, deletable: true,
    queryable: true, fields: [...sysFields(), ...fields], childRelationships: [],
  });
}

function makeOrg(faults?: string): Org {
  const { org } = buildEmulator(faults ? { faults, seed: 1 } : {});
  const clock = () => Date.parse('2024-04-16T19:00:00.000Z');
  org.store.add(
    new MemoryTable(
      schema('Parent__c', 'a0X', [
        field('Name', 'string', { length: 20, nillable: false, nameField: true, custom: false, label: 'Parent Name' }),
        field('External_Id__c', 'string', { length: 40, externalId: true, idLookup: true, label: 'External Id' }),
        field('Code__c', 'string', { length: 10, idLookup: true, label: 'Code' }),
        field('Rating__c', 'picklist', { length: 40, restrictedPicklist: true, picklistValues: pick(['Hot', 'Warm', 'Cold']), label: 'Rating', defaultedOnCreate: true }),
        field('Email__c', 'email', { length: 80, label: 'Email' }),
        field('Amount__c', 'currency', { precision: 6, scale: 2, label: 'Amount', soapType: 'xsd:double' }),
        field('Count__c', 'int', { digits: 9, label: 'Count', soapType: 'xsd:int' }),
        field('Active__c', 'boolean', { nillable: false, defaultedOnCreate: true, defaultValue: false, label: 'Active', soapType: 'xsd:boolean' }),
        field('Start__c', 'date', { label: 'Start', soapType: 'xsd:date' }),
        field('When__c', 'datetime', { label: 'When', soapType: 'xsd:dateTime' }),
        field('Double__c', 'double', { calculated: true, createable: false, updateable: false, label: 'Double' }),
      ]),
      { clock },
    ),
  );
  org.store.add(
    new MemoryTable(
      schema('Child__c', 'a0Y', [
        field('Name', 'string', { length: 80, nillable: false, custom: false }),
        field('Parent__c', 'reference', { referenceTo: ['Parent__c'], relationshipName: 'Parent__r', label: 'Parent' }),
        field('Who__c', 'reference', { referenceTo: ['Parent__c', 'Child__c'], relationshipName: 'Who', polymorphicForeignKey: true, label: 'Who' }),
      ]),
      { clock },
    ),
  );
  return org;
}

const userOf = (org: Org) => org.auth.defaultUser.userId;
const json = (org: Org, r: Omit<WriteRequest, 'encoding' | 'userId'>) => applyWrites(org, { encoding: 'json', userId: userOf(org), ...r });
const csv = (org: Org, r: Omit<WriteRequest, 'encoding' | 'userId'>) => applyWrites(org, { encoding: 'csv', userId: userOf(org), ...r });
const table = (org: Org, name: string) => org.store.table(name) as MemoryTable;

describe('applyWrites: insert (json)', () => {
  it('inserts with canonical names, defaults, owner and normalised values', () => {
    const org = makeOrg();
    const [r] = json(org, {
      operation: 'insert',
      object: 'parent__c',
      rows: [{ attributes: { type: 'Parent__c' }, name: 'Acme', when__c: '2024-04-16T12:00:00.5-07:00', Amount__c: '12.345', Count__c: 7 }],
    });
    expect(r).toEqual({ id: expect.stringMatching(/^a0X5g0{9}1[A-Za-z0-9]{3}$/), success: true, errors: [] });
    const rec = table(org, 'Parent__c').get(r?.id as string);
    expect(rec).toMatchObject({
      Name: 'Acme', When__c: '2024-04-16T19:00:00.500Z', Amount__c: 12.35, Count__c: 7, Active__c: false, Rating__c: 'Warm',
      OwnerId: userOf(org), IsDeleted: false, CreatedById: userOf(org),
    });
  });

  it('reports required, length, picklist, email, read-only and unknown fields per record', () => {
    const org = makeOrg();
    const out = json(org, {
      operation: 'insert',
      object: 'Parent__c',
      rows: [
        { Code__c: 'x' },
        { Name: 'x'.repeat(21) },
        { Name: 'p', Rating__c: 'Terrible' },
        { Name: 'p', Email__c: 'not-an-email' },
        { Name: 'p', Double__c: 2, CreatedDate: '2024-01-01T00:00:00Z' },
        { Name: 'p', Nope__c: 1 },
        { Name: 'p', Start__c: '2024-02-30' },
        { Name: 'p', Amount__c: 12345.6 },
      ],
    });
    expect(out.map((o) => o.success)).toEqual([false, false, false, false, false, false, false, false]);
    expect(out.map((o) => 'id' in o)).toEqual(Array(8).fill(false));
    expect(out[0]?.errors).toEqual([{ statusCode: 'REQUIRED_FIELD_MISSING', message: 'Required fields are missing: [Name]', fields: ['Name'] }]);
    expect(out[1]?.errors[0]).toEqual({
      statusCode: 'STRING_TOO_LONG', message: `Parent Name: data value too large: ${'x'.repeat(21)} (max length=20)`, fields: ['Name'],
    });
    expect(out[2]?.errors[0]).toEqual({
      statusCode: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', message: 'Rating: bad value for restricted picklist field: Terrible', fields: ['Rating__c'],
    });
    expect(out[3]?.errors[0]?.statusCode).toBe('INVALID_EMAIL_ADDRESS');
    expect(out[4]?.errors[0]).toEqual({
      statusCode: 'INVALID_FIELD_FOR_INSERT_UPDATE',
      message: 'Unable to create/update fields: Double__c, CreatedDate. Please check the security settings of this field and verify that it is read/write for your profile or permission set.',
      fields: ['Double__c', 'CreatedDate'],
    });
    expect(out[5]?.errors[0]).toEqual({ statusCode: 'INVALID_FIELD', message: "No such column 'Nope__c' on sobject of type Parent__c", fields: [] });
    expect(out[6]?.errors[0]).toEqual({ statusCode: 'INVALID_TYPE_ON_FIELD_IN_RECORD', message: 'Start: value not of required type: 2024-02-30', fields: ['Start__c'] });
    expect(out[7]?.errors[0]?.statusCode).toBe('NUMBER_OUTSIDE_VALID_RANGE');
    expect(table(org, 'Parent__c').count(true)).toBe(0);
  });

  it('rejects a JSON value of the wrong type for the whole request, before writing', () => {
    const org = makeOrg();
    const body = '{"records":[{"Name":"ok"},{"Name":"b","Amount__c":"abc"}]}';
    let thrown: unknown;
    try {
      json(org, { operation: 'insert', object: 'Parent__c', rows: [{ Name: 'ok' }, { Name: 'b', Amount__c: 'abc' }], jsonText: body });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SfHttpError);
    const e = thrown as SfHttpError;
    expect(e.status).toBe(400);
    expect(e.body).toEqual([
      {
        message: `Cannot deserialize instance of double from VALUE_STRING value abc or request may be missing a required field at [line:1, column:${body.indexOf('"abc"') + 1}]`,
        errorCode: 'JSON_PARSER_ERROR',
      },
    ]);
    expect(table(org, 'Parent__c').count(true)).toBe(0);
  });

  it('enforces unique external ids with a 15-character id in the message', () => {
    const org = makeOrg();
    const out = json(org, { operation: 'insert', object: 'Parent__c', rows: [{ Name: 'a', External_Id__c: 'E1' }, { Name: 'b', External_Id__c: 'e1' }] });
    expect(out[0]?.success).toBe(true);
    expect(out[1]?.errors).toEqual([
      { statusCode: 'DUPLICATE_VALUE', message: `duplicate value found: External_Id__c duplicates value on record with id: ${out[0]?.id?.slice(0, 15)}`, fields: ['External_Id__c'] },
    ]);
  });

  it('refuses an Id on insert', () => {
    const org = makeOrg();
    const [r] = json(org, { operation: 'insert', object: 'Parent__c', rows: [{ Id: 'a0X5g0000000001', Name: 'x' }] });
    expect(r?.errors[0]).toMatchObject({ statusCode: 'INVALID_FIELD_FOR_INSERT_UPDATE', fields: ['Id'] });
  });
});

describe('applyWrites: references', () => {
  it('checks lookup ids and resolves parents by external id (json and csv)', () => {
    const org = makeOrg();
    const [p] = json(org, { operation: 'insert', object: 'Parent__c', rows: [{ Name: 'P', External_Id__c: 'P-1' }] });
    const pid = p?.id as string;
    const out = json(org, {
      operation: 'insert',
      object: 'Child__c',
      rows: [
        { Name: 'a', Parent__c: pid.slice(0, 15) },
        { Name: 'b', Parent__r: { External_Id__c: 'P-1' } },
        { Name: 'c', Parent__r: { External_Id__c: 'nope' } },
        { Name: 'd', Parent__c: 'garbage' },
        { Name: 'e', Parent__c: 'a0Y5g0000000001' },
        { Name: 'f', Parent__c: 'a0X5g00000000ZZ' },
      ],
    });
    const rows = table(org, 'Child__c');
    expect(rows.get(out[0]?.id as string)?.['Parent__c']).toBe(pid);
    expect(rows.get(out[1]?.id as string)?.['Parent__c']).toBe(pid);
    expect(out[2]?.errors[0]).toEqual({ statusCode: 'INVALID_FIELD', message: 'Foreign key external ID: nope not found for field External_Id__c in entity Parent__c', fields: [] });
    expect(out[3]?.errors[0]).toEqual({ statusCode: 'MALFORMED_ID', message: 'Parent: id value of incorrect type: garbage', fields: ['Parent__c'] });
    expect(out[4]?.errors[0]?.statusCode).toBe('MALFORMED_ID');
    expect(out[5]?.errors[0]).toEqual({ statusCode: 'INVALID_CROSS_REFERENCE_KEY', message: 'invalid cross reference id', fields: [] });

    const c = csv(org, {
      operation: 'insert',
      object: 'Child__c',
      header: ['Name', 'parent__r.external_id__c', 'Parent__c:Who.External_Id__c'],
      rows: [['x', 'P-1', 'p-1'], ['y', 'c9', '']],
    });
    expect(c[0]?.success).toBe(true);
    expect(rows.get(c[0]?.id as string)).toMatchObject({ Parent__c: pid, Who__c: pid });
    expect(c[1]?.errors[0]?.message).toBe('Foreign key external ID: c9 not found for field External_Id__c in entity Parent__c');
  });
});

describe('applyWrites: update, upsert, delete', () => {
  it('updates by id and reports missing, malformed and deleted targets', () => {
    const org = makeOrg();
    const ids = json(org, { operation: 'insert', object: 'Parent__c', rows: [{ Name: 'a' }, { Name: 'b' }] }).map((o) => o.id as string);
    json(org, { operation: 'delete', object: 'Parent__c', rows: [{ Id: ids[1] }] });
    const out = json(org, {
      operation: 'update',
      object: 'Parent__c',
      rows: [{ id: ids[0], name: 'A2', Count__c: null }, { Id: 'a0X5g00000000ZZ', Name: 'x' }, { Id: 'bad', Name: 'x' }, { Id: ids[1], Name: 'x' }, { Name: 'x' }, { Id: ids[0], Name: null }],
    });
    expect(out[0]).toEqual({ id: ids[0], success: true, errors: [] });
    expect(table(org, 'Parent__c').get(ids[0] as string)?.['Name']).toBe('A2');
    expect(out[1]?.errors[0]?.statusCode).toBe('INVALID_CROSS_REFERENCE_KEY');
    expect(out[2]?.errors[0]).toEqual({ statusCode: 'MALFORMED_ID', message: 'Record ID: id value of incorrect type: bad', fields: ['Id'] });
    expect(out[3]).toEqual({ id: ids[1], success: false, errors: [{ statusCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }] });
    expect(out[4]?.errors[0]?.statusCode).toBe('MISSING_ARGUMENT');
    expect(out[5]?.errors[0]).toMatchObject({ statusCode: 'REQUIRED_FIELD_MISSING', fields: ['Name'] });
  });

  it('upserts by external id, Id, and idLookup fields', () => {
    const org = makeOrg();
    const first = json(org, { operation: 'upsert', object: 'Parent__c', externalIdField: 'external_id__c', rows: [{ External_Id__c: 'U1', Name: 'one' }] });
    expect(first[0]).toMatchObject({ success: true, created: true });
    const again = json(org, { operation: 'upsert', object: 'Parent__c', externalIdField: 'External_Id__c', rows: [{ External_Id__c: 'u1', Name: 'uno' }, { Name: 'new' }] });
    expect(again[0]).toEqual({ id: first[0]?.id, success: true, errors: [], created: false });
    // A row without a key value is not created (Salesforce: MISSING_ARGUMENT "<field> not specified").
    expect(again[1]).toEqual({ success: false, errors: [{ statusCode: 'MISSING_ARGUMENT', message: 'External_Id__c not specified', fields: [] }] });
    expect(table(org, 'Parent__c').get(first[0]?.id as string)?.['Name']).toBe('uno');

    json(org, { operation: 'insert', object: 'Parent__c', rows: [{ Name: 'c1', Code__c: 'C' }, { Name: 'c2', Code__c: 'C' }] });
    const dup = json(org, { operation: 'upsert', object: 'Parent__c', externalIdField: 'Code__c', rows: [{ Code__c: 'C', Name: 'z' }] });
    expect(dup[0]?.errors[0]?.statusCode).toBe('DUPLICATE_EXTERNAL_ID');
    expect(dup[0]?.errors[0]?.message).toMatch(/^Code__c: more than one record found for external id field: \[a0X\w{15}, a0X\w{15}\]$/);

    const byId = json(org, { operation: 'upsert', object: 'Parent__c', externalIdField: 'Id', rows: [{ Id: first[0]?.id, Name: 'by id' }, { Name: 'no id' }] });
    expect(byId.map((o) => o.created)).toEqual([false, true]);

    const bad = json(org, { operation: 'upsert', object: 'Parent__c', externalIdField: 'Name', rows: [{ Name: 'x' }] });
    expect(bad[0]?.errors[0]).toEqual({ statusCode: 'INVALID_FIELD', message: 'Field name provided, Name is not an External ID or indexed field for Parent__c', fields: [] });
  });

  it('deletes into the recycle bin; hardDelete removes', () => {
    const org = makeOrg();
    const ids = json(org, { operation: 'insert', object: 'Parent__c', rows: [{ Name: 'a' }, { Name: 'b' }] }).map((o) => o.id as string);
    const t = table(org, 'Parent__c');
    expect(json(org, { operation: 'delete', object: 'Parent__c', rows: [{ Id: ids[0] }] })[0]).toEqual({ id: ids[0], success: true, errors: [] });
    expect(t.get(ids[0] as string)).toBeUndefined();
    expect(t.get(ids[0] as string, true)?.['IsDeleted']).toBe(true);
    expect(t.count(false)).toBe(1);
    expect(t.count(true)).toBe(2);
    expect(json(org, { operation: 'delete', object: 'Parent__c', rows: [{ Id: ids[0] }] })[0]?.errors[0]?.statusCode).toBe('ENTITY_IS_DELETED');
    // hardDelete also empties the recycle bin
    expect(csv(org, { operation: 'hardDelete', object: 'Parent__c', header: ['Id'], rows: [[ids[0] as string], [ids[1] as string]] }).map((o) => o.success)).toEqual([true, true]);
    expect(t.count(true)).toBe(0);
  });

  it('deletes ids of mixed objects, table from the key prefix', () => {
    const org = makeOrg();
    const [p] = json(org, { operation: 'insert', object: 'Parent__c', rows: [{ Name: 'p' }] });
    const [c] = json(org, { operation: 'insert', object: 'Child__c', rows: [{ Name: 'c' }] });
    const out = applyMixedWrites(org, {
      operation: 'delete', encoding: 'json', userId: userOf(org),
      items: [{ row: { Id: c?.id } }, { row: { Id: p?.id } }, { row: { Id: 'zzz000000000000' } }],
    });
    expect(out.map((o) => o.success)).toEqual([true, true, false]);
    expect(out[2]?.errors[0]?.statusCode).toBe('MALFORMED_ID');
  });
});

describe('applyWrites: allOrNone', () => {
  it('rolls back inserts, updates and deletes when any row fails', () => {
    const org = makeOrg();
    const t = table(org, 'Parent__c');
    const ids = json(org, { operation: 'insert', object: 'Parent__c', rows: [{ Name: 'a' }, { Name: 'b' }] }).map((o) => o.id as string);
    const ins = json(org, { operation: 'insert', object: 'Parent__c', allOrNone: true, rows: [{ Name: 'ok' }, { Code__c: 'missing name' }] });
    expect(ins[0]).toEqual({
      success: false,
      errors: [{ statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK', message: 'Record rolled back because not all records were valid and the request was using AllOrNone header', fields: [] }],
    });
    expect(ins[1]?.errors[0]?.statusCode).toBe('REQUIRED_FIELD_MISSING');
    expect(t.count(true)).toBe(2);

    const upd = json(org, { operation: 'update', object: 'Parent__c', allOrNone: true, rows: [{ Id: ids[0], Name: 'changed' }, { Id: ids[1], Rating__c: 'Bad' }] });
    expect(upd[0]).toMatchObject({ id: ids[0], success: false });
    expect(t.get(ids[0] as string)?.['Name']).toBe('a');

    const del = json(org, { operation: 'delete', object: 'Parent__c', allOrNone: true, rows: [{ Id: ids[0] }, { Id: 'a0X5g00000000ZZ' }] });
    expect(del.map((o) => o.success)).toEqual([false, false]);
    expect(t.count(false)).toBe(2);

    const ok = json(org, { operation: 'delete', object: 'Parent__c', allOrNone: true, rows: [{ Id: ids[0] }, { Id: ids[1] }] });
    expect(ok.map((o) => o.success)).toEqual([true, true]);
    expect(t.count(false)).toBe(0);
  });
});

describe('applyWrites: csv encoding', () => {
  it('coerces Bulk CSV strings, #N/A and empty values', () => {
    const org = makeOrg();
    const [r] = csv(org, {
      operation: 'insert',
      object: 'Parent__c',
      rows: [{ NAME: 'csv', Active__c: '1', Amount__c: '1.2345E2', When__c: '2024-04-16T12:00:00+02:00', Start__c: '2024-04-16', Count__c: '', Email__c: '#N/A' }],
    });
    const t = table(org, 'Parent__c');
    expect(t.get(r?.id as string)).toMatchObject({ Name: 'csv', Active__c: true, Amount__c: 123.45, When__c: '2024-04-16T10:00:00.000Z', Start__c: '2024-04-16', Count__c: null, Email__c: null });
    const [u] = csv(org, { operation: 'update', object: 'Parent__c', header: ['Id', 'Name', 'Amount__c', 'Active__c'], rows: [[r?.id as string, '', '#N/A', 'false']] });
    expect(u?.success).toBe(true);
    expect(t.get(r?.id as string)).toMatchObject({ Name: 'csv', Amount__c: null, Active__c: false });
  });

  it('reports values that do not deserialize with the column number', () => {
    const org = makeOrg();
    const out = csv(org, {
      operation: 'insert',
      object: 'Parent__c',
      header: ['Name', 'Count__c', 'Start__c'],
      rows: [['a', '1.5', '2024-01-01'], ['b', '2', '2003-04-987654321987654321']],
    });
    expect(out[0]?.errors[0]).toEqual({ statusCode: 'INVALID_FIELD', message: "Failed to deserialize field at col 1. Due to, '1.5' is not a valid value for the type xsd:int", fields: ['Count__c'] });
    expect(out[1]?.errors[0]?.message).toBe("Failed to deserialize field at col 2. Due to, '2003-04-987654321987654321' is not a valid value for the type xsd:date");
  });

  it('checkColumns finds the first unknown column', () => {
    const org = makeOrg();
    expect(checkColumns(org, 'Child__c', ['name', 'Parent__r.External_Id__c', 'Parent__c:Who.Code__c'], 'insert')).toBeUndefined();
    expect(checkColumns(org, 'Child__c', ['Name', 'Bogus__c', 'X'], 'insert')).toBe('Bogus__c');
    expect(checkColumns(org, 'Child__c', ['Parent__r.Nope__c'], 'insert')).toBe('Parent__r.Nope__c');
    expect(checkColumns(org, 'Child__c', ['Parent__c:Parent__r.Name'], 'insert')).toBe('Parent__c:Parent__r.Name');
  });
});

describe('applyWrites: injected row locks', () => {
  it('fails written rows with UNABLE_TO_LOCK_ROW', () => {
    const org = makeOrg('rowLock=1');
    const [r] = json(org, { operation: 'insert', object: 'Parent__c', rows: [{ Name: 'x' }] });
    expect(r?.errors[0]?.statusCode).toBe('UNABLE_TO_LOCK_ROW');
    expect(r?.errors[0]?.message).toMatch(/^unable to obtain exclusive access to this record or 1 records: \w{18}$/);
    expect(table(org, 'Parent__c').count(true)).toBe(0);
  });
});
