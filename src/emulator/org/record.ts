/**
 * Stored values use canonical field names and these representations:
 * - datetime: ISO-8601 UTC with milliseconds, `2024-04-16T19:00:00.000Z`; date `YYYY-MM-DD`; time `HH:mm:ss.SSSZ`
 * - numbers as JS numbers, booleans as booleans, text as strings, absent values as null
 * Compound fields (address, location) are not stored: they are built from their components on output.
 */
export type StoredValue = string | number | boolean | null;
export type StoredRecord = Readonly<Record<string, StoredValue>>;
