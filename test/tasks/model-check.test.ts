// #17 row 10: what `ivr tasks validate` checks beyond the record, so that files `ivr eval`
// would reject (or silently score 0) fail validation, naming the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_VLM } from '../../src/model/config.js';
import { checkInstanceForModel, goldTokens } from '../../src/model/instance-check.js';
import { Tokenizer } from '../../src/model/tokenizer.js';
import { exportInstances, getSplit, loadInstances } from '../../src/tasks/index.js';

test('a large image as the small one, a truncated PNG and a gold answer beyond the context are reported', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ivr-modelcheck-'));
  try {
    const { file } = exportInstances(getSplit('grid', 'test', 2), dir, 'g');
    const [a, b] = loadInstances(file);
    const tok = new Tokenizer();
    assert.deepEqual(checkInstanceForModel(a!, DEFAULT_VLM, tok), []);
    copyFileSync(a!.images!.large, a!.images!.small);
    assert.match(checkInstanceForModel(a!, DEFAULT_VLM, tok)[0]!.detail, /is 384x384 but the model reads 48x48 images/);
    writeFileSync(b!.images!.large, readFileSync(b!.images!.large).subarray(0, 100));
    const p = checkInstanceForModel(b!, DEFAULT_VLM, tok);
    assert.equal(p[0]!.field, 'images.large');
    assert.match(p[0]!.detail, /does not decode as a PNG/);
    const tight = { ...DEFAULT_VLM, maxText: goldTokens(b!, tok) - 1 };
    const q = checkInstanceForModel({ ...b!, images: undefined }, tight, tok);
    assert.equal(q[0]!.field, 'answer');
    assert.match(q[0]!.detail, /take \d+ tokens but the model's text context holds \d+/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
