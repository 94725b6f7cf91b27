// The published JSON Schemas of the config files (docs/schema/), generated from the zod
// schemas that validate them, so an editor's completion and the loader never disagree.
// `npm run schema` writes them; test/util/config-schemas.test.ts checks the committed copies.
import { trainConfigJsonSchema } from './ivr/config.js';
import { sftConfigJsonSchema } from './sft/config.js';

/** File name under docs/schema/ → its text (pretty-printed JSON, trailing newline). */
export function configSchemaFiles(): Record<string, string> {
  const text = (js: unknown) => `${JSON.stringify(js, null, 2)}\n`;
  return {
    'rl-config.schema.json': text(trainConfigJsonSchema()),
    'sft-config.schema.json': text(sftConfigJsonSchema()),
  };
}
