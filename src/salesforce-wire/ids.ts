/**
 * Salesforce record ids: 15 case-sensitive characters, plus a 3-character case-insensitive checksum in
 * the 18-character form the API returns. Shared by the client and the emulator (which mints its own ids
 * on top of these in src/emulator/ids.ts).
 */
const CHECKSUM_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
const ID_RE = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/;

/** The checksum suffix of a 15-character id. */
export function checksum(id15: string): string {
  let suffix = '';
  for (let i = 0; i < 3; i++) {
    let bits = 0;
    for (let j = 0; j < 5; j++) {
      const c = id15.charCodeAt(i * 5 + j);
      if (c >= 65 && c <= 90) bits |= 1 << j;
    }
    suffix += CHECKSUM_ALPHABET[bits];
  }
  return suffix;
}

/** The 18-character form of a 15- or 18-character id (the checksum recomputed). */
export function to18(id: string): string {
  const base = id.slice(0, 15);
  return base + checksum(base);
}

/** True when the text has the shape of a 15- or 18-character id. */
export function looksLikeId(text: string): boolean {
  return ID_RE.test(text);
}

/** True when the string has the shape of a 15- or 18-char id (and, for 18, a valid checksum). */
export function isValidId(id: string): boolean {
  if (!looksLikeId(id)) return false;
  if (id.length === 18) return checksum(id.slice(0, 15)).toUpperCase() === id.slice(15).toUpperCase();
  return true;
}

/** Canonical 18-char form of an id given in 15 or 18 chars; undefined when malformed. */
export function normalizeId(id: string): string | undefined {
  return isValidId(id) ? to18(id.slice(0, 15)) : undefined;
}
