import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConnectorAuthenticationException,
  DescribeConnectorCommand,
  DescribeConnectorEntityCommand,
  DescribeConnectorsCommand,
  ListConnectorEntitiesCommand,
  ListConnectorsCommand,
  ResetConnectorMetadataCacheCommand,
  ResourceNotFoundException,
  UpdateConnectorProfileCommand,
  ValidationException,
  type ConnectorEntityField,
} from '@aws-sdk/client-appflow';
import { createProfile } from '../../src/profiles/profiles.ts';
import { metaEnv, type MetaEnv } from './meta-env.ts';
import { rejection } from '../helpers/rejection.ts';

let env: MetaEnv;
beforeAll(async () => {
  env = await metaEnv();
  await createProfile(env.ctx, { ...env.emu.connectorProfile, connectorProfileName: 'org' });
  await createProfile(env.ctx, { connectorProfileName: 'revoked', connectorType: 'Salesforce', connectionMode: 'Public', connectorProfileConfig: { connectorProfileProperties: { Salesforce: { instanceUrl: env.emu.instanceUrl } }, connectorProfileCredentials: { Salesforce: { accessToken: 'no-longer-valid' } } } });
});
afterAll(async () => {
  await env.close();
});

/** Salesforce's own answers, read directly from the emulator (what the service must reflect). */
async function salesforce<T>(path: string): Promise<T> {
  const res = await fetch(`${env.emu.instanceUrl}/services/data/v58.0${path}`, { headers: { Authorization: `Bearer ${env.emu.accessToken}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

type RawField = { name: string; type: string; label: string; createable: boolean; updateable: boolean; nillable: boolean; filterable: boolean; externalId: boolean; picklistValues: Array<{ value: string; active: boolean }> };

async function fields(entity: string): Promise<Map<string, ConnectorEntityField>> {
  const out = await env.client.send(new DescribeConnectorEntityCommand({ connectorProfileName: 'org', connectorEntityName: entity }));
  return new Map((out.connectorEntityFields ?? []).map((f) => [f.identifier ?? '', f]));
}

describe('ListConnectorEntities', () => {
  it("lists the org's sObjects in one group Objects, and pages through them completely", async () => {
    const global = await salesforce<{ sobjects: Array<{ name: string; label: string }> }>('/sobjects');
    const out = await env.client.send(new ListConnectorEntitiesCommand({ connectorProfileName: 'org', connectorType: 'Salesforce' }));
    expect(Object.keys(out.connectorEntityMap ?? {})).toEqual(['Objects']);
    const objects = out.connectorEntityMap?.['Objects'] ?? [];
    expect(objects.map((o) => o.name).sort()).toEqual(global.sobjects.map((o) => o.name).sort());
    expect(objects.find((o) => o.name === 'Account')).toEqual({ name: 'Account', label: global.sobjects.find((o) => o.name === 'Account')?.label, hasNestedEntities: false });
    expect(objects.map((o) => o.name)).toContain('Invoice__c');
    expect(out.nextToken).toBeUndefined();

    const paged: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = await env.client.send(new ListConnectorEntitiesCommand({ connectorProfileName: 'org', maxResults: 2, ...(nextToken ? { nextToken } : {}) }));
      const names = (page.connectorEntityMap?.['Objects'] ?? []).map((o) => o.name ?? '');
      expect(names.length).toBeLessThanOrEqual(2);
      paged.push(...names);
      nextToken = page.nextToken;
      pages++;
    } while (nextToken !== undefined && pages < 100);
    expect(paged).toEqual(objects.map((o) => o.name));
    expect(pages).toBe(Math.ceil(objects.length / 2));
  });

  it('refuses bad requests: maxResults out of range, entitiesPath, other connector types, no or unknown profile', async () => {
    const big = await rejection(env.client.send(new ListConnectorEntitiesCommand({ connectorProfileName: 'org', maxResults: 10_001 })));
    expect(big).toBeInstanceOf(ValidationException);
    expect(big.message).toContain('maxResults');
    expect(await rejection(env.client.send(new ListConnectorEntitiesCommand({ connectorProfileName: 'org', entitiesPath: 'Account' })))).toBeInstanceOf(ValidationException);
    const zendesk = await rejection(env.client.send(new ListConnectorEntitiesCommand({ connectorProfileName: 'org', connectorType: 'Zendesk' })));
    expect(zendesk).toBeInstanceOf(ValidationException);
    expect(zendesk.message).toContain('connectorType');
    const none = await rejection(env.client.send(new ListConnectorEntitiesCommand({ connectorType: 'Salesforce' })));
    expect(none).toBeInstanceOf(ValidationException);
    expect(none.message).toContain('connectorProfileName');
    const unknown = await rejection(env.client.send(new ListConnectorEntitiesCommand({ connectorProfileName: 'nope' })));
    expect(unknown).toBeInstanceOf(ResourceNotFoundException);
  });

  it('answers ConnectorAuthenticationException when Salesforce refuses the profile', async () => {
    const e = await rejection(env.client.send(new ListConnectorEntitiesCommand({ connectorProfileName: 'revoked' })));
    expect(e).toBeInstanceOf(ConnectorAuthenticationException);
    expect(e.$metadata?.httpStatusCode).toBe(401);
    expect(e.message).not.toContain('no-longer-valid');
  });
});

describe('DescribeConnectorEntity', () => {
  it("maps Account's describe to AppFlow's field shapes", async () => {
    const raw = new Map((await salesforce<{ fields: RawField[] }>('/sobjects/Account/describe')).fields.map((f) => [f.name, f]));
    const account = await fields('Account');
    expect([...account.keys()].sort()).toEqual([...raw.keys()].sort());

    expect(account.get('Id')).toMatchObject({
      identifier: 'Id',
      isPrimaryKey: true,
      supportedFieldTypeDetails: { v1: { fieldType: 'id', filterOperators: ['EQUAL_TO'] } },
      sourceProperties: { isRetrievable: true, isQueryable: true, isTimestampFieldForIncrementalQueries: false },
      destinationProperties: { isCreatable: false, isUpdatable: false, supportedWriteOperations: ['UPDATE', 'UPSERT', 'DELETE'] },
    });
    expect(account.get('Name')).toMatchObject({
      label: raw.get('Name')?.label,
      description: raw.get('Name')?.label,
      isPrimaryKey: false,
      supportedFieldTypeDetails: { v1: { fieldType: 'string', filterOperators: ['CONTAINS', 'EQUAL_TO', 'NOT_EQUAL_TO'] } },
      destinationProperties: { isCreatable: true, isNullable: raw.get('Name')?.nillable, isUpdatable: true },
    });
    expect(account.get('Name')?.destinationProperties?.supportedWriteOperations).toBeUndefined();
    expect(account.get('LastModifiedDate')).toMatchObject({
      supportedFieldTypeDetails: { v1: { fieldType: 'datetime', filterOperators: ['EQUAL_TO', 'LESS_THAN', 'LESS_THAN_OR_EQUAL_TO', 'GREATER_THAN', 'GREATER_THAN_OR_EQUAL_TO', 'BETWEEN'] } },
      sourceProperties: { isTimestampFieldForIncrementalQueries: true },
      destinationProperties: { isCreatable: false, isUpdatable: false },
    });
    expect(account.get('SystemModstamp')?.sourceProperties?.isTimestampFieldForIncrementalQueries).toBe(true);
    expect(account.get('External_Id__c')?.destinationProperties).toMatchObject({ isUpsertable: true, supportedWriteOperations: ['UPSERT'] });

    // Every field: type, operators by filterability, creatable/updatable/nullable as Salesforce says.
    for (const [name, f] of account) {
      const r = raw.get(name) as RawField;
      expect(f.supportedFieldTypeDetails?.v1?.fieldType, name).toBe(r.type);
      if (!r.filterable) expect(f.supportedFieldTypeDetails?.v1?.filterOperators, name).toEqual([]);
      else expect(f.supportedFieldTypeDetails?.v1?.filterOperators?.length, name).toBeGreaterThan(0);
      expect(f.destinationProperties, name).toMatchObject({ isCreatable: r.createable, isUpdatable: r.updateable, isNullable: r.nillable });
      if (r.type === 'boolean') expect(f.supportedFieldTypeDetails?.v1?.supportedValues, name).toEqual(['true', 'false']);
      if (r.type === 'picklist' && r.picklistValues.length > 0) {
        expect(f.supportedFieldTypeDetails?.v1?.supportedValues, name).toEqual(r.picklistValues.filter((v) => v.active).map((v) => v.value));
      }
    }
    const picklists = [...account.values()].filter((f) => f.supportedFieldTypeDetails?.v1?.fieldType === 'picklist');
    expect(picklists.some((f) => (f.supportedFieldTypeDetails?.v1?.supportedValues?.length ?? 0) > 0)).toBe(true);
    const numeric = [...account.values()].find((f) => f.supportedFieldTypeDetails?.v1?.fieldType === 'currency' || f.supportedFieldTypeDetails?.v1?.fieldType === 'double');
    expect(numeric?.supportedFieldTypeDetails?.v1?.filterOperators).toContain('GREATER_THAN');
  });

  it('describes a custom object', async () => {
    const raw = (await salesforce<{ fields: RawField[] }>('/sobjects/Invoice__c/describe')).fields;
    const invoice = await fields('Invoice__c');
    expect([...invoice.keys()].sort()).toEqual(raw.map((f) => f.name).sort());
    expect(invoice.get('Id')?.isPrimaryKey).toBe(true);
    const reference = [...invoice.values()].find((f) => f.identifier === 'Account__c');
    expect(reference?.supportedFieldTypeDetails?.v1?.fieldType).toBe('reference');
  });

  it('answers ResourceNotFoundException for an unknown entity or profile, ValidationException for bad input', async () => {
    const entity = await rejection(env.client.send(new DescribeConnectorEntityCommand({ connectorProfileName: 'org', connectorEntityName: 'NoSuch__c' })));
    expect(entity).toBeInstanceOf(ResourceNotFoundException);
    expect(entity.message).toContain('NoSuch__c');
    expect(await rejection(env.client.send(new DescribeConnectorEntityCommand({ connectorProfileName: 'nope', connectorEntityName: 'Account' })))).toBeInstanceOf(ResourceNotFoundException);
    expect(await rejection(env.client.send(new DescribeConnectorEntityCommand({ connectorProfileName: 'org', connectorEntityName: '' })))).toBeInstanceOf(ValidationException);
    for (const apiVersion of ['latest', 'v10.0']) {
      const e = await rejection(env.client.send(new DescribeConnectorEntityCommand({ connectorProfileName: 'org', connectorEntityName: 'Account', apiVersion })));
      expect(e, apiVersion).toBeInstanceOf(ValidationException);
      expect(e.message).toContain('apiVersion');
    }
    expect((await env.client.send(new DescribeConnectorEntityCommand({ connectorProfileName: 'org', connectorEntityName: 'Account', apiVersion: 'v58.0' }))).connectorEntityFields?.length).toBeGreaterThan(0);
    expect(await rejection(env.client.send(new DescribeConnectorEntityCommand({ connectorProfileName: 'revoked', connectorEntityName: 'Account' })))).toBeInstanceOf(ConnectorAuthenticationException);
  });

  it("answers from the per-profile metadata cache until it is reset (no Salesforce call)", async () => {
    await env.client.send(new ResetConnectorMetadataCacheCommand({ connectorProfileName: 'org' }));
    const used = (): number => env.emu.org.limits.used;
    const start = used();
    await fields('Contact');
    const afterFirst = used();
    expect(afterFirst).toBeGreaterThan(start);
    await fields('Contact');
    await fields('contact');
    expect(used()).toBe(afterFirst);
    await env.client.send(new ResetConnectorMetadataCacheCommand({ connectorProfileName: 'org', connectorEntityName: 'Contact' }));
    await fields('Contact');
    expect(used()).toBeGreaterThan(afterFirst);
    expect(env.cache.size('org')).toBeGreaterThan(0);
    expect(env.cache.size('revoked')).toBe(0);
    // Updating the profile (it may now point elsewhere) clears its metadata.
    await env.client.send(new UpdateConnectorProfileCommand({ connectorProfileName: 'org', connectionMode: 'Public', connectorProfileConfig: { connectorProfileProperties: { Salesforce: { instanceUrl: env.emu.instanceUrl, isSandboxEnvironment: false } } } }));
    expect(env.cache.size('org')).toBe(0);
    const beforeAgain = used();
    await fields('Contact');
    expect(used()).toBeGreaterThan(beforeAgain);
  });
});

describe('DescribeConnectors, DescribeConnector, ListConnectors', () => {
  it('describes the Salesforce connector as the model shapes it; other types are absent', async () => {
    const out = await env.client.send(new DescribeConnectorsCommand({}));
    expect(Object.keys(out.connectorConfigurations ?? {})).toEqual(['Salesforce']);
    expect(out.connectors).toEqual([]);
    expect(out.nextToken).toBeUndefined();
    expect(out.connectorConfigurations?.['Salesforce']).toMatchObject({
      connectorType: 'Salesforce',
      canUseAsSource: true,
      canUseAsDestination: true,
      supportedWriteOperations: ['INSERT', 'UPSERT', 'UPDATE', 'DELETE'],
      supportedApiVersions: ['v58.0'],
      connectorModes: ['Public'],
      connectorMetadata: { Salesforce: { oauth2GrantTypesSupported: ['AUTHORIZATION_CODE', 'JWT_BEARER'], dataTransferApis: ['AUTOMATIC', 'BULKV2', 'REST_SYNC'] } },
    });
    expect((await env.client.send(new DescribeConnectorsCommand({ connectorTypes: ['Zendesk'] }))).connectorConfigurations).toEqual({});
    expect((await env.client.send(new DescribeConnectorCommand({ connectorType: 'Salesforce' }))).connectorConfiguration?.connectorType).toBe('Salesforce');
    expect(await rejection(env.client.send(new DescribeConnectorCommand({ connectorType: 'Zendesk' })))).toBeInstanceOf(ResourceNotFoundException);
    expect((await env.client.send(new ListConnectorsCommand({}))).connectors).toEqual([]);
    expect(await rejection(env.client.send(new DescribeConnectorsCommand({ maxResults: 0 })))).toBeInstanceOf(ValidationException);
  });
});
