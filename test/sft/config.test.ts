// SFT config validation: every error names the file and the offending key; defaults fill
// missing keys (objects merge key by key); the committed base config parses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_VLM } from '../../src/model/config.js';
import { DEFAULT_SFT, parseSftConfig } from '../../src/sft/config.js';
import { ConfigError } from '../../src/util/schema.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const FILE = 'configs/my-sft.json';

function rejects(json: unknown, ...patterns: RegExp[]): string {
  let msg = '';
  assert.throws(() => parseSftConfig(json, FILE), (e: unknown) => {
    assert.ok(e instanceof Error);
    msg = e.message;
    assert.ok(msg.startsWith(`${FILE}`), `error must name the file first: ${msg}`);
    for (const p of patterns) assert.match(msg, p);
    return true;
  });
  return msg;
}

test('defaults: {} is the default config; a partial model merges with the default model', () => {
  assert.deepEqual(parseSftConfig({}, FILE), DEFAULT_SFT);
  const c = parseSftConfig({ model: { dim: 64, heads: 2 }, max_horizon: { grid: 3 } }, FILE);
  assert.deepEqual(c.model, { ...DEFAULT_VLM, dim: 64, heads: 2 });
  assert.deepEqual(c.max_horizon, { ...DEFAULT_SFT.max_horizon, grid: 3 });
  assert.equal(c.lr, DEFAULT_SFT.lr);
});

test('the committed configs/sft-base.json parses', () => {
  const file = path.join(ROOT, 'configs/sft-base.json');
  const c = parseSftConfig(JSON.parse(fs.readFileSync(file, 'utf8')), file);
  assert.ok(c.steps >= 1 && c.model.dim % c.model.heads === 0);
});

test('unknown keys are errors naming the key (top level and nested), with a did-you-mean hint', () => {
  const m = rejects({ lrr: 0.1 }, /unknown key "lrr"/, /did you mean "lr"/);
  assert.match(m, /allowed keys: .*\blr\b/);
  rejects({ model: { dimm: 64 } }, /unknown key "model\.dimm"/, /did you mean "dim"/);
  rejects({ max_horizon: { maze: 3 } }, /unknown key "max_horizon\.maze"/);
  assert.throws(() => parseSftConfig({ lrr: 0.1 }, FILE), ConfigError);
});

test('wrong types and out-of-range values name the key, the expectation and the value', () => {
  rejects({ lr: 'fast' }, /key "lr" must be a number > 0, got "fast"/);
  rejects({ lr: 0 }, /key "lr" must be a number > 0, got 0/);
  rejects({ steps: 2.5 }, /key "steps" must be an integer/, /got 2\.5/);
  rejects({ model: { dim: '128' } }, /key "model\.dim" must be an integer/, /got "128"/);
  rejects({ model: { maxText: 8 } }, /key "model\.maxText" must be an integer in \[16, 4096\], got 8/);
  rejects({ model: 'small' }, /key "model" must be an object/);
  rejects({ families: ['grid', 'maze'] }, /key "families\[1\]" must be one of "grid", "shapes", "chart", got "maze"/);
  rejects({ families: [] }, /key "families"/);
  rejects({ max_horizon: { grid: 0 } }, /key "max_horizon\.grid" must be an integer in \[1, 64\], got 0/);
  rejects({ min_lr_frac: 1.5 }, /key "min_lr_frac"/);
  rejects({ threads: -1 }, /key "threads"/);
  rejects([], /top level must be an object/);
});

test('model cross-field checks: dim divisible by heads, imageSize a multiple of patch', () => {
  rejects({ model: { dim: 50, heads: 4 } }, /model/, /dim 50/, /divisible by heads 4/);
  rejects({ model: { imageSize: 50, patch: 8 } }, /model/, /imageSize 50/, /multiple of patch 8/);
});

function cli(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stderr: r.stderr };
}

test('CLI: a bad config file is refused before training with a message naming the file and key', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-sft-config-'));
  try {
    const write = (name: string, text: string) => { const f = path.join(dir, name); fs.writeFileSync(f, text); return f; };
    const out = path.join(dir, 'run');
    const bad = write('bad.json', JSON.stringify({ model: { dim: 50, heads: 4 } }));
    let r = cli(['sft', '--config', bad, '--out', out, '--quiet']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`${bad.replace(/[.]/g, '\\.')} model: dim 50 must be divisible by heads 4`));
    assert.ok(!fs.existsSync(out), 'no run directory is created for an invalid config');

    const typo = write('typo.json', JSON.stringify({ stpes: 10 }));
    r = cli(['sft', '--config', typo, '--out', out, '--quiet']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /typo\.json: unknown key "stpes" \(did you mean "steps"\?\)/);

    const broken = write('broken.json', '{ "steps": 10, ');
    r = cli(['sft', '--config', broken, '--out', out, '--quiet']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /broken\.json: invalid JSON/);

    // A missing or unreadable file is an input error (1); a missing option a usage error (2).
    r = cli(['sft', '--config', path.join(dir, 'missing.json'), '--out', out]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /missing\.json: cannot read \(no such file\)/);
    r = cli(['sft', '--config', dir, '--out', out]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /is a directory, not a config file/);
    assert.doesNotMatch(r.stderr, /EISDIR/);
    r = cli(['sft', '--out', out]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /required option '--config <file>' not specified/);

    // A model vocabulary smaller than the tokenizer's is refused (at start, naming the vocab).
    const small = write('small-vocab.json', JSON.stringify({ model: { vocab: 50, dim: 16, layers: 1, heads: 2, maxText: 64, imageSize: 16, patch: 8 }, steps: 1, threads: 1 }));
    r = cli(['sft', '--config', small, '--out', path.join(dir, 'run2'), '--quiet']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /vocab/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
