// Writes docs/flow-schema.json from the zod schema: `node --import tsx scripts/gen-flow-schema.ts`.
import { writeFileSync } from 'node:fs';
import { flowJsonSchemaText } from '../src/flows/json-schema.ts';

const target = new URL('../docs/flow-schema.json', import.meta.url);
writeFileSync(target, flowJsonSchemaText());
console.log(`wrote ${target.pathname}`);
