import { describe, expect, it } from 'vitest';
import { callKind, readCost, writeCost } from '../../src/connectors/salesforce/budget.ts';
import { parseApiReserve, reserveCalls } from '../../src/connectors/salesforce/reserve.ts';

describe('API reserve values', () => {
  it.each([
    ['20%', { percent: 20 }], [' 12.5 % ', { percent: 12.5 }], ['100%', { percent: 100 }], ['5000', { calls: 5000 }], [0, { calls: 0 }], [300, { calls: 300 }],
  ])('%j is %j', (value, reserve) => {
    expect(parseApiReserve(value)).toEqual(reserve);
  });
  it.each([['101%'], ['-5'], ['20 percent'], [''], [1.5], [-1], [null], [{}]])('%j is not a reserve', (value) => {
    expect(parseApiReserve(value)).toBeUndefined();
  });
  it('gives a percentage in calls of the maximum, rounded up; a number as it is', () => {
    expect(reserveCalls({ percent: 20 }, 15_000)).toBe(3000);
    expect(reserveCalls({ percent: 12.5 }, 1001)).toBe(126);
    expect(reserveCalls({ calls: 700 }, 15_000)).toBe(700);
  });
});

describe('call kinds', () => {
  it.each([
    ['GET', '/limits', 'limits'],
    ['GET', '/services/data/v58.0/limits', 'limits'],
    ['GET', '/sobjects/Account/describe', 'describe'],
    ['GET', '/query', 'restQuery'],
    ['GET', '/services/data/v58.0/query/01gXX-2000', 'restQuery'],
    ['GET', '/queryAll', 'restQuery'],
    ['POST', '/jobs/query', 'bulkQuery'],
    ['GET', '/jobs/query/750xx/results', 'bulkQuery'],
    ['PUT', '/jobs/ingest/750xx/batches', 'bulkIngest'],
    ['POST', '/composite/sobjects', 'restWrite'],
    ['PATCH', '/composite/sobjects/Account/External_Id__c', 'restWrite'],
    ['POST', '/sobjects/Account', 'restWrite'],
    ['GET', '/services/data/v58.0', 'other'],
  ])('%s %s is %s', (method, path, kind) => {
    expect(callKind(method, path)).toBe(kind);
  });
});

describe('cost estimates', () => {
  it('counts REST pages of 2,000 records, times the field groups', () => {
    expect(readCost('REST_SYNC', 0).apiRequests).toBe(1);
    expect(readCost('REST_SYNC', 4001).apiRequests).toBe(3);
    expect(readCost('REST_SYNC', 4001, { groups: 2 }).apiRequests).toBe(6);
  });
  it('counts a Bulk read as one job, its polls and result pages', () => {
    const c = readCost('BULKV2', 3_000_000);
    expect(c).toMatchObject({ apiRequests: 1 + 6 + 60, bulkV2QueryJobs: 1, bulkApiBatches: 0 });
    expect(readCost('BULKV2', 100, { bulkPageRows: 10 }).apiRequests).toBe(1 + 3 + 10);
  });
  it('counts writes by the API the destination would choose', () => {
    expect(writeCost('AUTOMATIC', 999)).toMatchObject({ api: 'REST_SYNC', apiRequests: 5, bulkApiBatches: 0 });
    const bulk = writeCost('AUTOMATIC', 25_000);
    expect(bulk).toMatchObject({ api: 'BULKV2', bulkApiBatches: 3 });
    expect(bulk.apiRequests).toBeGreaterThanOrEqual(6);
  });
});
