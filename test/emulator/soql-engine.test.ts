import { describe, expect, it } from 'vitest';
import { prepareQuery, type PreparedQuery } from '../../src/emulator/soql/index.ts';
import { SfHttpError } from '../../src/emulator/errors.ts';
import type { DescribeField, SfFieldType, SObjectDescribe, ChildRelationship } from '../../src/emulator/org/schema.ts';
import { ObjectSchema } from '../../src/emulator/org/schema.ts';
import { MemoryTable, OrgStore, type StoredValue } from '../../src/emulator/org/store.ts';

const SOAP: Record<string, string> = {
  id: 'tns:ID', reference: 'tns:ID', boolean: 'xsd:boolean', int: 'xsd:int', long: 'xsd:long', double: 'xsd:double', currency: 'xsd:double',
  percent: 'xsd:double', date: 'xsd:date', datetime: 'xsd:dateTime', time: 'xsd:time', address: 'urn:address', location: 'urn:location',
};

/** A describe field with every key, for engine tests. */
export function fld(name: string, type: SfFieldType, extra: Partial<Record<keyof DescribeField, unknown>> = {}): DescribeField {
  return {
    aggregatable: type !== 'textarea' && type !== 'address', aiPredictionField: false, autoNumber: false, byteLength: 0, calculated: false,
    calculatedFormula: null, cascadeDelete: false, caseSensitive: false, compoundFieldName: null, controllerName: null, createable: true,
    custom: name.endsWith('__c'), defaultValue: null, defaultValueFormula: null, defaultedOnCreate: false, dependentPicklist: false,
    deprecatedAndHidden: false, digits: 0, displayLocationInDecimal: false, encrypted: false, externalId: false, extraTypeInfo: null,
    filterable: type !== 'address' && type !== 'location', filteredLookupInfo: null, formulaTreatNullNumberAsZero: false, groupable: type !== 'double' && type !== 'currency' && type !== 'address',
    highScaleNumber: false, htmlFormatted: false, idLookup: type === 'id', inlineHelpText: null, label: name, length: 255, mask: null, maskType: null,
    name, nameField: name === 'Name', namePointing: false, nillable: true, permissionable: false, picklistValues: [], polymorphicForeignKey: false,
    precision: 0, queryByDistance: false, referenceTargetField: null, referenceTo: [], relationshipName: null, relationshipOrder: null,
    restrictedDelete: false, restrictedPicklist: false, scale: 0, searchPrefilterable: false, soapType: SOAP[type] ?? 'xsd:string',
    sortable: type !== 'textarea' && type !== 'address', type, unique: false, updateable: true, writeRequiresMasterRead: false,
    ...extra,
  } as DescribeField;
}

const audit = (): DescribeField[] => [
  fld('Id', 'id', { filterable: true }),
  fld('IsDeleted', 'boolean'),
  fld('CreatedDate', 'datetime'),
  fld('OwnerId', 'reference', { referenceTo: ['User'], relationshipName: 'Owner' }),
];

function objectDescribe(name: string, keyPrefix: string, fields: DescribeField[], children: ChildRelationship[] = []): SObjectDescribe {
  return { name, label: name, labelPlural: name, keyPrefix, custom: false, createable: true, updateable: true, deletable: true, queryable: true, fields, childRelationships: children };
}

export interface Fixture {
  store: OrgStore;
  users: MemoryTable;
  accounts: MemoryTable;
  contacts: MemoryTable;
  now: number;
}

/** A small org: User, Account (with address, numbers, dates, multipicklist) and Contact. */
export function buildFixture(): Fixture {
  const now = Date.UTC(2024, 3, 17, 12, 0, 0); // Wednesday 2024-04-17 12:00Z
  const clock = (): number => now;
  const user = new ObjectSchema(objectDescribe('User', '005', [fld('Id', 'id'), fld('Name', 'string'), fld('IsDeleted', 'boolean')]));
  const account = new ObjectSchema(
    objectDescribe('Account', '001', [
      ...audit(),
      fld('Name', 'string'),
      fld('Industry', 'picklist'),
      fld('AnnualRevenue', 'currency'),
      fld('NumberOfEmployees', 'int', { groupable: true }),
      fld('Active__c', 'boolean'),
      fld('Founded__c', 'date'),
      fld('Tags__c', 'multipicklist'),
      fld('Description', 'textarea', { filterable: false, sortable: false }),
      fld('BillingStreet', 'textarea', { compoundFieldName: 'BillingAddress', filterable: true }),
      fld('BillingCity', 'string', { compoundFieldName: 'BillingAddress' }),
      fld('BillingAddress', 'address'),
      fld('ParentId', 'reference', { referenceTo: ['Account'], relationshipName: 'Parent' }),
    ], [
      { cascadeDelete: true, childSObject: 'Contact', deprecatedAndHidden: false, field: 'AccountId', junctionIdListNames: [], junctionReferenceTo: [], relationshipName: 'Contacts', restrictedDelete: false },
    ]),
  );
  const contact = new ObjectSchema(
    objectDescribe('Contact', '003', [
      ...audit(),
      fld('LastName', 'string'),
      fld('Email', 'email'),
      fld('AccountId', 'reference', { referenceTo: ['Account'], relationshipName: 'Account' }),
    ]),
  );
  const store = new OrgStore();
  const users = new MemoryTable(user, { clock });
  const accounts = new MemoryTable(account, { clock });
  const contacts = new MemoryTable(contact, { clock });
  store.add(users);
  store.add(accounts);
  store.add(contacts);
  const u1 = users.insert({ Name: 'Guy Smiley' }, 'x');
  const uid = String(u1['Id']);
  const rows: Record<string, StoredValue>[] = [
    { Name: 'Acme', Industry: 'Energy', AnnualRevenue: 5000, NumberOfEmployees: 10, Active__c: true, Founded__c: '2024-04-17', Tags__c: 'a;b', BillingCity: 'Paris', BillingStreet: '1 Rue' },
    { Name: 'Globex', Industry: 'Energy', AnnualRevenue: 250, NumberOfEmployees: 5, Active__c: false, Founded__c: '2024-04-10', Tags__c: 'b;c' },
    { Name: "O'Reilly 50%", Industry: 'Media', AnnualRevenue: null, NumberOfEmployees: 7, Active__c: true, Founded__c: '2023-12-31', Tags__c: null },
    { Name: 'initech', Industry: null, AnnualRevenue: 1000, NumberOfEmployees: null, Active__c: false, Founded__c: null, Tags__c: 'c' },
  ];
  const ids: string[] = [];
  for (const r of rows) ids.push(String(accounts.insert({ ...r, OwnerId: uid }, uid)['Id']));
  accounts.update(ids[1] as string, { ParentId: ids[0] as string }, uid);
  contacts.insert({ LastName: 'Frank', Email: 'f@x.io', AccountId: ids[0] as string }, uid);
  contacts.insert({ LastName: 'Edna', Email: 'e@x.io', AccountId: ids[0] as string }, uid);
  contacts.insert({ LastName: 'Solo', Email: null, AccountId: null }, uid);
  const gone = contacts.insert({ LastName: 'Gone', AccountId: ids[1] as string }, uid);
  contacts.delete(String(gone['Id']), uid);
  return { store, users, accounts, contacts, now };
}

const fx = buildFixture();
const q = (soql: string, includeDeleted = false): PreparedQuery => prepareQuery(fx.store, soql, { includeDeleted, now: fx.now });
const rest = (soql: string, includeDeleted = false): Record<string, unknown>[] => {
  const p = q(soql, includeDeleted);
  return [...p.rows()].map((r) => p.toRest(r, '58.0'));
};
const names = (soql: string): unknown[] => rest(soql).map((r) => r['Name']);
function sfErr(soql: string): { status: number; errorCode: string; message: string } {
  try {
    q(soql);
  } catch (error) {
    if (!(error instanceof SfHttpError)) throw error;
    const body = error.body as { errorCode: string; message: string }[];
    return { status: error.status, errorCode: body[0]?.errorCode ?? '', message: body[0]?.message ?? '' };
  }
  throw new Error(`no error for ${soql}`);
}

describe('SOQL engine: selection and formatting', () => {
  it('returns canonical names, attributes first, +0000 datetimes, compound addresses', () => {
    const [first] = rest('select id, name, createddate, billingaddress, annualrevenue from account order by name limit 1');
    expect(Object.keys(first ?? {})).toEqual(['attributes', 'Id', 'Name', 'CreatedDate', 'BillingAddress', 'AnnualRevenue']);
    expect(first?.['attributes']).toEqual({ type: 'Account', url: `/services/data/v58.0/sobjects/Account/${String(first?.['Id'])}` });
    expect(first?.['CreatedDate']).toBe('2024-04-17T12:00:00.000+0000');
    expect(first?.['BillingAddress']).toEqual({ city: 'Paris', street: '1 Rue' });
  });

  it('nests parent relationships with attributes, null for an empty lookup', () => {
    const rows = rest('SELECT LastName, Account.Name, Account.Owner.Name, Account.Industry FROM Contact ORDER BY LastName');
    expect(rows.map((r) => r['LastName'])).toEqual(['Edna', 'Frank', 'Solo']);
    const acc = rows[0]?.['Account'] as Record<string, unknown>;
    expect(Object.keys(acc)).toEqual(['attributes', 'Name', 'Owner', 'Industry']);
    expect(acc['Name']).toBe('Acme');
    expect((acc['Owner'] as Record<string, unknown>)['Name']).toBe('Guy Smiley');
    expect(((acc['Owner'] as Record<string, unknown>)['attributes'] as { type: string }).type).toBe('User');
    expect(rows[2]?.['Account']).toBeNull();
  });

  it('answers parent-to-child subqueries with totalSize/done/records or null', () => {
    const rows = rest('SELECT Name, (SELECT LastName FROM Contacts ORDER BY LastName) FROM Account ORDER BY Name');
    const acme = rows.find((r) => r['Name'] === 'Acme');
    expect(acme?.['Contacts']).toMatchObject({ totalSize: 2, done: true, records: [{ LastName: 'Edna' }, { LastName: 'Frank' }] });
    expect(rows.find((r) => r['Name'] === 'Globex')?.['Contacts']).toBeNull();
  });

  it('exposes columns, flags and raw values for the Bulk path', () => {
    const a = q('SELECT Id, BillingAddress, Parent.Name, (SELECT LastName FROM Contacts) FROM Account ORDER BY Name LIMIT 2 OFFSET 1');
    expect(a.columns.map((c) => [c.kind, c.path, c.compound])).toEqual([
      ['field', 'Id', false],
      ['field', 'BillingAddress', true],
      ['field', 'Parent.Name', false],
      ['subquery', 'Contacts', false],
    ]);
    expect([a.hasSubquery, a.hasOffset, a.hasOrderBy, a.isCount, a.hasAggregate, a.limit, a.offset]).toEqual([true, true, true, false, false, 2, 1]);
    const rows = [...a.rows()];
    const parentCol = a.columns[2];
    if (!parentCol) throw new Error('no column');
    expect(rows.map((r) => a.value(r, parentCol))).toEqual(['Acme', null]);
    expect(rows[0]?.parents.get('Parent')?.['Name']).toBe('Acme');
    const c = q('SELECT Id, Account.Name FROM Contact WHERE LastName = \'Frank\'');
    const [row] = [...c.rows()];
    const col = c.columns[1];
    expect(row && col ? c.value(row, col) : undefined).toBe('Acme');
  });
});

describe('SOQL engine: TYPEOF, FIELDS(), toLabel', () => {
  it('answers TYPEOF with the fields of the actual parent type', () => {
    const p = q("SELECT Name, TYPEOF Owner WHEN User THEN Name ELSE Id END FROM Account WHERE Name = 'Acme'");
    expect(p.hasTypeof).toBe(true);
    const [row] = [...p.rows()];
    const json = row ? p.toRest(row, '58.0') : {};
    expect(json['Owner']).toMatchObject({ attributes: { type: 'User' }, Name: 'Guy Smiley' });
  });

  it('expands FIELDS(STANDARD) and requires LIMIT 200 for FIELDS(ALL)', () => {
    const p = q('SELECT FIELDS(STANDARD) FROM Contact');
    expect(p.columns.map((c) => c.path)).toEqual(['Id', 'IsDeleted', 'CreatedDate', 'OwnerId', 'LastName', 'Email', 'AccountId']);
    expect(q('SELECT FIELDS(ALL) FROM Account LIMIT 200').columns.some((c) => c.path === 'Tags__c')).toBe(true);
    expect(sfErr('SELECT FIELDS(ALL) FROM Account').message).toMatch(/The SOQL FIELDS function must have a LIMIT of at most 200$/);
  });

  it('passes toLabel() through under the field name', () => {
    expect(rest("SELECT toLabel(Industry) FROM Account WHERE Name = 'Acme'")[0]).toMatchObject({ Industry: 'Energy' });
  });
});

describe('SOQL engine: WHERE', () => {
  it('compares text case-insensitively, with escapes, LIKE and IN', () => {
    expect(names("SELECT Name FROM Account WHERE name = 'ACME'")).toEqual(['Acme']);
    expect(names("SELECT Name FROM Account WHERE Name = 'O\\'Reilly 50%'")).toEqual(["O'Reilly 50%"]);
    expect(names("SELECT Name FROM Account WHERE Name LIKE '%\\%'")).toEqual(["O'Reilly 50%"]);
    expect(names("SELECT Name FROM Account WHERE Name LIKE 'g_OB%'")).toEqual(['Globex']);
    expect(names("SELECT Name FROM Account WHERE Industry IN ('energy', 'Media') ORDER BY Name")).toEqual(['Acme', 'Globex', "O'Reilly 50%"]);
    expect(names("SELECT Name FROM Account WHERE Industry NOT IN ('Energy') ORDER BY Name")).toEqual(['initech', "O'Reilly 50%"]);
  });

  it('handles null, numbers, booleans, AND/OR/NOT and parentheses', () => {
    expect(names('SELECT Name FROM Account WHERE Industry = null')).toEqual(['initech']);
    expect(names('SELECT Name FROM Account WHERE AnnualRevenue != null AND AnnualRevenue >= 1000 ORDER BY Name')).toEqual(['Acme', 'initech']);
    expect(names('SELECT Name FROM Account WHERE Active__c = true AND (NumberOfEmployees > 8 OR AnnualRevenue = null) ORDER BY Name')).toEqual(['Acme', "O'Reilly 50%"]);
    expect(names("SELECT Name FROM Account WHERE NOT Industry = 'Energy' ORDER BY Name")).toEqual(['initech', "O'Reilly 50%"]);
    expect(names("SELECT Name FROM Account WHERE NOT (Industry = 'Energy' OR Name = 'initech')")).toEqual(["O'Reilly 50%"]);
    expect(names("SELECT Name FROM Account WHERE Parent.Name = 'Acme'")).toEqual(['Globex']);
  });

  it('supports multipicklist INCLUDES/EXCLUDES and =', () => {
    expect(names("SELECT Name FROM Account WHERE Tags__c INCLUDES ('a;b', 'c') ORDER BY Name")).toEqual(['Acme', 'Globex', 'initech']);
    expect(names("SELECT Name FROM Account WHERE Tags__c INCLUDES ('b') ORDER BY Name")).toEqual(['Acme', 'Globex']);
    expect(names("SELECT Name FROM Account WHERE Tags__c EXCLUDES ('b') ORDER BY Name")).toEqual(['initech', "O'Reilly 50%"]);
    expect(names("SELECT Name FROM Account WHERE Tags__c = 'b;a'")).toEqual(['Acme']);
  });

  it('evaluates date and datetime literals and relative date literals against now (UTC)', () => {
    expect(names('SELECT Name FROM Account WHERE Founded__c = TODAY')).toEqual(['Acme']);
    expect(names('SELECT Name FROM Account WHERE Founded__c = LAST_N_DAYS:7 ORDER BY Name')).toEqual(['Acme', 'Globex']);
    expect(names('SELECT Name FROM Account WHERE Founded__c = THIS_WEEK')).toEqual(['Acme']);
    expect(names('SELECT Name FROM Account WHERE Founded__c = LAST_WEEK')).toEqual(['Globex']);
    expect(names('SELECT Name FROM Account WHERE Founded__c = LAST_YEAR')).toEqual(["O'Reilly 50%"]);
    expect(names('SELECT Name FROM Account WHERE Founded__c < THIS_MONTH')).toEqual(["O'Reilly 50%"]);
    expect(names('SELECT Name FROM Account WHERE Founded__c > 2024-04-10 ')).toEqual(['Acme']);
    expect(names('SELECT Name FROM Account WHERE Founded__c = N_DAYS_AGO:7')).toEqual(['Globex']);
    expect(names('SELECT Name FROM Account WHERE CreatedDate = TODAY LIMIT 1')).toEqual(['Acme']);
    expect(names('SELECT Name FROM Account WHERE CreatedDate > 2024-04-17T13:00:00+02:00 LIMIT 1')).toEqual(['Acme']);
    expect(names('SELECT Name FROM Account WHERE CreatedDate > 2024-04-17T12:00:00Z')).toEqual([]);
    expect(names('SELECT Name FROM Account WHERE CreatedDate = YESTERDAY')).toEqual([]);
  });

  it('matches ids given in 15 or 18 characters and semi-joins', () => {
    const id = String(rest("SELECT Id FROM Account WHERE Name = 'Acme'")[0]?.['Id']);
    expect(names(`SELECT Name FROM Account WHERE Id = '${id.slice(0, 15)}'`)).toEqual(['Acme']);
    expect(names(`SELECT Name FROM Account WHERE Id IN ('${id}')`)).toEqual(['Acme']);
    expect(names('SELECT Name FROM Account WHERE Id IN (SELECT AccountId FROM Contact)')).toEqual(['Acme']);
    const all = rest('SELECT Id, Name FROM Account');
    const [a, b, c] = all.map((r) => String(r['Id']));
    expect(names(`SELECT Name FROM Account WHERE Id IN ('${String(c)}', '${String(a)}') AND Name != 'Acme'`)).toEqual([all[2]?.['Name']]);
    expect(names(`SELECT Name FROM Account WHERE Id = '${String(b)}' OR Name = 'Acme'`)).toEqual(['Acme', 'Globex']);
    expect(q(`SELECT COUNT() FROM Account WHERE Id IN ('${String(a)}', '${String(b)}')`).count()).toBe(2);
  });
});

describe('SOQL engine: ORDER BY, LIMIT, OFFSET, COUNT, aggregates', () => {
  it('sorts nulls first ascending and last descending by default, honours NULLS LAST', () => {
    expect(names('SELECT Name FROM Account ORDER BY AnnualRevenue')).toEqual(["O'Reilly 50%", 'Globex', 'initech', 'Acme']);
    expect(names('SELECT Name FROM Account ORDER BY AnnualRevenue DESC')).toEqual(['Acme', 'initech', 'Globex', "O'Reilly 50%"]);
    expect(names('SELECT Name FROM Account ORDER BY AnnualRevenue ASC NULLS LAST')).toEqual(['Globex', 'initech', 'Acme', "O'Reilly 50%"]);
    expect(names('SELECT Name FROM Account ORDER BY Industry DESC NULLS FIRST, Name')).toEqual(['initech', "O'Reilly 50%", 'Acme', 'Globex']);
    expect(names('SELECT Name FROM Account ORDER BY Name')).toEqual(['Acme', 'Globex', 'initech', "O'Reilly 50%"]);
  });

  it('applies LIMIT and OFFSET, and counts without rows', () => {
    expect(names('SELECT Name FROM Account ORDER BY Name LIMIT 2 OFFSET 1')).toEqual(['Globex', 'initech']);
    const c = q('SELECT COUNT() FROM Account');
    expect(c.isCount).toBe(true);
    expect(c.count()).toBe(4);
    expect([...c.rows()]).toEqual([]);
    expect(q("SELECT count() FROM Account WHERE Industry = 'Energy'").count()).toBe(2);
    expect(q('SELECT COUNT() FROM Contact').count()).toBe(3);
    expect(q('SELECT COUNT() FROM Contact', true).count()).toBe(4);
    expect(q('SELECT Id FROM Account LIMIT 3 OFFSET 2').count()).toBe(2);
  });

  it('shows IsDeleted rows only with includeDeleted', () => {
    expect(rest("SELECT LastName FROM Contact WHERE LastName = 'Gone'")).toEqual([]);
    expect(rest("SELECT LastName, IsDeleted FROM Contact WHERE LastName = 'Gone'", true)[0]).toMatchObject({ IsDeleted: true });
  });

  it('answers aggregates as AggregateResult rows with exprN names', () => {
    expect(rest('SELECT COUNT(Id), MAX(AnnualRevenue) mx, SUM(AnnualRevenue) FROM Account')).toEqual([
      { attributes: { type: 'AggregateResult' }, expr0: 4, mx: 5000, expr1: 6250 },
    ]);
    const groups = rest('SELECT Industry, COUNT(Id), AVG(NumberOfEmployees) FROM Account GROUP BY Industry ORDER BY Industry NULLS LAST');
    expect(groups).toEqual([
      { attributes: { type: 'AggregateResult' }, Industry: 'Energy', expr0: 2, expr1: 7.5 },
      { attributes: { type: 'AggregateResult' }, Industry: 'Media', expr0: 1, expr1: 7 },
      { attributes: { type: 'AggregateResult' }, Industry: null, expr0: 1, expr1: null },
    ]);
    expect(rest('SELECT Industry, COUNT(Id) FROM Account GROUP BY Industry HAVING COUNT(Id) > 1')).toEqual([
      { attributes: { type: 'AggregateResult' }, Industry: 'Energy', expr0: 2 },
    ]);
    expect(q('SELECT Industry, COUNT(Id) FROM Account GROUP BY Industry').count()).toBe(3);
  });
});

describe('SOQL engine: errors in Salesforce shape', () => {
  it('unknown field gives INVALID_FIELD with the caret snippet', () => {
    expect(sfErr('SELECT Bacon__c FROM Account LIMIT 2')).toEqual({
      status: 400,
      errorCode: 'INVALID_FIELD',
      message:
        "\nSELECT Bacon__c FROM Account LIMIT 2\n       ^\nERROR at Row:1:Column:8\nNo such column 'Bacon__c' on entity 'Account'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
    });
  });

  it('unknown object gives INVALID_TYPE', () => {
    const e = sfErr('SELECT Id, Name FROM Accout WHERE Name = null');
    expect(e.errorCode).toBe('INVALID_TYPE');
    expect(e.message).toBe(
      "\nSELECT Id, Name FROM Accout WHERE Name = null\n                     ^\nERROR at Row:1:Column:22\nsObject type 'Accout' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.",
    );
  });

  it('bad syntax gives MALFORMED_QUERY', () => {
    expect(sfErr('SELEKT Id FROM Account')).toMatchObject({ errorCode: 'MALFORMED_QUERY', message: 'unexpected token: SELEKT' });
    expect(sfErr('SELECT Id FROM Account WHERE')).toMatchObject({ errorCode: 'MALFORMED_QUERY' });
    expect(sfErr("SELECT Id FROM Account WHERE Name = 'a' OR Name = 'b' AND Name = 'c'").errorCode).toBe('MALFORMED_QUERY');
    expect(sfErr('SELECT Id FROM Account ORDER BY Name LIMIT 5 OFFSET 2001')).toMatchObject({ errorCode: 'NUMBER_OUTSIDE_VALID_RANGE', message: 'Maximum SOQL offset allowed is 2000' });
    expect(sfErr(`SELECT Id FROM Account WHERE Name = '${'x'.repeat(100_001)}'`)).toMatchObject({ errorCode: 'MALFORMED_QUERY', message: 'SOQL statements cannot be longer than 100,000 characters' });
  });

  it('type-checks filter values like Salesforce', () => {
    expect(sfErr("SELECT Id FROM Account WHERE AnnualRevenue = '5'").message).toMatch(/value of filter criterion for field 'AnnualRevenue' must be of type double and should not be enclosed in quotes$/);
    expect(sfErr("SELECT Id FROM Account WHERE NumberOfEmployees = '5'").message).toMatch(/must be of type integer and should not be enclosed in quotes$/);
    expect(sfErr('SELECT Id FROM Account WHERE Name = 5').message).toMatch(/field 'Name' must be of type string and should be enclosed in quotes$/);
    expect(sfErr('SELECT Id FROM Account WHERE CreatedDate = 2024-01-01').message).toMatch(/must be of type dateTime and should not be enclosed in quotes$/);
    expect(sfErr('SELECT Id FROM Account WHERE Founded__c = 2024-01-01T00:00:00Z').message).toMatch(/must be of type date and should not be enclosed in quotes$/);
    expect(sfErr("SELECT Id FROM Account WHERE Id = 'nope'")).toMatchObject({ errorCode: 'INVALID_QUERY_FILTER_OPERATOR' });
    expect(sfErr("SELECT Id FROM Account WHERE Description = 'x'").message).toMatch(/field 'Description' can not be filtered in a query call$/);
    expect(sfErr('SELECT Id FROM Account ORDER BY Description').message).toMatch(/field 'Description' can not be sorted in a query call$/);
    expect(sfErr('SELECT Id, Foo.Name FROM Account').message).toMatch(/Didn't understand relationship 'Foo' in field path/);
    expect(sfErr('SELECT Id, (SELECT Id FROM Nopes) FROM Account').errorCode).toBe('INVALID_TYPE');
    expect(sfErr('SELECT Name, COUNT(Id) FROM Account').message).toMatch(/Field must be grouped or aggregated: Name$/);
  });

  it('never crashes on random or truncated input', () => {
    const base = "SELECT Id, Name, Account.Name, (SELECT Id FROM Contacts) FROM Contact WHERE (Name LIKE 'a%' OR Id IN ('x')) AND CreatedDate = LAST_N_DAYS:3 ORDER BY Name DESC NULLS LAST LIMIT 10 OFFSET 2";
    let seed = 42;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const alphabet = "SELECT FROM WHERE()',.=<>!%_\\ \n0123456789abcXYZ:-";
    const inputs: string[] = [];
    for (let i = 0; i <= base.length; i += 6) inputs.push(base.slice(0, i));
    for (let i = 0; i < 120; i++) {
      const chars = [...base];
      for (let k = 0; k < 3; k++) chars[rnd(chars.length)] = alphabet[rnd(alphabet.length)] ?? ' ';
      inputs.push(chars.join(''));
    }
    for (let i = 0; i < 40; i++) inputs.push(Array.from({ length: rnd(60) }, () => alphabet[rnd(alphabet.length)]).join(''));
    let errors = 0;
    for (const input of inputs) {
      try {
        const p = q(input);
        for (const r of p.rows()) p.toRest(r, '58.0');
        p.count();
      } catch (error) {
        if (!(error instanceof SfHttpError)) throw new Error(`crash on ${JSON.stringify(input)}: ${String(error)}`, { cause: error });
        expect(error.status).toBe(400);
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(inputs.length / 2);
  });
});
