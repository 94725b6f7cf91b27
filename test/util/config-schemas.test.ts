// The committed JSON Schemas of the configs are what the zod schemas generate, and the
// committed configs validate against what they promise (spot checks of the rendering).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configSchemaFiles } from '../../src/config-schemas.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

test('docs/schema/ holds exactly what `npm run schema` generates', () => {
  for (const [name, text] of Object.entries(configSchemaFiles())) {
    const file = path.join(ROOT, 'docs/schema', name);
    assert.ok(fs.existsSync(file), `${file} is missing: run npm run schema`);
    assert.equal(fs.readFileSync(file, 'utf8'), text, `${file} is stale: run npm run schema`);
  }
});

test('the schemas state the bounds, refuse unknown keys and require nothing that has a default', () => {
  const rl = JSON.parse(configSchemaFiles()['rl-config.schema.json']!);
  assert.equal(rl.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.equal(rl.additionalProperties, false);
  assert.equal(rl.required, undefined);
  assert.deepEqual(rl.properties.group_size, { type: 'integer', minimum: 2, maximum: 256 });
  assert.deepEqual(rl.properties.top_p, { type: 'number', exclusiveMinimum: 0, maximum: 1 });
  // The curriculum defaults to null, so once given, both of its keys are required.
  const cur = rl.properties.prompts.properties.curriculum.anyOf[0];
  assert.deepEqual(cur.required, ['start_max_horizon', 'iterations']);
  const sft = JSON.parse(configSchemaFiles()['sft-config.schema.json']!);
  assert.equal(sft.properties.batch_size.default, 32);
  assert.equal(sft.properties.model.properties.maxText.maximum, 4096);
});
