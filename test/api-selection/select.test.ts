import { describe, expect, it } from 'vitest';
import { select, type SelectInput } from '../../src/api-selection/select.ts';

describe('select()', () => {
  const cases: Array<[string, SelectInput, 'REST_SYNC' | 'BULKV2', RegExp]> = [
    ['source 999,999 → REST', { direction: 'source', preference: 'AUTOMATIC', recordCount: 999_999 }, 'REST_SYNC', /999,999 records is below the source threshold of 1,000,000/],
    ['source 1,000,000 → Bulk', { direction: 'source', preference: 'AUTOMATIC', recordCount: 1_000_000 }, 'BULKV2', /1,000,000 records is at or above the source threshold/],
    ['source 0 → REST', { direction: 'source', preference: 'AUTOMATIC', recordCount: 0 }, 'REST_SYNC', /below/],
    ['destination 999 → REST', { direction: 'destination', preference: 'AUTOMATIC', recordCount: 999 }, 'REST_SYNC', /999 records is below the destination threshold of 1,000/],
    ['destination 1,000 → Bulk', { direction: 'destination', preference: 'AUTOMATIC', recordCount: 1_000 }, 'BULKV2', /1,000 records is at or above the destination threshold of 1,000/],
    ['forced BULKV2 with few records', { direction: 'source', preference: 'BULKV2', recordCount: 3 }, 'BULKV2', /requested by the flow/],
    ['forced REST with many records', { direction: 'source', preference: 'REST_SYNC', recordCount: 5_000_000 }, 'REST_SYNC', /requested by the flow/],
    ['AUTOMATIC, too wide for REST → Bulk', { direction: 'source', preference: 'AUTOMATIC', recordCount: 10, capabilities: { restSingleQuery: false } }, 'BULKV2', /URI limit/],
    ['REST forced, too wide → field groups', { direction: 'source', preference: 'REST_SYNC', recordCount: 10, capabilities: { restSingleQuery: false } }, 'REST_SYNC', /joined by Id/],
    ['no Bulk support, many records → REST', { direction: 'source', preference: 'AUTOMATIC', recordCount: 2_000_000, capabilities: { bulk: false } }, 'REST_SYNC', /does not support/],
    ['AUTOMATIC, filters alone too long for any REST URL → Bulk', { direction: 'source', preference: 'AUTOMATIC', recordCount: 0, capabilities: { restSingleQuery: false, rest: false } }, 'BULKV2', /filters alone exceed the REST URI limit/],
    ['REST forced, filters alone too long for any REST URL → Bulk', { direction: 'source', preference: 'REST_SYNC', recordCount: 0, capabilities: { restSingleQuery: false, rest: false } }, 'BULKV2', /REST_SYNC requested, but .* Bulk API 2.0 is used instead/],
    ['BULKV2 forced, no Bulk support → REST', { direction: 'destination', preference: 'BULKV2', recordCount: 2, capabilities: { bulk: false } }, 'REST_SYNC', /does not support/],
  ];
  it.each(cases)('%s', (_name, input, api, reason) => {
    const s = select(input);
    expect(s.api).toBe(api);
    expect(s.reason).toMatch(reason);
  });
});
