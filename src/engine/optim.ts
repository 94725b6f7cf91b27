// AdamW inside the training graph (Loshchilov & Hutter 2019): global-norm gradient
// clipping, bias-corrected moments, decoupled weight decay, learning rate as an input.
import * as o from './ops.js';
import type { NamedTensor } from './checkpoint.js';
import type { ParamSpec } from './params.js';
import type { Tensor } from './tensor.js';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Clip the global gradient norm to this value; 0 disables clipping. */
  maxGradNorm: number;
}

export const DEFAULT_ADAMW: AdamWConfig = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 1.0 };

export const momentName = (param: string, which: 'm' | 'v') => `${param}::${which}`;
export const updatedName = (name: string) => `${name}::new`;

/**
 * Builds the update. Inputs it adds: `lr` and `step` (float32 scalars, step counted from 1)
 * and the moments of every parameter; outputs: the updated params and moments, `grad_norm`.
 */
export function adamwUpdate(specs: ParamSpec[], params: Tensor[], grads: Tensor[], cfg: AdamWConfig): Record<string, Tensor> {
  const lr = o.input('lr', [], 'float32');
  const step = o.input('step', [], 'float32');
  const sq = grads.map((g) => o.sum(o.mul(g, g)));
  const gradNorm = o.sqrt(sq.reduce((a, b) => o.add(a, b)));
  const scale = cfg.maxGradNorm > 0 ? o.clamp(o.div(cfg.maxGradNorm, o.add(gradNorm, 1e-6)), 0, 1) : null;
  const bc1 = o.sub(1, o.pow(o.scalar(cfg.beta1), step));
  const bc2 = o.sub(1, o.pow(o.scalar(cfg.beta2), step));
  const out: Record<string, Tensor> = { grad_norm: gradNorm };
  specs.forEach((spec, i) => {
    const p = params[i]!;
    const g = scale ? o.mul(grads[i]!, scale) : grads[i]!;
    const m = o.input(momentName(spec.name, 'm'), spec.shape, 'float32');
    const v = o.input(momentName(spec.name, 'v'), spec.shape, 'float32');
    const m2 = o.add(o.mul(m, cfg.beta1), o.mul(g, 1 - cfg.beta1));
    const v2 = o.add(o.mul(v, cfg.beta2), o.mul(o.mul(g, g), 1 - cfg.beta2));
    const update = o.div(o.div(m2, bc1), o.add(o.sqrt(o.div(v2, bc2)), cfg.eps));
    let p2 = o.sub(p, o.mul(update, lr));
    if (spec.decay && cfg.weightDecay > 0) p2 = o.sub(p2, o.mul(p, o.mul(lr, cfg.weightDecay)));
    out[updatedName(spec.name)] = p2;
    out[updatedName(momentName(spec.name, 'm'))] = m2;
    out[updatedName(momentName(spec.name, 'v'))] = v2;
  });
  return out;
}

/** Host state of AdamW: first and second moments per parameter and the step count. */
export class AdamState {
  constructor(
    readonly m: Map<string, Float32Array>,
    readonly v: Map<string, Float32Array>,
    public step: number,
  ) {}

  static zeros(specs: ParamSpec[]): AdamState {
    const size = (s: ParamSpec) => s.shape.reduce((a, b) => a * b, 1);
    return new AdamState(
      new Map(specs.map((s) => [s.name, new Float32Array(size(s))])),
      new Map(specs.map((s) => [s.name, new Float32Array(size(s))])),
      0,
    );
  }

  toTensors(specs: ParamSpec[]): NamedTensor[] {
    return specs.flatMap((s) => [
      { name: momentName(s.name, 'm'), dtype: 'float32' as const, shape: s.shape, data: this.m.get(s.name)! },
      { name: momentName(s.name, 'v'), dtype: 'float32' as const, shape: s.shape, data: this.v.get(s.name)! },
    ]);
  }

  static fromTensors(specs: ParamSpec[], tensors: Map<string, NamedTensor>, step: number): AdamState {
    const pick = (s: ParamSpec, which: 'm' | 'v') => {
      const t = tensors.get(momentName(s.name, which));
      if (!t || t.shape.join(',') !== s.shape.join(',')) throw new Error(`optimizer state lacks a ${which} moment of shape [${s.shape}] for "${s.name}"`);
      return t.data as Float32Array;
    };
    return new AdamState(new Map(specs.map((s) => [s.name, pick(s, 'm')])), new Map(specs.map((s) => [s.name, pick(s, 'v')])), step);
  }
}
