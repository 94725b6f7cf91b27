// The RL training config: a typed, validated JSON file (configs/<method>.json). Keys are
// snake_case as written in the files; a missing key takes the method's default, an unknown
// or wrong-typed key is an error naming the file and the full key path.
//
// Per-method defaults follow each paper's recipe for the algorithmic knobs (what makes the
// method that method); the scale knobs (P, G, lengths, lr, iterations) are shared small-model
// values so the baselines are compared at equal budget.
// - grpo   (Shao et al. 2024, DeepSeekMath §4.1/§4.2): std-normalized group advantages,
//          ε = 0.2 both sides, β = 0.04 (DeepSeekMath's KL coefficient; we keep the
//          published value since GRPO is a baseline, and many recent setups that use β = 0
//          are covered by dapo/drgrpo), per-sequence token mean.
// - drgrpo (Liu et al. 2025, Dr. GRPO §3.2): advantages r − mean (no std), per-sequence
//          token sum over a constant (no 1/|o| length normalization), β = 0.
// - dapo   (Yu et al. 2025): clip-higher ε_low = 0.2, ε_high = 0.28, dynamic sampling,
//          token-level mean, soft overlong punishment, β = 0 (DAPO drops the KL term).
// - luffy  (Yan et al. 2025): GRPO advantages over on- and off-policy samples together,
//          policy shaping γ = 0.1 on demonstration tokens, β = 0 and token-level mean as in
//          the released code.
// - ivr    (DESIGN §7): everything grpo does (same defaults, so IVR vs GRPO isolates the
//          rectification), plus the `ivr` block; rewritten tokens use LUFFY's shaping γ.
// Shared across methods (the knobs verl/TRL/OpenRLHF users expect; each cited where it is
// implemented): reward composition (rewards.ts; default accuracy only, measured in #12),
// advantage estimators rloo / reinforce++ / reinforce++-baseline (advantages.ts), KL
// estimator k1/k2/k3 and placement loss/reward (losses.ts, rewards.ts), GSPO's sequence
// ratio and the entropy bonus (losses.ts), prompt filters and horizon curriculum (prompts.ts).
import { z } from 'zod';
import { ADVANTAGE_MODES } from './advantages.js';
import { KL_ESTIMATORS, type PolicyLossConfig } from './losses.js';
import { REWARD_MODES } from './rewards.js';
import { FAMILY_IDS, splitHorizons } from '../tasks/index.js';
import {
  MAX_BATCH_SEQUENCES, MAX_GROUP_SIZE, MAX_PROMPTS_PER_ITER, MAX_STEPS, MAX_TEXT_TOKENS, MAX_THREADS, MAX_VAL_INSTANCES,
} from '../util/limits.js';
import { configJsonSchema, fail, validate, withDefaults } from '../util/schema.js';
import { loadConfig, type ConfigOverride } from '../util/config-file.js';

export const METHODS = ['grpo', 'drgrpo', 'dapo', 'luffy', 'ivr'] as const;
export type RlMethod = (typeof METHODS)[number];
/** Methods that add samples to the update through an augmenter (built in ivr/methods.ts). */
export const METHOD_ADDS_SAMPLES: Readonly<Record<RlMethod, boolean>> = { grpo: false, drgrpo: false, dapo: false, luffy: true, ivr: true };

/**
 * A method's own config block (IVR-R1's `ivr`), owned by the method's folder and composed
 * into the RL config by its parser (src/ivr/config.ts): every parsed config carries the
 * block (defaults for other methods, so configs and run directories keep one shape), and a
 * file may write it only for its owner method.
 */
export interface ConfigExtension<T = unknown> {
  key: string;
  method: RlMethod;
  schema: z.ZodType<T>;
  defaults: T;
}

// Upper bounds come from util/limits.ts (memory and context limits, reasons there).
const rlSchema = z.strictObject({
  method: z.enum(METHODS),
  /** P: prompts per iteration. */
  prompts_per_iter: z.int().min(1).max(MAX_PROMPTS_PER_ITER),
  /** G: samples per prompt (a group); >= 2 or no group has a baseline. */
  group_size: z.int().min(2).max(MAX_GROUP_SIZE),
  temperature: z.number().gt(0),
  top_p: z.number().gt(0).max(1),
  /** No model's text context is longer than MAX_TEXT_TOKENS, so no generation either. */
  max_new_tokens: z.int().min(1).max(MAX_TEXT_TOKENS),
  iterations: z.int().min(1).max(MAX_STEPS),
  lr: z.number().gt(0),
  /** μ: passes over each rollout batch. */
  epochs: z.int().min(1).max(100),
  /** Sequences per optimizer step. */
  minibatch_size: z.int().min(1).max(MAX_BATCH_SEQUENCES),
  weight_decay: z.number().min(0),
  /** Global gradient-norm clip (0 = off). */
  max_grad_norm: z.number().min(0),
  /** AdamW's second-moment decay (β1 is 0.9). SFT uses 0.95. */
  adam_beta2: z.number().gt(0).lt(1),
  /** Linear learning-rate warm-up over this many iterations from a fresh optimizer (0 = none). */
  warmup_iters: z.int().min(0).max(MAX_STEPS),
  /** After the warm-up: 'constant' lr, or 'cosine' decay to min_lr_frac · lr at the last iteration (as SFT). */
  lr_schedule: z.enum(['constant', 'cosine']),
  /** The cosine schedule's floor, as a fraction of lr. */
  min_lr_frac: z.number().min(0).max(1),
  /** Leave rows whose advantage is 0 on every token out of the update (they add no gradient,
   *  only length to the token mean); an iteration with none left takes no optimizer step. */
  skip_zero_advantage: z.boolean(),
  /** 'grpo' = (r − mean)/(std + eps), 'drgrpo' = r − mean, 'rloo' = r − mean of the others,
   *  'raft' = r (SFT on the rewarded samples),
   *  'reinforce++' = batch-whitened r, 'reinforce++-baseline' = batch-whitened r − group mean. */
  advantage: z.enum(ADVANTAGE_MODES),
  /** λ multiplying negative advantages (1 = symmetric; < 1 favours positive samples, see advantages.ts). */
  negative_scale: z.number().min(0).max(1),
  /** Outcome reward composition (rewards.ts). */
  reward: z.strictObject({
    mode: z.enum(REWARD_MODES),
    /** Weight of the format component; used by mode 'accuracy+format' only. */
    format_bonus: z.number().min(0),
  }),
  clip: z.strictObject({
    eps_low: z.number().min(0).lt(1),
    eps_high: z.number().min(0),
    /** Dual-clip constant c for A < 0 (verl's clip_ratio_c); null = off. */
    dual_c: z.number().gt(1).nullable(),
  }),
  /** KL coefficient β to the frozen reference; 0 = no reference pass needed. */
  beta: z.number().min(0),
  kl: z.strictObject({
    /** Schulman's estimators: k1 = d, k2 = d²/2, k3 = e^−d + d − 1 with d = logp − ref. */
    estimator: z.enum(KL_ESTIMATORS),
    /** 'loss' = β·KL per token in the loss; 'reward' = β·Σ KL subtracted from the reward (verl use_kl_in_reward). */
    placement: z.enum(['loss', 'reward']),
  }),
  /** 'token' = PPO's per-token ratio; 'sequence' = GSPO's length-normalized sequence ratio. */
  ratio_level: z.enum(['token', 'sequence']),
  /** Entropy bonus coefficient c: the loss gets −c·(aggregated token entropy). */
  entropy_coef: z.number().min(0),
  /** The prompt stream (prompts.ts). */
  prompts: z.strictObject({
    families: z.array(z.enum(FAMILY_IDS)).min(1),
    /** Inclusive horizon bounds, intersected with each family's training range; null = none. */
    min_horizon: z.int().min(1).nullable(),
    max_horizon: z.int().min(1).nullable(),
    /** Linear ramp of the largest horizon from start_max_horizon over `iterations`; null = off. */
    curriculum: z.strictObject({
      start_max_horizon: z.int().min(1),
      iterations: z.int().min(1).max(MAX_STEPS),
    }).nullable(),
  }),
  /** Policy shaping γ of f(π) = π/(π+γ) for off-policy tokens. */
  gamma: z.number().gt(0),
  aggregation: z.enum(['seq-mean-token-mean', 'token-mean', 'seq-mean-token-sum-norm']),
  dynamic_sampling: z.strictObject({
    enabled: z.boolean(),
    /** Extra generation rounds allowed to refill the batch with non-zero-variance groups. */
    max_gen_batches: z.int().min(1).max(100),
  }),
  overlong: z.strictObject({
    enabled: z.boolean(),
    /** L_max; null = max_new_tokens. */
    max_len: z.int().min(1).max(MAX_TEXT_TOKENS).nullable(),
    /** L_cache: the punishment ramp before L_max. */
    cache_len: z.int().min(0),
    /** Multiplies the penalty in [−1, 0] before it is added to the reward. */
    penalty_factor: z.number().min(0),
  }),
  /** A fixed probe set of val prompts, measured every `every` iterations (rl/probe.ts):
   *  greedy accuracy, gold log-prob, log-probs where greedy departs from gold; null = off. */
  probe: z.strictObject({
    families: z.array(z.enum(FAMILY_IDS)).min(1),
    min_horizon: z.int().min(1).nullable(),
    max_horizon: z.int().min(1).nullable(),
    /** Instances per family. */
    n: z.int().min(1).max(MAX_VAL_INSTANCES),
    every: z.int().min(1),
  }).nullable(),
  /** Validate every N iterations (0 = never). */
  val_every: z.int().min(0),
  /** Validation instances per validation. */
  val_size: z.int().min(1).max(MAX_VAL_INSTANCES),
  /** Checkpoint every N iterations (0 = only at the end). */
  checkpoint_every: z.int().min(0),
  seed: z.int().min(0),
  /** onnxruntime intra-op threads; 0 = default (IVR_THREADS or all cores). */
  threads: z.int().min(0).max(MAX_THREADS),
});

export type RlConfig = z.infer<typeof rlSchema>;

const BASE: Omit<RlConfig, 'method'> = {
  prompts_per_iter: 16,
  group_size: 8,
  temperature: 1.0,
  top_p: 1.0,
  max_new_tokens: 160,
  iterations: 200,
  lr: 2e-5,
  epochs: 1,
  minibatch_size: 64,
  weight_decay: 0.0,
  max_grad_norm: 1.0,
  adam_beta2: 0.999,
  warmup_iters: 0,
  lr_schedule: 'constant',
  min_lr_frac: 0.1,
  skip_zero_advantage: false,
  advantage: 'grpo',
  negative_scale: 1,
  reward: { mode: 'accuracy', format_bonus: 0.1 },
  clip: { eps_low: 0.2, eps_high: 0.2, dual_c: null },
  beta: 0.04,
  kl: { estimator: 'k3', placement: 'loss' },
  ratio_level: 'token',
  entropy_coef: 0,
  prompts: { families: [...FAMILY_IDS], min_horizon: null, max_horizon: null, curriculum: null },
  gamma: 0.1,
  aggregation: 'seq-mean-token-mean',
  dynamic_sampling: { enabled: false, max_gen_batches: 10 },
  overlong: { enabled: false, max_len: null, cache_len: 32, penalty_factor: 1.0 },
  probe: null,
  val_every: 10,
  val_size: 128,
  checkpoint_every: 10,
  seed: 0,
  threads: 0,
};

const METHOD_OVERRIDES: Record<RlMethod, Partial<RlConfig>> = {
  grpo: {},
  drgrpo: { advantage: 'drgrpo', aggregation: 'seq-mean-token-sum-norm', beta: 0 },
  dapo: {
    beta: 0,
    aggregation: 'token-mean',
    clip: { eps_low: 0.2, eps_high: 0.28, dual_c: null },
    dynamic_sampling: { enabled: true, max_gen_batches: 10 },
    overlong: { enabled: true, max_len: null, cache_len: 32, penalty_factor: 1.0 },
  },
  luffy: { beta: 0, aggregation: 'token-mean', gamma: 0.1 },
  ivr: {},
};

/** The full default config of a method, with the defaults of every extension block. */
export function rlDefaults(method: RlMethod, extensions: readonly ConfigExtension[] = []): RlConfig {
  if (!METHODS.includes(method)) throw new Error(`rlDefaults: unknown method "${String(method)}"`);
  return structuredClone({ ...BASE, ...METHOD_OVERRIDES[method], method, ...Object.fromEntries(extensions.map((e) => [e.key, e.defaults])) });
}

export interface ParseRlOptions {
  /** The method chosen elsewhere (CLI --method); the file may omit `method` or must agree. */
  method?: RlMethod;
}

/**
 * Validates a parsed JSON config from `source`. The method comes from the file's `method`
 * key, else opts.method, else 'grpo'; its defaults fill every missing key.
 */
export function parseRlConfig(json: unknown, source: string, opts: ParseRlOptions = {}, extensions: readonly ConfigExtension[] = []): RlConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    fail(source, '', `the config must be a JSON object, got ${json === null ? 'null' : Array.isArray(json) ? 'an array' : typeof json}`);
  }
  const raw = json as Record<string, unknown>;
  if (opts.method !== undefined && !METHODS.includes(opts.method)) fail(source, 'method', `unknown method "${opts.method}"`);
  let method: RlMethod = opts.method ?? 'grpo';
  if ('method' in raw) {
    method = validate(z.strictObject({ method: rlSchema.shape.method }), { method: raw.method }, source).method;
    if (opts.method !== undefined && opts.method !== method) fail(source, 'method', `is "${method}" but --method ${opts.method} was given`);
  }
  for (const e of extensions) {
    if (e.key in raw && method !== e.method) fail(source, e.key, `only applies to method "${e.method}" (this config is "${method}")`);
  }
  const schema = extensions.length ? rlSchema.extend(Object.fromEntries(extensions.map((e) => [e.key, e.schema]))) : rlSchema;
  const cfg = validate(schema, withDefaults(rlDefaults(method, extensions), { ...raw, method }), source) as RlConfig;
  checkCrossFields(cfg, source);
  return cfg;
}

/** Checks that relate two keys. */
function checkCrossFields(cfg: RlConfig, source: string): void {
  const maxLen = overlongMaxLen(cfg);
  if (cfg.overlong.cache_len > maxLen) {
    fail(source, 'overlong.cache_len', `must be <= overlong.max_len (${maxLen}${cfg.overlong.max_len === null ? ', from max_new_tokens' : ''}), got ${cfg.overlong.cache_len}`);
  }
  if (cfg.clip.dual_c !== null && cfg.clip.dual_c <= 1 + cfg.clip.eps_high) {
    fail(source, 'clip.dual_c', `must be > 1 + clip.eps_high (${1 + cfg.clip.eps_high}), got ${cfg.clip.dual_c}`);
  }
  // Every rollout of an iteration is held in memory (tokens, log-probs, verdicts).
  const rollouts = cfg.prompts_per_iter * cfg.group_size;
  if (rollouts > MAX_BATCH_SEQUENCES) {
    fail(source, 'group_size', `times prompts_per_iter (${cfg.group_size} × ${cfg.prompts_per_iter} = ${rollouts} rollouts per iteration) must be <= ${MAX_BATCH_SEQUENCES}`);
  }
  checkPrompts(cfg.prompts, source);
}

/** Cross-field checks of the prompt stream: every family keeps at least one horizon. */
function checkPrompts(p: RlConfig['prompts'], source: string): void {
  const dup = p.families.find((f, i) => p.families.indexOf(f) !== i);
  if (dup) fail(source, 'prompts.families', `lists "${dup}" twice`);
  if (p.min_horizon !== null && p.max_horizon !== null && p.min_horizon > p.max_horizon) {
    fail(source, 'prompts.min_horizon', `must be <= prompts.max_horizon (${p.max_horizon}), got ${p.min_horizon}`);
  }
  for (const f of p.families) {
    const [lo, hi] = splitHorizons(f, 'train');
    if (p.min_horizon !== null && p.min_horizon > hi) fail(source, 'prompts.min_horizon', `leaves family "${f}" no training horizon (its range is ${lo}..${hi}), got ${p.min_horizon}`);
    if (p.max_horizon !== null && p.max_horizon < lo) fail(source, 'prompts.max_horizon', `leaves family "${f}" no training horizon (its range is ${lo}..${hi}), got ${p.max_horizon}`);
  }
  const c = p.curriculum;
  if (c && p.max_horizon !== null && c.start_max_horizon > p.max_horizon) {
    fail(source, 'prompts.curriculum.start_max_horizon', `must be <= prompts.max_horizon (${p.max_horizon}), got ${c.start_max_horizon}`);
  }
  if (c && p.min_horizon !== null && c.start_max_horizon < p.min_horizon) {
    fail(source, 'prompts.curriculum.start_max_horizon', `must be >= prompts.min_horizon (${p.min_horizon}), got ${c.start_max_horizon}`);
  }
}

/** Reads (JSON or YAML by extension), applies `overrides` (`--set key.path=value`, see
 *  util/config-file.ts) and validates a config file. */
export function loadRlConfig(file: string, opts: ParseRlOptions = {}, overrides: readonly ConfigOverride[] = [], extensions: readonly ConfigExtension[] = []): RlConfig {
  return loadConfig(file, overrides, (raw, source) => parseRlConfig(raw, source, opts, extensions));
}

/** The JSON Schema of RL config files (docs/schema/rl-config.schema.json). */
export function rlConfigJsonSchema(extensions: readonly ConfigExtension[] = []): Record<string, unknown> {
  const schema = extensions.length ? rlSchema.extend(Object.fromEntries(extensions.map((e) => [e.key, e.schema]))) : rlSchema;
  return configJsonSchema(schema, {
    title: 'ivr-r1 RL training config',
    description: 'ivr train --config FILE. Every key is optional: a missing key takes the default of the config\'s method (grpo, drgrpo, dapo, luffy, ivr; see rlDefaults). The "ivr" block applies to method "ivr" only.',
  }, rlDefaults('ivr', extensions), false);
}

/**
 * The generation cap the policy can actually reach: max_new_tokens, but never more than
 * the model's text context (`maxText`), which holds the prompt and the response.
 */
export function generationCap(cfg: RlConfig, maxText: number): number {
  return Math.min(cfg.max_new_tokens, maxText);
}

/**
 * The loss-graph switches implied by a config. Dr. GRPO's constant divisor is the
 * effective generation cap for a model with text context `maxText` (default: the config's
 * max_new_tokens alone): dividing by a cap no response can reach only shrinks the gradient.
 */
export function policyLossConfig(cfg: RlConfig, maxText = Infinity): PolicyLossConfig {
  return {
    epsLow: cfg.clip.eps_low,
    epsHigh: cfg.clip.eps_high,
    dualClip: cfg.clip.dual_c,
    // KL placed in the reward is applied on the host (rewards.ts), not in the loss.
    beta: cfg.kl.placement === 'loss' ? cfg.beta : 0,
    gamma: cfg.gamma,
    aggregation: cfg.aggregation,
    maxLen: generationCap(cfg, maxText),
    klEstimator: cfg.kl.estimator,
    ratioLevel: cfg.ratio_level,
    entropyCoef: cfg.entropy_coef,
  };
}

/** The effective overlong L_max (max_len, or max_new_tokens when null). */
export function overlongMaxLen(cfg: RlConfig): number {
  return cfg.overlong.max_len ?? cfg.max_new_tokens;
}
