// The SFT config: typed, validated, every key documented by its default. Upper bounds come
// from util/limits.ts (memory and context limits, reasons there).
import { z } from 'zod';
import { DEFAULT_VLM, validateVlmConfig, VLM_FLAGS, type VlmConfig } from '../model/config.js';
import { Tokenizer } from '../model/tokenizer.js';
import { MAX_BATCH_SEQUENCES, MAX_STEPS, MAX_TEXT_TOKENS, MAX_THREADS, MAX_VAL_INSTANCES } from '../util/limits.js';
import { configJsonSchema, fail, validate, withDefaults } from '../util/schema.js';
import { loadConfig, type ConfigOverride } from '../util/config-file.js';

const horizon = z.int().min(1).max(64);

const schema = z.strictObject({
  seed: z.int().min(0),
  model: z.strictObject({
    vocab: z.int().min(1), dim: z.int().min(1), layers: z.int().min(1), heads: z.int().min(1),
    mlpRatio: z.int().min(1), maxText: z.int().min(16).max(MAX_TEXT_TOKENS), imageSize: z.int().min(1), patch: z.int().min(1),
    // Architecture switches (model/config.ts VLM_FLAGS says what each does); absent = 0.
    ...Object.fromEntries(VLM_FLAGS.map((f) => [f, z.literal([0, 1]).optional()])) as Record<(typeof VLM_FLAGS)[number], z.ZodOptional<z.ZodLiteral<0 | 1>>>,
  }),
  steps: z.int().min(1).max(MAX_STEPS),
  batch_size: z.int().min(1).max(MAX_BATCH_SEQUENCES),
  lr: z.number().gt(0),
  warmup: z.int().min(0),
  min_lr_frac: z.number().min(0).max(1),
  weight_decay: z.number().min(0),
  grad_clip: z.number().min(0),
  families: z.array(z.enum(['grid', 'shapes', 'chart'])).min(1),
  /** SFT sees horizons from each family's training minimum up to this (shorter than RL's). */
  max_horizon: z.strictObject({ grid: horizon, shapes: horizon, chart: horizon }),
  val_every: z.int().min(1),
  val_n: z.int().min(1).max(MAX_VAL_INSTANCES),
  checkpoint_every: z.int().min(1),
  /** onnxruntime threads; 0 = all cores. */
  threads: z.int().min(0).max(MAX_THREADS),
  /** Share of examples shown with the image re-inserted at a random step boundary, so the
   * policy can use the Re-Reasoning Loop's visual re-grounding (0 = plain examples only). */
  reground_prob: z.number().min(0).max(1),
  /** Share of examples replaced by a scan of the same image (sft/scan.ts: k supervised reads,
   * loss on the contents only): a read is learned from many labelled lookups, and a scan gives
   * k of them per image (0 = gold solutions only). */
  scan_share: z.number().min(0).max(0.95),
});

export type SftConfig = Omit<z.infer<typeof schema>, 'model'> & { model: VlmConfig };

export const DEFAULT_SFT: SftConfig = {
  seed: 0,
  model: DEFAULT_VLM,
  steps: 3000,
  batch_size: 32,
  lr: 2e-3,
  warmup: 100,
  min_lr_frac: 0.1,
  weight_decay: 0.1,
  grad_clip: 1.0,
  families: ['grid', 'shapes', 'chart'],
  max_horizon: { grid: 5, shapes: 3, chart: 4 },
  val_every: 250,
  val_n: 48,
  checkpoint_every: 100,
  threads: 0,
  reground_prob: 0,
  scan_share: 0,
};

export function parseSftConfig(json: unknown, source: string): SftConfig {
  const c = validate(schema, withDefaults(DEFAULT_SFT, json), source);
  const needed = new Tokenizer().vocabSize;
  if (c.model.vocab < needed) fail(source, 'model.vocab', `must be >= ${needed} (the tokenizer's size), got ${c.model.vocab}`);
  return { ...c, model: validateVlmConfig(c.model, `${source} model`) };
}

/** The JSON Schema of SFT config files (docs/schema/sft-config.schema.json). */
export function sftConfigJsonSchema(): Record<string, unknown> {
  return configJsonSchema(schema, {
    title: 'ivr-r1 SFT config',
    description: 'ivr sft --config FILE. Every key is optional: a missing key takes the default shown (objects merge key by key).',
  }, DEFAULT_SFT, true);
}

/** Reads (JSON or YAML), applies `overrides` (`key.path=value`, see util/config-file.ts)
 *  and validates an SFT config file. */
export function loadSftConfig(file: string, overrides: readonly ConfigOverride[] = []): SftConfig {
  return loadConfig(file, overrides, parseSftConfig);
}
