// Issue #17 row 9: a checkpoint whose weights are not finite, whose tokenizer.json was reordered
// or whose config.json model section was edited (heads) loaded with exit 0 and gave garbage.
// Loading now refuses each with an error naming the tensor or file; older checkpoints still load.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSafetensors, saveSafetensors } from '../../src/engine/checkpoint.js';
import { loadPolicy, savePolicy } from '../../src/model/checkpoint-io.js';
import type { VlmConfig } from '../../src/model/config.js';
import { Policy } from '../../src/model/policy.js';

const BASE = fileURLToPath(new URL('../../../checkpoints/base', import.meta.url));
const CFG: VlmConfig = { vocab: 112, dim: 32, layers: 2, heads: 2, mlpRatio: 2, maxText: 64, imageSize: 16, patch: 8 };
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-ck-load-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let counter = 0;

function saved(edit?: (p: Policy) => void): string {
  const policy = Policy.init(CFG, 5, undefined, 1);
  edit?.(policy);
  const dir = path.join(root, `ck${counter++}`);
  savePolicy(dir, policy, { kind: 'sft' });
  return dir;
}

function editJson(file: string, edit: (j: Record<string, unknown>) => void): void {
  const j = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(j);
  fs.writeFileSync(file, JSON.stringify(j, null, 2));
}

function baseCopy(): string {
  const dir = path.join(root, `base${counter++}`);
  fs.cpSync(BASE, dir, { recursive: true });
  return dir;
}

test('a checkpoint written before checksums and fingerprints existed (as checkpoints/base) loads with those checks skipped', () => {
  const dir = saved();
  editJson(path.join(dir, 'config.json'), (j) => { delete j.weights_sha256; });
  const file = path.join(dir, 'model.safetensors');
  saveSafetensors(file, loadSafetensors(file).tensors); // no header metadata, as the old writer
  editJson(path.join(dir, 'config.json'), (j) => { j.model = { ...(j.model as object), heads: 4 }; });
  assert.equal(loadPolicy(dir, 1).policy.cfg.heads, 4, 'nothing records what the weights were trained with');
});

test('NaN weights in a copy of checkpoints/base: refused, naming the tensor', () => {
  const dir = baseCopy();
  const file = path.join(dir, 'model.safetensors');
  const { tensors, metadata } = loadSafetensors(file);
  const victim = tensors[3]!;
  (victim.data as Float32Array)[7] = NaN;
  saveSafetensors(file, tensors, metadata);
  // checkpoints/base records its weights' sha256: the edited file is refused for that first
  assert.throws(() => loadPolicy(dir, 1), /sha256 [0-9a-f]+ differs from "[0-9a-f]+" recorded in .*config\.json/);
  // without the checksum (an older checkpoint), the finite check names the tensor
  editJson(path.join(dir, 'config.json'), (j) => { delete j.weights_sha256; });
  assert.throws(() => loadPolicy(dir, 1), new RegExp(`weights are not finite[^]*tensor "${victim.name.replace(/\./g, '\\.')}" has 1 non-finite value .* \\(first: NaN at index 7\\)`));
});

test('all-NaN weights saved by a diverged run: refused at load, naming the tensor', () => {
  const dir = saved((p) => p.params.get(p.params.specs[0]!.name).fill(NaN));
  assert.throws(() => loadPolicy(dir, 1), /weights are not finite[^]*tensor "vlm\.[\w.]+" has \d+ non-finite values/);
});

test('a reordered tokenizer.json: refused, naming the file', () => {
  const dir = saved();
  editJson(path.join(dir, 'tokenizer.json'), (j) => { j.chars = [...(j.chars as string)].reverse().join(''); });
  assert.throws(() => loadPolicy(dir, 1), /tokenizer\.json is not the vocabulary the weights were trained with/);
});

test('heads edited in config.json (still dividing dim, so every shape agrees): refused, naming the key', () => {
  const dir = saved();
  editJson(path.join(dir, 'config.json'), (j) => { j.model = { ...(j.model as object), heads: 4 }; });
  assert.throws(() => loadPolicy(dir, 1), /config\.json: model\.heads is 4 but the weights were trained with heads 2/);
  // maxText may still be raised after training (ALiBi positions): not part of the check.
  editJson(path.join(dir, 'config.json'), (j) => { j.model = { ...(j.model as object), heads: 2, maxText: 256 }; });
  assert.equal(loadPolicy(dir, 1).policy.cfg.maxText, 256);
});

test('a weights file changed after the save (checksum in config.json): refused, naming the file', () => {
  const dir = saved();
  const file = path.join(dir, 'model.safetensors');
  const bytes = fs.readFileSync(file);
  bytes[bytes.length - 2]! ^= 0x01; // a low mantissa bit: still a finite, well-formed file
  fs.writeFileSync(file, bytes);
  assert.throws(() => loadPolicy(dir, 1), new RegExp(`checkpoint ${file.replace(/[.]/g, '\\.')}: sha256 [0-9a-f]{64} differs from "[0-9a-f]{64}" recorded in`));
});
