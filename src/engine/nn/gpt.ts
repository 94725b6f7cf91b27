// A small GPT built from the blocks in layers.ts (nanoGPT's shape, traced symbolically).
import * as o from '../ops.js';
import type { ParamScope } from '../params.js';
import type { Tensor } from '../tensor.js';
import { block, causalBias, embedding, layerNorm, linear } from './layers.js';

export interface GptConfig {
  vocab: number;
  dim: number;
  layers: number;
  heads: number;
  mlpRatio: number;
  context: number;
}

/** Logits [B, T, V] for token ids [B, T] (T static, <= context). */
export function gpt(p: ParamScope, cfg: GptConfig, ids: Tensor): Tensor {
  const T = ids.shape[1];
  if (typeof T !== 'number' || T > cfg.context) throw new Error(`gpt: sequence length ${T} must be static and <= context ${cfg.context}`);
  const pos = o.slice(p.param('pos', [cfg.context, cfg.dim], { kind: 'normal', std: 0.02 }, false), 0, 0, T);
  let x = o.add(embedding(p.child('tok'), ids, cfg.vocab, cfg.dim), pos);
  const residStd = 0.02 / Math.sqrt(2 * cfg.layers);
  const bias = causalBias(T);
  for (let l = 0; l < cfg.layers; l++) {
    x = block(p.child(`h${l}`), x, { dim: cfg.dim, heads: cfg.heads, mlpRatio: cfg.mlpRatio, residStd, bias });
  }
  return linear(p.child('head'), layerNorm(p.child('lnf'), x, cfg.dim), cfg.dim, cfg.vocab, { bias: false });
}

/** Matmul FLOPs of one forward pass per token: 2·(weights touched) + attention 4·T·D·L. */
export function gptForwardFlopsPerToken(cfg: GptConfig, T: number): number {
  const perLayer = 2 * (cfg.dim * 3 * cfg.dim + cfg.dim * cfg.dim + 2 * cfg.dim * cfg.mlpRatio * cfg.dim);
  const attention = 2 * 2 * T * cfg.dim; // q·kᵀ and att·v, full (unmasked) T
  return cfg.layers * (perLayer + attention) + 2 * cfg.dim * cfg.vocab;
}
