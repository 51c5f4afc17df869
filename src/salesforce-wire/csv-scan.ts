import { CSV_SCAN_WASM } from './csv-scan-wasm.ts';

/**
 * The byte scanner of {@link BulkCsvRecords} (csv-reader.ts): WebAssembly compiled from csv-scan.wat (see there
 * for what it does), about N× the same loop in JavaScript. The module is compiled once per process (immutable
 * code, like a table); each scanner has its own instance and memory.
 */
const WASM = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
const MODULE = new WASM.Module(Buffer.from(CSV_SCAN_WASM, 'base64'));

/** scan(): the input ends before the record does. */
export const SCAN_INCOMPLETE = -1;
/** scan(): not a plain record (a cell not quoted, or a record end other than LF). */
export const SCAN_IRREGULAR = -2;
/** scan(): the record has more cells than the cell arrays hold ({@link CsvScanner.grow}, then scan again). */
export const SCAN_FULL = -3;

/** What this file uses of the WebAssembly API (Node has it; the TypeScript libs here do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { readonly exports: unknown };
}

interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

interface ScanExports {
  readonly memory: WasmMemory;
  readonly layout: (input: number, starts: number, ends: number, flags: number, cap: number, delimiter: number) => void;
  readonly scan: (p: number, n: number) => number;
}

/** The memory: the result (count, classes) at 0, the byte-class table at 256, then the cell arrays, then the input. */
const CELLS = 1024;
const PAGE = 65536;

export class CsvScanner {
  readonly #exports: ScanExports;
  readonly #delimiter: number;
  #cap = 0;
  #input = 0;
  #inputRoom = 0;
  #bytes = new Uint8Array(0);
  #result = new Int32Array(0);
  /** The record's cells: content bounds in the input, and byte classes (views on the module's memory). */
  starts = new Int32Array(0);
  ends = new Int32Array(0);
  flags = new Uint8Array(0);

  constructor(delimiter: number) {
    this.#exports = new WASM.Instance(MODULE).exports as unknown as ScanExports;
    this.#delimiter = delimiter;
    this.#layout(256, 0);
  }

  /** Places the cell arrays (`cap` cells) and room for `inputLength` bytes of input (and the scan's padding). */
  #layout(cap: number, inputLength: number): void {
    const input = (CELLS + cap * 9 + 15) & ~15;
    const need = input + inputLength + 16;
    const memory = this.#exports.memory;
    if (need > memory.buffer.byteLength) memory.grow(Math.ceil((need - memory.buffer.byteLength) / PAGE));
    const buffer = memory.buffer;
    this.#cap = cap;
    this.#input = input;
    this.#inputRoom = buffer.byteLength - input - 16;
    this.#bytes = new Uint8Array(buffer);
    this.#result = new Int32Array(buffer, 0, 2);
    this.starts = new Int32Array(buffer, CELLS, cap);
    this.ends = new Int32Array(buffer, CELLS + cap * 4, cap);
    this.flags = new Uint8Array(buffer, CELLS + cap * 8, cap);
    this.#exports.layout(input, CELLS, CELLS + cap * 4, CELLS + cap * 8, cap, this.#delimiter);
  }

  /** Copies the input into the module's memory (a `"` after it stops the scan's byte loop). */
  load(input: Uint8Array): void {
    if (input.length > this.#inputRoom) this.#layout(this.#cap, input.length);
    this.#bytes.set(input, this.#input);
    this.#bytes[this.#input + input.length] = 34;
  }

  /** Doubles the cell arrays, the input copied again (after {@link SCAN_FULL}). */
  grow(input: Uint8Array): void {
    this.#layout(this.#cap * 2, input.length);
    this.load(input);
  }

  /**
   * The end of the record at `p` of the loaded input's first `n` bytes (past its LF), {@link SCAN_INCOMPLETE},
   * {@link SCAN_IRREGULAR} or {@link SCAN_FULL}.
   */
  scan(p: number, n: number): number {
    return this.#exports.scan(p, n);
  }

  /** The scanned record's cells and or-ed classes. */
  count(): number {
    return this.#result[0] as number;
  }

  classes(): number {
    return this.#result[1] as number;
  }
}
