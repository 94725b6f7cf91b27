// Building blocks as plain functions of (parameter scope, input). Shapes in comments:
// B batch, T sequence, D model width, H heads, Dh = D/H head width.
import * as o from '../ops.js';
import type { ParamScope } from '../params.js';
import type { Tensor } from '../tensor.js';

/** y = x·W + b, W [in, out] ~ N(0, std²). */
export function linear(p: ParamScope, x: Tensor, inDim: number, outDim: number, opts: { bias?: boolean; std?: number } = {}): Tensor {
  const w = p.param('w', [inDim, outDim], { kind: 'normal', std: opts.std ?? 0.02 });
  const y = o.matmul(x, w);
  return opts.bias === false ? y : o.add(y, p.param('b', [outDim], { kind: 'zeros' }, false));
}

/** Rows of a [V, D] table. */
export function embedding(p: ParamScope, ids: Tensor, vocab: number, dim: number, std = 0.02): Tensor {
  return o.gather(p.param('w', [vocab, dim], { kind: 'normal', std }), ids);
}

/** `fused`: one LayerNormalization kernel (inference graphs only: no gradient). */
export function layerNorm(p: ParamScope, x: Tensor, dim: number, eps = 1e-5, fused = false): Tensor {
  const g = p.param('g', [dim], { kind: 'ones' }, false);
  const b = p.param('b', [dim], { kind: 'zeros' }, false);
  return fused ? o.fusedLayerNorm(x, g, b, eps) : o.layerNorm(x, g, b, eps);
}

/**
 * Position-wise MLP: D -> hidden -> D with GELU. `fused`: the first bias and the GELU as one
 * BiasGelu kernel (inference graphs only: no gradient); the same parameters either way.
 */
export function mlp(p: ParamScope, x: Tensor, dim: number, hidden: number, residStd: number, fused = false): Tensor {
  let h: Tensor;
  if (fused) {
    const fc = p.child('fc');
    const w = fc.param('w', [dim, hidden], { kind: 'normal', std: 0.02 });
    h = o.biasGelu(o.matmul(x, w), fc.param('b', [hidden], { kind: 'zeros' }, false));
  } else h = o.gelu(linear(p.child('fc'), x, dim, hidden));
  return linear(p.child('proj'), h, hidden, dim, { std: residStd });
}

/** Additive causal bias [T, T]: 0 where key <= query, -1e9 elsewhere. */
export function causalBias(T: number): Tensor {
  const data = new Float32Array(T * T);
  for (let q = 0; q < T; q++) for (let k = q + 1; k < T; k++) data[q * T + k] = -1e9;
  return o.constant(data, [T, T]);
}

export interface AttentionOptions {
  dim: number;
  heads: number;
  residStd: number;
  /** Additive bias broadcastable to [B, H, T, T] (causal structure and padding). */
  bias: Tensor;
}

/** Splits [B, T, D] into heads [B, H, T, Dh]. */
export function splitHeads(x: Tensor, heads: number, headDim: number): Tensor {
  return o.transpose(o.reshape(x, [x.shape[0]!, x.shape[1]!, heads, headDim]), [0, 2, 1, 3]);
}

/** Merges heads [B, H, T, Dh] back into [B, T, D]. */
export function mergeHeads(x: Tensor, dim: number): Tensor {
  const t = o.transpose(x, [0, 2, 1, 3]);
  return o.reshape(t, [t.shape[0]!, t.shape[1]!, dim]);
}

/** Projects x [B, T, D] to q, k, v, each [B, H, T, Dh], with one fused matmul. */
export function qkv(p: ParamScope, x: Tensor, dim: number, heads: number): [Tensor, Tensor, Tensor] {
  const fused = linear(p.child('qkv'), x, dim, 3 * dim);
  const hd = dim / heads;
  return [0, 1, 2].map((i) => splitHeads(o.slice(fused, -1, i * dim, (i + 1) * dim), heads, hd)) as [Tensor, Tensor, Tensor];
}

/** softmax(q·kᵀ/√Dh + bias)·v for q [B,H,Tq,Dh], k/v [B,H,Tk,Dh]. */
export function attend(q: Tensor, k: Tensor, v: Tensor, bias: Tensor): Tensor {
  const hd = q.shape[3] as number;
  const scores = o.add(o.mul(o.matmul(q, o.transpose(k)), 1 / Math.sqrt(hd)), bias);
  return o.matmul(o.softmax(scores, -1), v);
}

/** Multi-head self-attention; `bias` carries the causal/padding mask. */
export function selfAttention(p: ParamScope, x: Tensor, opts: AttentionOptions): Tensor {
  if (opts.dim % opts.heads !== 0) throw new Error(`attention: dim ${opts.dim} is not divisible by ${opts.heads} heads`);
  const [q, k, v] = qkv(p, x, opts.dim, opts.heads);
  const y = mergeHeads(attend(q, k, v, opts.bias), opts.dim);
  return linear(p.child('proj'), y, opts.dim, opts.dim, { std: opts.residStd });
}

/** Pre-LayerNorm transformer block: x + attn(ln(x)), then x + mlp(ln(x)). */
export function block(p: ParamScope, x: Tensor, opts: AttentionOptions & { mlpRatio: number }): Tensor {
  const h = o.add(x, selfAttention(p.child('attn'), layerNorm(p.child('ln1'), x, opts.dim), opts));
  return o.add(h, mlp(p.child('mlp'), layerNorm(p.child('ln2'), h, opts.dim), opts.dim, opts.mlpRatio * opts.dim, opts.residStd));
}
