/**
 * A map from text keys to 32-bit integers held in typed arrays: the key's characters in one array (one byte each
 * while every key is Latin-1, two bytes after), and an open-addressing hash table of entry numbers.
 *
 * Why not a Map of strings: the result-matching index of a Bulk job (reconcile.ts) has one key per row sent, up to
 * about 500,000 per job, two jobs at a time. A Map costs about 80 bytes a row, and each key string is a heap object
 * that lives long enough to be promoted to the old generation, which V8 then lets grow to several times what is
 * live before a full collection (the import's peak RSS grew with the run: docs/benchmarks.md). Here a row costs its
 * characters plus 20 bytes, and the collector sees a handful of arrays.
 *
 * Lookups compare the stored characters, so two keys are never confused whatever their hashes.
 */
export class IdentityIndex {
  #chars: Uint8Array | Uint16Array;
  #used = 0;
  /** Entry e's key is #chars[#starts[e], #starts[e + 1]). */
  #starts: Int32Array;
  #values: Int32Array;
  #hashes: Int32Array;
  #count = 0;
  /** Slot → entry + 1 (0: empty); its length a power of two, at least twice the entries. */
  #table: Int32Array;

  /**
   * `keys` and `chars`: how many keys, and characters in all, the index is expected to hold (a job's rows and the
   * size of its identities file). Sized for them up front, it holds them in one allocation each, where growing
   * by doubling would leave up to as much again in outgrown arrays for the collector; it still grows past them.
   */
  constructor(keys = 1 << 12, chars = 1 << 16) {
    const entries = Math.max(16, Math.ceil(keys));
    this.#chars = new Uint8Array(Math.max(16, Math.ceil(chars)));
    this.#starts = new Int32Array(entries);
    this.#values = new Int32Array(entries);
    this.#hashes = new Int32Array(entries);
    let slots = 32;
    while (slots < entries * 2) slots *= 2;
    this.#table = new Int32Array(slots);
  }

  get size(): number {
    return this.#count;
  }

  get(key: string): number | undefined {
    const e = this.#find(key, hashOf(key));
    return e < 0 ? undefined : this.#values[e];
  }

  set(key: string, value: number): void {
    const hash = hashOf(key);
    const e = this.#find(key, hash);
    if (e >= 0) {
      this.#values[e] = value;
      return;
    }
    this.#add(key, hash, value);
  }

  /** The entry of `key`, or -1. */
  #find(key: string, hash: number): number {
    const table = this.#table;
    const mask = table.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const at = table[slot] as number;
      if (at === 0) return -1;
      const e = at - 1;
      if (this.#hashes[e] === hash && this.#equals(e, key)) return e;
    }
  }

  #equals(e: number, key: string): boolean {
    const start = this.#starts[e] as number;
    const end = e + 1 < this.#count ? (this.#starts[e + 1] as number) : this.#used;
    if (end - start !== key.length) return false;
    const chars = this.#chars;
    for (let i = 0; i < key.length; i++) if (chars[start + i] !== key.charCodeAt(i)) return false;
    return true;
  }

  #add(key: string, hash: number, value: number): void {
    const e = this.#count;
    if (e === this.#starts.length) {
      this.#starts = grown(this.#starts, e * 2);
      this.#values = grown(this.#values, e * 2);
      this.#hashes = grown(this.#hashes, e * 2);
    }
    let chars = this.#chars;
    if (this.#used + key.length > chars.length) chars = this.#chars = grownChars(chars, Math.max(chars.length * 2, this.#used + key.length), chars instanceof Uint16Array);
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      if (c > 0xff && !(chars instanceof Uint16Array)) chars = this.#chars = grownChars(chars, chars.length, true);
      chars[this.#used + i] = c;
    }
    this.#starts[e] = this.#used;
    this.#used += key.length;
    this.#values[e] = value;
    this.#hashes[e] = hash;
    this.#count = e + 1;
    if (this.#count * 2 > this.#table.length) this.#rehash(this.#table.length * 2);
    else this.#place(this.#table, e);
  }

  #place(table: Int32Array, e: number): void {
    const mask = table.length - 1;
    let slot = (this.#hashes[e] as number) & mask;
    while (table[slot] !== 0) slot = (slot + 1) & mask;
    table[slot] = e + 1;
  }

  #rehash(size: number): void {
    const table = new Int32Array(size);
    for (let e = 0; e < this.#count; e++) this.#place(table, e);
    this.#table = table;
  }
}

/** FNV-1a over the key's UTF-16 code units. */
function hashOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  // Spread the low bits the table indexes with.
  return h ^ (h >>> 15);
}

function grown(a: Int32Array, size: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(size);
  b.set(a);
  return b;
}

function grownChars(a: Uint8Array | Uint16Array, size: number, wide: boolean): Uint8Array | Uint16Array {
  const b = wide ? new Uint16Array(size) : new Uint8Array(size);
  b.set(a);
  return b;
}
