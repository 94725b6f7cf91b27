// Defects found by scripts/kill-anywhere.mjs (issue #27, item 3), each with its regression test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fromInstance, wholePng } from '../../src/client/task.js';
import { encodePng, generateInstance, renderSmall } from '../../src/tasks/index.js';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-kill-anywhere-test-'));
process.on('exit', () => fs.rmSync(TMP, { recursive: true, force: true }));

test('synth task images: a PNG torn by a kill mid-render is rendered again, not kept forever', () => {
  // ivr synth renders images of tasks without image files into DEMOS.images/. They were
  // written with writeFileSync and skipped when the file existed, so a SIGKILL mid-write left
  // a torn PNG that every resumed run accepted (and served to the model).
  const inst = generateInstance('grid', 42, 3);
  const { images: _drop, ...bare } = inst;
  const dir = path.join(TMP, 'demos.images');
  const first = fromInstance(bare, dir);
  const small = first.images[0]!.path;
  const whole = fs.readFileSync(small);
  assert.ok(wholePng(small));
  assert.ok(whole.equals(Buffer.from(encodePng(renderSmall(inst)))));
  fs.writeFileSync(small, whole.subarray(0, Math.floor(whole.length / 2))); // the torn write
  assert.equal(wholePng(small), false);
  fromInstance(bare, dir); // the resumed run
  assert.ok(fs.readFileSync(small).equals(whole), 'the torn image was rendered again');
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('.tmp-')), [], 'no temp files left');
});

test('scripts/kill-anywhere.mjs at a small budget: sft and tasks export killed 3 times, resumed, equal to uninterrupted runs', { timeout: 180_000 }, async () => {
  const { spawnSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const r = spawnSync(process.execPath, [path.join(root, 'scripts/kill-anywhere.mjs'), '--kills', '3', '--seed', '5', '--only', 'sft,export', '--work', path.join(TMP, 'ka')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /3 kills in \d+ s; nothing lost, duplicated, locked or corrupt/);
});
