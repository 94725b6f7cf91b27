#!/usr/bin/env node
// Writes docs/schema/*.schema.json from the config parsers' zod schemas (npm run schema,
// after a build). The test test/util/config-schemas.test.ts fails when they are stale.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { configSchemaFiles } = await import(join(root, 'dist/src/config-schemas.js'));
const dir = join(root, 'docs/schema');
mkdirSync(dir, { recursive: true });
for (const [name, text] of Object.entries(configSchemaFiles())) {
  writeFileSync(join(dir, name), text);
  console.log(`wrote docs/schema/${name}`);
}
