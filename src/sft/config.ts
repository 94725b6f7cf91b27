// The SFT config: typed, validated, every key documented by its default.
import { DEFAULT_VLM, validateVlmConfig, type VlmConfig } from '../model/config.js';
import * as s from '../util/schema.js';
import { Tokenizer } from '../model/tokenizer.js';

const schema = s.object({
  seed: s.int({ min: 0 }),
  model: s.object({
    vocab: s.int({ min: 1 }), dim: s.int({ min: 1 }), layers: s.int({ min: 1 }), heads: s.int({ min: 1 }),
    mlpRatio: s.int({ min: 1 }), maxText: s.int({ min: 16 }), imageSize: s.int({ min: 1 }), patch: s.int({ min: 1 }),
  }),
  steps: s.int({ min: 1 }),
  batch_size: s.int({ min: 1 }),
  lr: s.number({ gt: 0 }),
  warmup: s.int({ min: 0 }),
  min_lr_frac: s.number({ min: 0, max: 1 }),
  weight_decay: s.number({ min: 0 }),
  grad_clip: s.number({ min: 0 }),
  families: s.array(s.oneOf(['grid', 'shapes', 'chart'] as const), { minLength: 1 }),
  /** SFT sees horizons from each family's training minimum up to this (shorter than RL's). */
  max_horizon: s.object({ grid: s.int({ min: 1 }), shapes: s.int({ min: 1 }), chart: s.int({ min: 1 }) }),
  val_every: s.int({ min: 1 }),
  val_n: s.int({ min: 1 }),
  checkpoint_every: s.int({ min: 1 }),
  /** onnxruntime threads; 0 = all cores. */
  threads: s.int({ min: 0 }),
  /** Share of examples shown with the image re-inserted at a random step boundary, so the
   * policy can use the Re-Reasoning Loop's visual re-grounding (0 = plain examples only). */
  reground_prob: s.number({ min: 0, max: 1 }),
});

export type SftConfig = Omit<s.Infer<typeof schema>, 'model'> & { model: VlmConfig };

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
};

export function parseSftConfig(json: unknown, source: string): SftConfig {
  const c = s.parseWith(schema, json, source, DEFAULT_SFT as s.Infer<typeof schema>);
  const needed = new Tokenizer().vocabSize;
  if (c.model.vocab < needed) s.fail({ source }, 'model.vocab', `must be >= ${needed} (the tokenizer's size), got ${c.model.vocab}`);
  return { ...c, model: validateVlmConfig(c.model, `${source} model`) };
}
