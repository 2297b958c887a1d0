// Writes policies/schema.json from the code's own schema (src/policy/schema.ts).
// `npm run schema`; a unit test fails when the committed file is stale.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderSchema } from '../src/policy/schemaFile';

const target = join(__dirname, '..', 'policies', 'schema.json');
writeFileSync(target, renderSchema());
process.stdout.write(`wrote ${target}\n`);
