// Writes src/salesforce-wire/csv-scan-wasm.ts from csv-scan.wat: `node --import tsx scripts/gen-csv-scan-wasm.ts`
// (needs the wabt devDependency; test/salesforce-wire/csv-scan-wasm.test.ts checks the file is its output).
import { writeFileSync } from 'node:fs';
import { csvScanWasmSource, loadWabt } from './csv-scan-wasm-source.ts';

const wabt = await loadWabt();
if (wabt === undefined) throw new Error('the wabt package is not installed (npm install, with the devDependencies)');
const target = new URL('../src/salesforce-wire/csv-scan-wasm.ts', import.meta.url);
writeFileSync(target, csvScanWasmSource(wabt));
console.log(`wrote ${target.pathname}`);
