import { describe, expect, it } from 'vitest';
import { checksum, isValidId, normalizeId, to18 } from '../../src/salesforce-wire/ids.ts';
import { idCounter, makeId } from '../../src/emulator/ids.ts';

describe('record ids', () => {
  it('computes the checksum of real Salesforce ids', () => {
    expect(checksum('001B000001LntWl')).toBe('IAJ');
    expect(checksum('001B000001KYA8V')).toBe('IAX');
    expect(to18('001B000001LntWl')).toBe('001B000001LntWlIAJ');
  });

  it('mints ids with a key prefix, a counter and a valid checksum, and reads the counter back', () => {
    const id = makeId('001', 123456);
    expect(id).toHaveLength(18);
    expect(id.startsWith('001')).toBe(true);
    expect(isValidId(id)).toBe(true);
    expect(idCounter(id)).toBe(123456);
    expect(normalizeId(id.slice(0, 15))).toBe(id);
  });

  it('rejects malformed ids and bad checksums', () => {
    expect(isValidId('001B000001LntWlIAX')).toBe(false);
    expect(isValidId('not-an-id')).toBe(false);
    expect(normalizeId('001B000001LntW')).toBeUndefined();
  });
});
