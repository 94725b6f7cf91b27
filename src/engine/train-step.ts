// One ONNX model per training step: forward + loss + backward + AdamW. Parameters and
// optimizer state stay in host Float32Arrays; each step feeds them in zero-copy and swaps
// in the updated arrays the session returns.
import { grad } from './autodiff.js';
import { AdamState, adamwUpdate, momentName, updatedName, type AdamWConfig } from './optim.js';
import type { ParamRegistry, ParamStore } from './params.js';
import { compile, type CompiledGraph, type HostTensor, type RuntimeOptions } from './runtime.js';
import type { Tensor } from './tensor.js';

export interface TrainStepSpec {
  registry: ParamRegistry;
  loss: Tensor;
  /** Extra scalar outputs (accuracy, KL, ...), computed on the same forward pass. */
  metrics?: Record<string, Tensor>;
  adamw: AdamWConfig;
}

export interface StepResult { loss: number; gradNorm: number; metrics: Record<string, number> }

export class TrainStep {
  private constructor(
    readonly graph: CompiledGraph,
    private readonly registry: ParamRegistry,
    private readonly metricNames: string[],
  ) {}

  static async compile(spec: TrainStepSpec, opts: RuntimeOptions = {}): Promise<TrainStep> {
    const params = spec.registry.tensors();
    const grads = grad(spec.loss, params);
    const outputs: Record<string, Tensor> = { loss: spec.loss, ...adamwUpdate(spec.registry.specs(), params, grads, spec.adamw) };
    const metricNames = Object.keys(spec.metrics ?? {});
    for (const k of metricNames) {
      const t = spec.metrics![k]!;
      if (t.rank !== 0) throw new Error(`train step: metric "${k}" must be a scalar, got [${t.shape}]`);
      outputs[`metric:${k}`] = t;
    }
    return new TrainStep(await compile(outputs, opts), spec.registry, metricNames);
  }

  /** Runs one optimizer step in place on `params` and `state`. */
  async run(params: ParamStore, state: AdamState, batch: Record<string, HostTensor>, lr: number): Promise<StepResult> {
    const feeds: Record<string, HostTensor> = { ...batch, lr: { data: Float32Array.of(lr), shape: [] }, step: { data: Float32Array.of(state.step + 1), shape: [] } };
    for (const s of this.registry.specs()) {
      feeds[s.name] = { data: params.get(s.name), shape: s.shape };
      feeds[momentName(s.name, 'm')] = { data: state.m.get(s.name)!, shape: s.shape };
      feeds[momentName(s.name, 'v')] = { data: state.v.get(s.name)!, shape: s.shape };
    }
    const out = await this.graph.run(feeds);
    const loss = (out.loss!.data as Float32Array)[0]!;
    const gradNorm = (out.grad_norm!.data as Float32Array)[0]!;
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      // Leave params and state untouched: a non-finite step must not poison the model.
      throw new Error(`train step produced a non-finite loss (${loss}) or gradient norm (${gradNorm}); parameters left unchanged`);
    }
    for (const s of this.registry.specs()) {
      params.values.set(s.name, out[updatedName(s.name)]!.data as Float32Array);
      state.m.set(s.name, out[updatedName(momentName(s.name, 'm'))]!.data as Float32Array);
      state.v.set(s.name, out[updatedName(momentName(s.name, 'v'))]!.data as Float32Array);
    }
    state.step++;
    const metrics: Record<string, number> = {};
    for (const k of this.metricNames) metrics[k] = Number(out[`metric:${k}`]!.data[0]);
    return { loss, gradNorm, metrics };
  }
}
