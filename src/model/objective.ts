// The model owns its trainable graph. A caller (SFT, the RL update) hands over an
// objective: a loss written on what the model's forward pass gives it (logits, per-token
// log-probs of the targets, the loss mask, and per-position inputs of its own); the model
// traces forwardFull or forwardLayout with its parameters, appends the loss, and compiles
// forward → loss → backward → AdamW into one train step (engine/train-step.ts). Compiled
// steps are cached per (policy, objective, T[, L]) in a small LRU.
//
// Batches come from model/batch.ts: packRows feeds the full form (inputs patches, ids,
// targets, mask [B, T], extras [B, T]), packLayoutRows the layout form (patches, ids [B, T],
// order, bias, textDistance, targets, mask [B, L]).
import * as o from '../engine/ops.js';
import type { AdamState, AdamWConfig } from '../engine/optim.js';
import { ParamRegistry, type ParamStore } from '../engine/params.js';
import type { Tensor } from '../engine/tensor.js';
import { TrainStep, type StepResult } from '../engine/train-step.js';
import type { Feeds, PackedBatch } from './batch.js';
import { numPatches, patchDim } from './config.js';
import type { Policy } from './policy.js';
import { forwardFull, forwardLayout } from './vlm.js';

export type { AdamWConfig, StepResult };

/** What a loss is written on. S is the text length T (full form) or the layout length L. */
export interface LossGraph {
  /** Logits [B, S, V]: position s predicts targets[s]. */
  readonly logits: Tensor;
  /** Next-token targets [B, S] (int64). */
  readonly targets: Tensor;
  /** 1 where the target is a response token, else 0, [B, S]. */
  readonly mask: Tensor;
  /** log p(targets[s]) at every position, [B, S]. */
  readonly logp: Tensor;
  /** A float input [B, S] the batch feeds under `name` (a packRows extra). */
  input(name: string): Tensor;
}

export interface Loss {
  /** The scalar to minimise. */
  loss: Tensor;
  /** Scalar metrics computed on the same forward pass (undefined entries are skipped). */
  metrics?: Record<string, Tensor | undefined>;
}

export interface Objective {
  /** Names the graph `loss` builds: objectives with equal keys (and AdamW settings) must build the same graph. */
  key: string;
  loss: (g: LossGraph) => Loss;
  adamw: AdamWConfig;
}

/** A compiled train step: one optimizer step in place on `params` and `state`. */
export interface CompiledStep {
  run(params: ParamStore, state: AdamState, batch: Feeds, lr: number): Promise<StepResult>;
}

/** Shape of a batch: text length T, and the layout length L for the layout form. */
export interface StepShape { T: number; L?: number }

/** Compiled steps kept per policy (least recently used dropped first). */
export const MAX_CACHED_STEPS = 16;

const caches = new WeakMap<Policy, Map<string, Promise<CompiledStep>>>();

/** The compiled train step of `objective` for batches of this shape (cached). */
export function trainStep(policy: Policy, objective: Objective, shape: StepShape): Promise<CompiledStep> {
  let cache = caches.get(policy);
  if (!cache) caches.set(policy, (cache = new Map()));
  const key = `${objective.key}|${JSON.stringify(objective.adamw)}|T${shape.T}${shape.L === undefined ? '' : `|L${shape.L}`}`;
  let step = cache.get(key);
  if (step) {
    cache.delete(key); // re-inserted below as the most recently used
  } else {
    step = compileStep(policy, objective, shape);
    step.catch(() => { if (cache.get(key) === step) cache.delete(key); });
  }
  cache.set(key, step);
  // The runtime keeps no per-shape session we could release here (its session cache is
  // shared and keyed by graph bytes), so the bound is on entries.
  while (cache.size > MAX_CACHED_STEPS) cache.delete(cache.keys().next().value!);
  return step;
}

/** One optimizer step of `objective` on a packed batch, in place on the policy's parameters and `state`. */
export async function trainOn(policy: Policy, objective: Objective, batch: PackedBatch & { L?: number }, state: AdamState, lr: number): Promise<StepResult> {
  const step = await trainStep(policy, objective, { T: batch.T, L: batch.L });
  return step.run(policy.params, state, batch.feeds, lr);
}

function compileStep(policy: Policy, objective: Objective, { T, L }: StepShape): Promise<CompiledStep> {
  const c = policy.cfg;
  const reg = new ParamRegistry();
  const p = reg.scope('vlm');
  const patches = o.input('patches', ['B', numPatches(c), patchDim(c)]);
  const ids = o.input('ids', ['B', T], 'int64');
  const S = L ?? T;
  const logits = L === undefined
    ? forwardFull(p, c, patches, ids)
    : forwardLayout(p, c, patches, ids, o.input('order', ['B', L], 'int64'), o.input('bias', ['B', 1, L, L]), o.input('textDistance', ['B', 1, L, L]));
  const targets = o.input('targets', ['B', S], 'int64');
  const inputs = new Map<string, Tensor>([['mask', o.input('mask', ['B', S])]]);
  let logp: Tensor | undefined;
  const g: LossGraph = {
    logits,
    targets,
    mask: inputs.get('mask')!,
    get logp() { return (logp ??= o.tokenLogProbs(logits, targets)); },
    input(name) {
      let t = inputs.get(name);
      if (!t) inputs.set(name, (t = o.input(name, ['B', S])));
      return t;
    },
  };
  const { loss, metrics = {} } = objective.loss(g);
  const defined: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(metrics)) if (v) defined[k] = v;
  return TrainStep.compile({ registry: reg, loss, metrics: defined, adamw: objective.adamw }, { threads: policy.threads });
}
