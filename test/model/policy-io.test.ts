// Policy checkpoints (model.safetensors + config.json + tokenizer.json): exact round trip of
// parameters, config, tokenizer, extra fields and optimizer state; clear errors when the
// config disagrees with the weights or the files are damaged.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AdamState } from '../../src/engine/optim.js';
import { Rng } from '../../src/util/rng.js';
import { loadPolicy, savePolicy } from '../../src/model/checkpoint-io.js';
import { numPatches, patchDim, type VlmConfig } from '../../src/model/config.js';
import { Policy } from '../../src/model/policy.js';
import { SPECIALS, Tokenizer } from '../../src/model/tokenizer.js';

const CFG: VlmConfig = { vocab: 112, dim: 32, layers: 2, heads: 2, mlpRatio: 2, maxText: 64, imageSize: 16, patch: 8 };
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-policy-io-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshDir = () => path.join(root, `ck${counter++}`);

function randomOptimizer(policy: Policy, step: number): AdamState {
  const st = AdamState.zeros(policy.params.specs);
  const rng = new Rng(99);
  for (const map of [st.m, st.v]) for (const a of map.values()) for (let i = 0; i < a.length; i++) a[i] = rng.float() * 2 - 1;
  st.step = step;
  return st;
}

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Saves a fresh tiny policy (with optimizer state) and returns its directory. */
function savedCheckpoint(withOptimizer = true): { dir: string; policy: Policy } {
  const policy = Policy.init(CFG, 5, undefined, 1);
  const dir = freshDir();
  savePolicy(dir, policy, { kind: 'sft' }, withOptimizer ? randomOptimizer(policy, 7) : undefined);
  return { dir, policy };
}

function editJson(file: string, edit: (j: Record<string, unknown>) => void): void {
  const j = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(j);
  fs.writeFileSync(file, JSON.stringify(j));
}

test('savePolicy/loadPolicy round trip: parameters, config, tokenizer, extra fields and optimizer state are identical', async () => {
  const tokenizer = new Tokenizer([...SPECIALS, '<img>'], 'abcdefghij0123456789 \n=+-<>/');
  const policy = Policy.init(CFG, 3, tokenizer, 1);
  const opt = randomOptimizer(policy, 17);
  const dir = freshDir();
  const extra = { kind: 'sft', config: { lr: 0.002, families: ['grid'] }, note: 'x' };
  savePolicy(dir, policy, extra, opt);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['config.json', 'model.safetensors', 'tokenizer.json']);

  const back = loadPolicy(dir, 1);
  assert.deepEqual(back.policy.cfg, CFG);
  assert.deepEqual(back.extra, extra);
  assert.deepEqual(back.policy.tokenizer.toJson(), tokenizer.toJson());
  assert.deepEqual(back.policy.params.specs.map((s) => s.name), policy.params.specs.map((s) => s.name));
  for (const s of policy.params.specs) {
    assert.ok(bits(back.policy.params.get(s.name)).equals(bits(policy.params.get(s.name))), `parameter ${s.name}`);
    assert.ok(bits(back.optimizer!.m.get(s.name)!).equals(bits(opt.m.get(s.name)!)), `m of ${s.name}`);
    assert.ok(bits(back.optimizer!.v.get(s.name)!).equals(bits(opt.v.get(s.name)!)), `v of ${s.name}`);
  }
  assert.equal(back.optimizer!.step, 17);

  // The loaded policy computes exactly what the saved one did.
  const rng = new Rng(1);
  const patches = Float32Array.from({ length: numPatches(CFG) * patchDim(CFG) }, () => rng.float() * 2 - 1);
  const text = [tokenizer.bos, ...tokenizer.encode('ab<img>c=12\n'), tokenizer.eos];
  const [a] = await policy.scoreTexts([{ patches, text }]);
  const [b] = await back.policy.scoreTexts([{ patches, text }]);
  assert.deepEqual(Array.from(b!), Array.from(a!));
});

test('without optimizer state: optimizer is null and no moments are stored; overwriting a checkpoint replaces it', () => {
  const { dir, policy } = savedCheckpoint(false);
  const back = loadPolicy(dir);
  assert.equal(back.optimizer, null);
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).optimizer_step, undefined);
  assert.ok(fs.statSync(path.join(dir, 'model.safetensors')).size < 2 * 4 * policy.params.count(), 'weights only, no moments');
  // Overwrite the same directory with different weights and optimizer state.
  const other = Policy.init(CFG, 6, undefined, 1);
  savePolicy(dir, other, { kind: 'rl' }, randomOptimizer(other, 3));
  const again = loadPolicy(dir);
  assert.equal(again.extra.kind, 'rl');
  assert.equal(again.optimizer!.step, 3);
  const name = other.params.specs[0]!.name;
  assert.ok(bits(again.policy.params.get(name)).equals(bits(other.params.get(name))));
  assert.deepEqual(fs.readdirSync(path.dirname(dir)).filter((f) => f.startsWith(path.basename(dir) + '.')), [], 'no temp dirs left behind');
});

test('config.json model dims that disagree with the weights: a clear error naming the tensor', () => {
  const cases: [Partial<VlmConfig>, RegExp][] = [
    [{ dim: 48 }, /"vlm\.[\w.]+".*\[.*32.*\].*\[.*48.*\]|"vlm\.[\w.]+".*48.*32/],
    [{ vocab: 120 }, /"vlm\.tok"/],
    [{ mlpRatio: 4 }, /"vlm\.h0\.mlp\.[\w.]+"/],
    [{ imageSize: 24 }, /"vlm\.(row|col)"/],
    [{ layers: 3 }, /"vlm\.h2\.[\w.]+"/],
    [{ layers: 1 }, /unexpected tensor "vlm\.h1\.[\w.]+"/],
  ];
  for (const [change, pattern] of cases) {
    const { dir } = savedCheckpoint();
    editJson(path.join(dir, 'config.json'), (j) => { j.model = { ...(j.model as object), ...change }; });
    assert.throws(() => loadPolicy(dir), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.match(e.message, pattern, `${JSON.stringify(change)}: ${e.message}`);
      return true;
    }, JSON.stringify(change));
  }
  // Text positions are ALiBi (nothing learned per position), so the context can be
  // lengthened after training: a larger maxText loads the same weights.
  {
    const { dir } = savedCheckpoint();
    editJson(path.join(dir, 'config.json'), (j) => { j.model = { ...(j.model as object), maxText: 1024 }; });
    assert.equal(loadPolicy(dir).policy.cfg.maxText, 1024);
  }
  // An invalid model section is refused by the config validator, naming the file.
  const { dir } = savedCheckpoint();
  editJson(path.join(dir, 'config.json'), (j) => { j.model = { ...(j.model as object), heads: 3 }; });
  assert.throws(() => loadPolicy(dir), /config\.json model: dim 32 must be divisible by heads 3/);
  editJson(path.join(dir, 'config.json'), (j) => { j.model = { ...(j.model as object), heads: 2, depth: 2 }; });
  assert.throws(() => loadPolicy(dir), /config\.json model: unknown model config key "depth"/);
  editJson(path.join(dir, 'config.json'), (j) => { delete j.model; });
  assert.throws(() => loadPolicy(dir), /config\.json: missing "model" section/);
});

test('truncated or padded model.safetensors: a clear error naming the file', () => {
  const { dir } = savedCheckpoint();
  const file = path.join(dir, 'model.safetensors');
  const full = fs.readFileSync(file);
  const headerLen = Number(full.readBigUInt64LE(0));
  const cuts = [0, 5, 8 + Math.floor(headerLen / 2), 8 + headerLen + 100, Math.floor(full.length / 2), full.length - 1];
  for (const cut of cuts) {
    fs.writeFileSync(file, full.subarray(0, cut));
    assert.throws(() => loadPolicy(dir), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.ok(e.message.includes(file), `cut ${cut}: message must name ${file}: ${e.message}`);
      assert.match(e.message, /truncated|shorter than|exceeds the file size/, `cut ${cut}: ${e.message}`);
      return true;
    }, `cut at ${cut} of ${full.length}`);
  }
  fs.writeFileSync(file, Buffer.concat([full, Buffer.alloc(4)]));
  assert.throws(() => loadPolicy(dir), /trailing bytes/);
  fs.rmSync(file);
  assert.throws(() => loadPolicy(dir), /not found: .*model\.safetensors/);
  fs.writeFileSync(file, full);
  assert.equal(loadPolicy(dir).optimizer!.step, 7, 'the intact file loads again');
});

test('damaged tokenizer.json / config.json / optimizer state: clear errors naming the file', () => {
  const { dir } = savedCheckpoint(false);
  const tokFile = path.join(dir, 'tokenizer.json');
  const tokText = fs.readFileSync(tokFile, 'utf8');
  fs.writeFileSync(tokFile, tokText.slice(0, 20));
  assert.throws(() => loadPolicy(dir), new RegExp(`tokenizer ${tokFile.replace(/[.]/g, '\\.')} is not valid JSON`));
  fs.writeFileSync(tokFile, JSON.stringify({ kind: 'bpe' }));
  assert.throws(() => loadPolicy(dir), /tokenizer\.json: not an ivr-char-v1 tokenizer/);
  fs.rmSync(tokFile);
  assert.throws(() => loadPolicy(dir), /tokenizer not found: .*tokenizer\.json/);
  // A tokenizer larger than the model's vocabulary is refused.
  fs.writeFileSync(tokFile, JSON.stringify(new Tokenizer(SPECIALS, Array.from({ length: 120 }, (_, i) => String.fromCharCode(0x100 + i)).join('')).toJson()));
  assert.throws(() => loadPolicy(dir), /tokenizer has 128 tokens but the model vocab is 112/);
  fs.writeFileSync(tokFile, tokText);
  // optimizer_step recorded but no moments stored: refused rather than resuming from zeros.
  editJson(path.join(dir, 'config.json'), (j) => { j.optimizer_step = 4; });
  assert.throws(() => loadPolicy(dir), /optimizer state lacks a m moment .* for "vlm\./);
  fs.writeFileSync(path.join(dir, 'config.json'), '{"model": ');
  assert.throws(() => loadPolicy(dir), /checkpoint config .*config\.json is not valid JSON/);
});

test('model.cellEmbed 1: one learned embedding per patch, saved and loaded; bad values are refused', async () => {
  const cfg: VlmConfig = { ...CFG, cellEmbed: 1 };
  const policy = Policy.init(cfg, 5, undefined, 1);
  const cell = policy.params.specs.find((s) => s.name.endsWith('cell'));
  assert.deepEqual(cell?.shape, [numPatches(cfg), cfg.dim]);
  assert.equal(Policy.init(CFG, 5, undefined, 1).params.specs.some((s) => s.name.endsWith('cell')), false, 'absent by default');
  const dir = freshDir();
  savePolicy(dir, policy, { kind: 'sft' });
  const back = loadPolicy(dir, 1).policy;
  assert.equal(back.cfg.cellEmbed, 1);
  assert.ok(bits(back.params.get(cell!.name)).equals(bits(policy.params.get(cell!.name))));
  assert.throws(() => loadPolicy((() => { const d = freshDir(); savePolicy(d, policy, { kind: 'sft' }); editJson(path.join(d, 'config.json'), (j) => { (j.model as Record<string, unknown>).cellEmbed = 2; }); return d; })(), 1), /cellEmbed" must be 0 or 1, got 2/);
});

test('model.cellAddress 1: one address projection per layer, saved and loaded; bad values are refused', async () => {
  const cfg: VlmConfig = { ...CFG, cellAddress: 1 };
  const policy = Policy.init(cfg, 6, undefined, 1);
  const side = cfg.imageSize / cfg.patch;
  const address = policy.params.specs.filter((s) => s.name.includes('.address.'));
  assert.equal(address.length, cfg.layers);
  for (const s of address) assert.deepEqual(s.shape, [cfg.dim, cfg.heads * 2 * side]);
  assert.equal(Policy.init(CFG, 6, undefined, 1).params.specs.some((s) => s.name.includes('.address.')), false, 'absent by default');
  const dir = freshDir();
  savePolicy(dir, policy, { kind: 'sft' });
  const back = loadPolicy(dir, 1).policy;
  assert.equal(back.cfg.cellAddress, 1);
  for (const s of address) assert.ok(bits(back.params.get(s.name)).equals(bits(policy.params.get(s.name))));
  assert.throws(() => loadPolicy((() => { const d = freshDir(); savePolicy(d, policy, { kind: 'sft' }); editJson(path.join(d, 'config.json'), (j) => { (j.model as Record<string, unknown>).cellAddress = 3; }); return d; })(), 1), /cellAddress" must be 0 or 1, got 3/);
});
