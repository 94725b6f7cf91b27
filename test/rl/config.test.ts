import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { METHODS, generationCap, overlongMaxLen, policyLossConfig, parseRlConfig as parseBaseRlConfig } from '../../src/rl/config.js';
// The training-config parser (RL config + the methods' blocks, ivr/config.ts) is what files go through.
import { loadTrainConfig as loadRlConfig, parseTrainConfig as parseRlConfig, trainDefaults as rlDefaults } from '../../src/ivr/config.js';
import { z } from 'zod';
import { ConfigError, validate, withDefaults } from '../../src/util/schema.js';
import { MAX_BATCH_SEQUENCES, MAX_TEXT_TOKENS, MAX_THREADS } from '../../src/util/limits.js';

/** Asserts that `fn` throws a ConfigError whose message equals or matches `expected`. */
function throwsConfig(fn: () => unknown, expected: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    if (typeof expected === 'string') assert.equal(e.message, expected);
    else assert.match(e.message, expected);
    return true;
  });
}

test('per-method defaults follow the papers', () => {
  const grpo = rlDefaults('grpo');
  assert.equal(grpo.advantage, 'grpo');
  assert.equal(grpo.beta, 0.04);
  assert.equal(grpo.aggregation, 'seq-mean-token-mean');
  assert.deepEqual(grpo.clip, { eps_low: 0.2, eps_high: 0.2, dual_c: null });
  assert.equal(grpo.dynamic_sampling.enabled, false);
  assert.equal(grpo.overlong.enabled, false);

  const dr = rlDefaults('drgrpo');
  assert.equal(dr.advantage, 'drgrpo');
  assert.equal(dr.aggregation, 'seq-mean-token-sum-norm');
  assert.equal(dr.beta, 0);

  const dapo = rlDefaults('dapo');
  assert.deepEqual([dapo.clip.eps_low, dapo.clip.eps_high], [0.2, 0.28]);
  assert.equal(dapo.aggregation, 'token-mean');
  assert.equal(dapo.beta, 0);
  assert.equal(dapo.dynamic_sampling.enabled, true);
  assert.equal(dapo.overlong.enabled, true);
  assert.equal(dapo.advantage, 'grpo');

  const luffy = rlDefaults('luffy');
  assert.equal(luffy.gamma, 0.1);
  assert.equal(luffy.beta, 0);
  assert.equal(luffy.aggregation, 'token-mean');

  const ivr = rlDefaults('ivr');
  assert.equal(ivr.method, 'ivr');
  assert.equal(ivr.aggregation, grpo.aggregation);
  assert.equal(ivr.beta, grpo.beta);
  assert.deepEqual(ivr.ivr, {
    tau: 0.5, max_rectifications: 8, rounds: 3, localizer: 'verifier', rectifier: 're-ground',
    oracle_fallback: true, step_credit: true, shaping: true, inject: 'member', prefix_samples: 4, demo_nll: 1,
    replay: { per_iter: 0, capacity: 1024, max_uses: 4 },
  });
});

test('every default config validates and round-trips', () => {
  for (const m of METHODS) {
    const d = rlDefaults(m);
    const json = JSON.parse(JSON.stringify(d)) as Record<string, unknown>;
    if (m !== 'ivr') delete json.ivr; // the ivr block is only accepted for method ivr
    assert.deepEqual(parseRlConfig(json, `${m}.json`), d, m);
  }
});

test('missing keys take the method defaults; nested objects merge key by key', () => {
  assert.deepEqual(parseRlConfig({}, 'x.json'), rlDefaults('grpo'));
  assert.deepEqual(parseRlConfig({}, 'x.json', { method: 'dapo' }), rlDefaults('dapo'));
  const cfg = parseRlConfig({ method: 'ivr', lr: 1e-4, ivr: { rounds: 5 }, clip: { eps_high: 0.3 } }, 'configs/ivr.json');
  assert.equal(cfg.lr, 1e-4);
  assert.equal(cfg.ivr.rounds, 5);
  assert.equal(cfg.ivr.localizer, 'verifier');
  assert.equal(cfg.ivr.max_rectifications, 8);
  assert.deepEqual(cfg.clip, { eps_low: 0.2, eps_high: 0.3, dual_c: null });
  // Defaults are fresh copies.
  const a = rlDefaults('grpo');
  a.clip.eps_low = 0.9;
  assert.equal(rlDefaults('grpo').clip.eps_low, 0.2);
});

test('wrong-typed values name the file and the full key path', () => {
  throwsConfig(() => parseRlConfig({ method: 'ivr', ivr: { rounds: 'three' } }, 'configs/grpo.json'),
    'configs/grpo.json: key "ivr.rounds" must be an integer in [1, 64], got "three"');
  throwsConfig(() => parseRlConfig({ clip: { eps_high: true } }, 'c.json'),
    'c.json: key "clip.eps_high" must be a number >= 0, got true');
  throwsConfig(() => parseRlConfig({ group_size: 2.5 }, 'c.json'), 'c.json: key "group_size" must be an integer in [2, 256], got 2.5');
  throwsConfig(() => parseRlConfig({ group_size: 1 }, 'c.json'), /key "group_size" must be an integer in \[2, 256\], got 1$/);
  throwsConfig(() => parseRlConfig({ top_p: 0 }, 'c.json'), 'c.json: key "top_p" must be a number > 0 and <= 1, got 0');
  throwsConfig(() => parseRlConfig({ lr: '1e-5' }, 'c.json'), 'c.json: key "lr" must be a number > 0, got "1e-5"');
  throwsConfig(() => parseRlConfig({ aggregation: 'mean' }, 'c.json'),
    'c.json: key "aggregation" must be one of "seq-mean-token-mean", "token-mean", "seq-mean-token-sum-norm", got "mean"');
  throwsConfig(() => parseRlConfig({ overlong: { max_len: 'x' } }, 'c.json'),
    'c.json: key "overlong.max_len" must be an integer in [1, 4096] or null, got "x"');
  throwsConfig(() => parseRlConfig({ dynamic_sampling: true }, 'c.json'), 'c.json: key "dynamic_sampling" must be an object, got true');
  throwsConfig(() => parseRlConfig({ method: 'ivr', ivr: { rectifier: 'magic' } }, 'c.json'), /key "ivr.rectifier" must be one of "re-ground", "resample", "oracle", "adaptive", got "magic"/);
  throwsConfig(() => parseRlConfig({ method: 'ivr', ivr: { shaping: 'yes' } }, 'c.json'), 'c.json: key "ivr.shaping" must be true or false, got "yes"');
  throwsConfig(() => parseRlConfig({ method: 'ppo' }, 'c.json'), /key "method" must be one of "grpo", "drgrpo", "dapo", "luffy", "ivr", got "ppo"/);
  throwsConfig(() => parseRlConfig({ beta: null }, 'c.json'), 'c.json: key "beta" must be a number >= 0, got null');
});

test('unknown keys are errors naming the full path, with a hint', () => {
  throwsConfig(() => parseRlConfig({ lr_rate: 1 }, 'configs/grpo.json'), /^configs\/grpo\.json: unknown key "lr_rate" \(did you mean "lr"\?\); allowed keys: method, /);
  throwsConfig(() => parseRlConfig({ method: 'ivr', ivr: { roundz: 2 } }, 'configs/ivr.json'),
    /^configs\/ivr\.json: unknown key "ivr\.roundz" \(did you mean "rounds"\?\); allowed keys in "ivr": tau, /);
  throwsConfig(() => parseRlConfig({ overlong: { enabled: true, foo: 1 } }, 'c.json'), /unknown key "overlong\.foo"/);
});

test('method handling, the ivr block, cross-field checks, non-object input', () => {
  throwsConfig(() => parseRlConfig({ method: 'grpo' }, 'c.json', { method: 'dapo' }), 'c.json: key "method" is "grpo" but --method dapo was given');
  assert.equal(parseRlConfig({ method: 'dapo' }, 'c.json', { method: 'dapo' }).method, 'dapo');
  throwsConfig(() => parseRlConfig({ ivr: { rounds: 2 } }, 'c.json'), 'c.json: key "ivr" only applies to method "ivr" (this config is "grpo")');
  throwsConfig(() => parseRlConfig({ max_new_tokens: 16, overlong: { cache_len: 32 } }, 'c.json'),
    'c.json: key "overlong.cache_len" must be <= overlong.max_len (16, from max_new_tokens), got 32');
  throwsConfig(() => parseRlConfig({ clip: { eps_high: 0.28, dual_c: 1.1 } }, 'c.json'), /key "clip\.dual_c" must be > 1 \+ clip\.eps_high/);
  throwsConfig(() => parseRlConfig([], 'c.json'), 'c.json: the config must be a JSON object, got an array');
  throwsConfig(() => parseRlConfig(null, 'c.json'), 'c.json: the config must be a JSON object, got null');
  const cfg = parseRlConfig({ max_new_tokens: 64, overlong: { max_len: 48, cache_len: 16 } }, 'c.json');
  assert.equal(overlongMaxLen(cfg), 48);
  assert.equal(overlongMaxLen(parseRlConfig({ max_new_tokens: 64 }, 'c.json')), 64);
});

test('policyLossConfig maps the config onto the loss switches', () => {
  const cfg = parseRlConfig({ method: 'drgrpo', max_new_tokens: 96, clip: { dual_c: 3 } }, 'c.json');
  assert.deepEqual(policyLossConfig(cfg), {
    epsLow: 0.2, epsHigh: 0.2, dualClip: 3, beta: 0, gamma: 0.1, aggregation: 'seq-mean-token-sum-norm', maxLen: 96,
    klEstimator: 'k3', ratioLevel: 'token', entropyCoef: 0,
  });
  // KL in the reward takes β out of the loss; the estimator, GSPO and the entropy bonus map through.
  const g = parseRlConfig({ beta: 0.05, kl: { estimator: 'k2', placement: 'reward' }, ratio_level: 'sequence', entropy_coef: 0.001 }, 'c.json');
  assert.deepEqual(policyLossConfig(g), {
    epsLow: 0.2, epsHigh: 0.2, dualClip: null, beta: 0, gamma: 0.1, aggregation: 'seq-mean-token-mean', maxLen: 160,
    klEstimator: 'k2', ratioLevel: 'sequence', entropyCoef: 0.001,
  });
  assert.equal(policyLossConfig(parseRlConfig({ beta: 0.05, kl: { estimator: 'k1' } }, 'c.json')).beta, 0.05);
});

test('#12 keys: defaults (reward = accuracy only) and every method shares them', () => {
  for (const m of METHODS) {
    const d = rlDefaults(m);
    assert.deepEqual(d.reward, { mode: 'accuracy', format_bonus: 0.1 }, m);
    assert.deepEqual(d.kl, { estimator: 'k3', placement: 'loss' }, m);
    assert.equal(d.ratio_level, 'token', m);
    assert.equal(d.entropy_coef, 0, m);
    assert.deepEqual(d.prompts, { families: ['grid', 'shapes', 'chart'], min_horizon: null, max_horizon: null, curriculum: null }, m);
  }
  const cfg = parseRlConfig({
    advantage: 'reinforce++-baseline', reward: { mode: 'format-gate' },
    prompts: { families: ['grid'], min_horizon: 3, max_horizon: 5, curriculum: { start_max_horizon: 3, iterations: 50 } },
  }, 'c.json');
  assert.equal(cfg.advantage, 'reinforce++-baseline');
  assert.deepEqual(cfg.reward, { mode: 'format-gate', format_bonus: 0.1 });
  assert.deepEqual(cfg.prompts, { families: ['grid'], min_horizon: 3, max_horizon: 5, curriculum: { start_max_horizon: 3, iterations: 50 } });
  for (const a of ['grpo', 'drgrpo', 'rloo', 'reinforce++', 'reinforce++-baseline']) assert.equal(parseRlConfig({ advantage: a }, 'c.json').advantage, a);
});

test('#12 keys: errors name the field', () => {
  throwsConfig(() => parseRlConfig({ reward: { mode: 'format' } }, 'c.json'),
    'c.json: key "reward.mode" must be one of "accuracy", "accuracy+format", "format-gate", "verified", got "format"');
  throwsConfig(() => parseRlConfig({ reward: { format_bonus: -0.1 } }, 'c.json'), 'c.json: key "reward.format_bonus" must be a number >= 0, got -0.1');
  throwsConfig(() => parseRlConfig({ advantage: 'ppo' }, 'c.json'), /key "advantage" must be one of "grpo", "drgrpo", "rloo", "raft", "reinforce\+\+", "reinforce\+\+-baseline", got "ppo"/);
  throwsConfig(() => parseRlConfig({ kl: { estimator: 'k4' } }, 'c.json'), 'c.json: key "kl.estimator" must be one of "k1", "k2", "k3", got "k4"');
  throwsConfig(() => parseRlConfig({ kl: { placement: 'both' } }, 'c.json'), 'c.json: key "kl.placement" must be one of "loss", "reward", got "both"');
  throwsConfig(() => parseRlConfig({ ratio_level: 'seq' }, 'c.json'), 'c.json: key "ratio_level" must be one of "token", "sequence", got "seq"');
  throwsConfig(() => parseRlConfig({ entropy_coef: -1 }, 'c.json'), 'c.json: key "entropy_coef" must be a number >= 0, got -1');
  throwsConfig(() => parseRlConfig({ prompts: { families: ['grid', 'maze'] } }, 'c.json'), /key "prompts\.families\[1\]" must be one of "grid", "shapes", "chart", got "maze"/);
  throwsConfig(() => parseRlConfig({ prompts: { families: [] } }, 'c.json'), /key "prompts\.families" must be an array of at least 1/);
  throwsConfig(() => parseRlConfig({ prompts: { families: ['grid', 'grid'] } }, 'c.json'), 'c.json: key "prompts.families" lists "grid" twice');
  throwsConfig(() => parseRlConfig({ prompts: { min_horizon: 5, max_horizon: 4 } }, 'c.json'), 'c.json: key "prompts.min_horizon" must be <= prompts.max_horizon (4), got 5');
  throwsConfig(() => parseRlConfig({ prompts: { min_horizon: 7 } }, 'c.json'),
    'c.json: key "prompts.min_horizon" leaves family "shapes" no training horizon (its range is 2..6), got 7');
  assert.equal(parseRlConfig({ prompts: { families: ['grid'], min_horizon: 7 } }, 'c.json').prompts.min_horizon, 7);
  throwsConfig(() => parseRlConfig({ prompts: { max_horizon: 1 } }, 'c.json'), /key "prompts\.max_horizon" leaves family "grid" no training horizon/);
  throwsConfig(() => parseRlConfig({ prompts: { max_horizon: 4, curriculum: { start_max_horizon: 5, iterations: 10 } } }, 'c.json'),
    'c.json: key "prompts.curriculum.start_max_horizon" must be <= prompts.max_horizon (4), got 5');
  throwsConfig(() => parseRlConfig({ prompts: { min_horizon: 4, curriculum: { start_max_horizon: 3, iterations: 10 } } }, 'c.json'),
    'c.json: key "prompts.curriculum.start_max_horizon" must be >= prompts.min_horizon (4), got 3');
  throwsConfig(() => parseRlConfig({ prompts: { curriculum: { start_max_horizon: 3 } } }, 'c.json'), /missing required key "prompts\.curriculum\.iterations"/);
  throwsConfig(() => parseRlConfig({ prompts: { curriculum: { start_max_horizon: 3, iterations: 0 } } }, 'c.json'), /key "prompts\.curriculum\.iterations" must be an integer in \[1, 10000000\], got 0/);
});

test('loadRlConfig: file errors name the file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-rlcfg-'));
  try {
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, '{"lr": 1e-5,,}');
    throwsConfig(() => loadRlConfig(bad), new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: invalid JSON`));
    const good = path.join(dir, 'dapo.json');
    fs.writeFileSync(good, JSON.stringify({ method: 'dapo', iterations: 3 }));
    const cfg = loadRlConfig(good);
    assert.equal(cfg.iterations, 3);
    assert.equal(cfg.clip.eps_high, 0.28);
    throwsConfig(() => loadRlConfig(path.join(dir, 'missing.json')), /missing\.json: cannot read/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('validate: required keys, arrays, nullable objects, defaults, every problem listed', () => {
  const s = z.strictObject({ name: z.string().min(1), sizes: z.array(z.int().min(1)).min(1), opt: z.strictObject({ k: z.number() }).nullable(), kind: z.enum(['a', 'b']) });
  throwsConfig(() => validate(s, { sizes: [1], opt: null, kind: 'a' }, 'f.json'), 'f.json: missing required key "name" (a non-empty string)');
  throwsConfig(() => validate(s, { name: 'x', sizes: [1, 0], opt: null, kind: 'a' }, 'f.json'), 'f.json: key "sizes[1]" must be an integer >= 1, got 0');
  throwsConfig(() => validate(s, { name: 'x', sizes: [], opt: null, kind: 'a' }, 'f.json'), /key "sizes" must be an array of at least 1/);
  throwsConfig(() => validate(s, { name: 'x', sizes: [1], opt: { k: 'no' }, kind: 'a' }, 'f.json'), 'f.json: key "opt.k" must be a number, got "no"');
  throwsConfig(() => validate(s, { name: 'x', sizes: [1], opt: 3, kind: 'a' }, 'f.json'), 'f.json: key "opt" must be an object or null, got 3');
  const v = validate(s, { name: 'x', sizes: [2, 3], opt: { k: 1.5 }, kind: 'b' }, 'f.json');
  assert.deepEqual(v, { name: 'x', sizes: [2, 3], opt: { k: 1.5 }, kind: 'b' });
  // Defaults fill in; arrays replace rather than merge.
  const d = validate(s, withDefaults({ name: 'dflt', sizes: [1, 2], opt: null, kind: 'a' }, { sizes: [9] }), 'f.json');
  assert.deepEqual(d, { name: 'dflt', sizes: [9], opt: null, kind: 'a' });
  throwsConfig(() => validate(z.number(), NaN, 'f.json'), 'f.json: the top level must be a number, got NaN');
  // Several problems are all listed, one per line.
  throwsConfig(() => parseRlConfig({ lr: -1, group_size: 'x' }, 'c.json'),
    'c.json: 2 problems:\n  - key "group_size" must be an integer in [2, 256], got "x"\n  - key "lr" must be a number > 0, got -1');
  // A "__proto__" key is an unknown key, not a prototype.
  throwsConfig(() => parseRlConfig(JSON.parse('{"__proto__": {"lr": 1}}'), 'c.json'), /unknown key "__proto__"/);
});

test('#17 row 7: every size knob has an upper bound, named with the key in the error', () => {
  throwsConfig(() => parseRlConfig({ threads: 100000 }, 'c.json'), `c.json: key "threads" must be an integer in [0, ${MAX_THREADS}], got 100000`);
  throwsConfig(() => parseRlConfig({ val_size: 100000 }, 'c.json'), 'c.json: key "val_size" must be an integer in [1, 10000], got 100000');
  throwsConfig(() => parseRlConfig({ group_size: 100000 }, 'c.json'), 'c.json: key "group_size" must be an integer in [2, 256], got 100000');
  throwsConfig(() => parseRlConfig({ prompts_per_iter: 100000 }, 'c.json'), /key "prompts_per_iter" must be an integer in \[1, 1024\], got 100000/);
  throwsConfig(() => parseRlConfig({ minibatch_size: 100000 }, 'c.json'), /key "minibatch_size" must be an integer in \[1, 4096\]/);
  throwsConfig(() => parseRlConfig({ iterations: 1e12 }, 'c.json'), /key "iterations" must be an integer in \[1, 10000000\]/);
  throwsConfig(() => parseRlConfig({ max_new_tokens: 1e9 }, 'c.json'), `c.json: key "max_new_tokens" must be an integer in [1, ${MAX_TEXT_TOKENS}], got 1000000000`);
  throwsConfig(() => parseRlConfig({ prompts_per_iter: 1024, group_size: 8 }, 'c.json'),
    `c.json: key "group_size" times prompts_per_iter (8 × 1024 = 8192 rollouts per iteration) must be <= ${MAX_BATCH_SEQUENCES}`);
  assert.equal(parseRlConfig({ prompts_per_iter: 512, group_size: 8 }, 'c.json').group_size, 8);
});

test('#17 row 8: Dr. GRPO divides by the effective generation cap, not the raw max_new_tokens', () => {
  const cfg = parseRlConfig({ method: 'drgrpo', max_new_tokens: MAX_TEXT_TOKENS }, 'c.json');
  // A 320-token model cannot generate more than 320 tokens: that is the constant.
  assert.equal(policyLossConfig(cfg, 320).maxLen, 320);
  assert.equal(policyLossConfig(parseRlConfig({ method: 'drgrpo', max_new_tokens: 96 }, 'c.json'), 320).maxLen, 96);
  assert.equal(generationCap(cfg, 320), 320);
  // The raw 1e9 of the issue is refused at load.
  assert.throws(() => parseRlConfig({ method: 'drgrpo', max_new_tokens: 1e9 }, 'c.json'), /max_new_tokens/);
});

test('the RL config alone knows no method block: "ivr" is an unknown key without the IVR-R1 extension', () => {
  assert.throws(() => parseBaseRlConfig({ method: 'ivr', ivr: { rounds: 2 } }, 'c.json'), /unknown key "ivr"/);
  assert.equal(parseRlConfig({ method: 'ivr', ivr: { rounds: 2 } }, 'c.json').ivr.rounds, 2);
  assert.throws(() => parseRlConfig({ method: 'grpo', ivr: { rounds: 2 } }, 'c.json'), /"ivr": only applies to method "ivr"|ivr.*only applies to method "ivr"/);
});
