// The policy update: one compiled graph per padded length (forward → per-token log-probs →
// policy loss of losses.ts → backward → AdamW), run over shuffled minibatches for μ epochs.
import * as o from '../engine/ops.js';
import type { AdamState } from '../engine/optim.js';
import { ParamRegistry } from '../engine/params.js';
import { Rng } from '../util/rng.js';
import type { HostTensor } from '../engine/runtime.js';
import { TrainStep } from '../engine/train-step.js';
import { numPatches, patchDim } from '../model/config.js';
import { Policy, roundUp } from '../model/policy.js';
import { forwardFull } from '../model/vlm.js';
import { tokenAdvantages } from './advantages.js';
import { policyLossConfig, type RlConfig } from './config.js';
import { policyLoss, tokenEntropy } from './losses.js';
import type { Group, Sample } from './rollout.js';
import type { Tensor } from '../engine/tensor.js';

/** One sequence of the update batch, with everything the loss needs per token. */
export interface TrainRow {
  patches: Float32Array;
  promptIds: number[];
  sample: Sample;
  /** log-probs of the response tokens under the sampling policy (null: the policy being
   *  updated is the sampling policy, so the update's own log-probs serve, stop-gradient) / the reference. */
  oldLogp: Float32Array | null;
  refLogp: Float32Array | null;
}

export function rowsOf(groups: Group[]): { patches: Float32Array; promptIds: number[]; sample: Sample }[] {
  return groups.flatMap((g) => g.samples.map((s) => ({ patches: g.patches, promptIds: g.promptIds, sample: s })));
}

/** log-probs of each row's response tokens under `policy` (one scoring pass). */
export async function responseLogps(policy: Policy, rows: { patches: Float32Array; promptIds: number[]; sample: Sample }[]): Promise<Float32Array[]> {
  const scored = await policy.scoreTexts(rows.map((r) => ({ patches: r.patches, text: [...r.promptIds, ...r.sample.responseIds] })));
  return scored.map((lp, i) => lp.slice(rows[i]!.promptIds.length - 1));
}

/** Whether the rows leave the old log-probs to the update's own forward pass (all or none may). */
function oldFromUpdate(rows: readonly TrainRow[]): boolean {
  const without = rows.filter((r) => r.oldLogp === null).length;
  if (without !== 0 && without !== rows.length) throw new Error(`update: ${without} of ${rows.length} rows lack old log-probs; give all or none`);
  return without === rows.length;
}

export class RlUpdater {
  private readonly steps = new Map<string, Promise<TrainStep>>();
  constructor(private readonly policy: Policy, private readonly cfg: RlConfig) {}

  private step(T: number, oldFromUpdate: boolean): Promise<TrainStep> {
    const key = `${T}:${oldFromUpdate}`;
    let s = this.steps.get(key);
    if (!s) {
      const c = this.policy.cfg;
      const reg = new ParamRegistry();
      const ids = o.input('ids', ['B', T], 'int64');
      const targets = o.input('targets', ['B', T], 'int64');
      const mask = o.input('mask', ['B', T]);
      const logits = forwardFull(reg.scope('vlm'), c, o.input('patches', ['B', numPatches(c), patchDim(c)]), ids);
      // Dr. GRPO divides by the generation cap this model can actually reach.
      const lossCfg = policyLossConfig(this.cfg, c.maxText);
      const useRef = lossCfg.beta > 0;
      const logp = o.tokenLogProbs(logits, targets);
      const pl = policyLoss({
        logp,
        oldLogp: oldFromUpdate ? o.stopGradient(logp) : o.input('old_logp', ['B', T]),
        refLogp: useRef ? o.input('ref_logp', ['B', T]) : undefined,
        advantages: o.input('adv', ['B', T]),
        mask,
        offPolicyMask: o.input('off_policy', ['B', T]),
        // The entropy bonus differentiates through the logits; at coefficient 0 the
        // entropy only feeds the metric, through a stop-gradient.
        entropy: tokenEntropy(lossCfg.entropyCoef ? logits : o.stopGradient(logits)),
        cfg: lossCfg,
      });
      const metrics: Record<string, Tensor> = {};
      for (const [k, v] of Object.entries(pl.metrics)) if (v) metrics[k] = v;
      s = TrainStep.compile({
        registry: reg, loss: pl.loss, metrics,
        adamw: { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: this.cfg.weight_decay, maxGradNorm: this.cfg.max_grad_norm },
      }, { threads: this.policy.threads });
      this.steps.set(key, s);
    }
    return s;
  }

  /** Host tensors for a minibatch of rows. Advantages are per token (step-level credit). */
  feeds(rows: TrainRow[], useStepCredit: boolean): { T: number; feeds: Record<string, HostTensor> } {
    const c = this.policy.cfg;
    const B = rows.length;
    const T = roundUp(Math.max(...rows.map((r) => r.promptIds.length + r.sample.responseIds.length - 1)));
    const N = numPatches(c);
    const P = patchDim(c);
    const patches = new Float32Array(B * N * P);
    const ids = new BigInt64Array(B * T);
    const targets = new BigInt64Array(B * T);
    const mask = new Float32Array(B * T);
    const old = new Float32Array(B * T);
    const ref = new Float32Array(B * T);
    const adv = new Float32Array(B * T);
    const off = new Float32Array(B * T);
    rows.forEach((r, b) => {
      patches.set(r.patches, b * N * P);
      const text = [...r.promptIds, ...r.sample.responseIds];
      const p0 = r.promptIds.length - 1; // position whose target is the first response token
      const tokAdv = tokenAdvantages(r.sample.advantage, r.sample.responseIds.length, useStepCredit ? r.sample.creditFrom : undefined);
      for (let t = 0; t < text.length - 1; t++) { ids[b * T + t] = BigInt(text[t]!); targets[b * T + t] = BigInt(text[t + 1]!); }
      r.sample.responseIds.forEach((_, i) => {
        const at = b * T + p0 + i;
        mask[at] = 1;
        if (r.oldLogp) old[at] = r.oldLogp[i]!;
        ref[at] = r.refLogp ? r.refLogp[i]! : 0;
        adv[at] = tokAdv[i]!;
        off[at] = r.sample.offPolicy[i]!;
      });
    });
    const f: Record<string, HostTensor> = {
      patches: { data: patches, shape: [B, N, P] }, ids: { data: ids, shape: [B, T] }, targets: { data: targets, shape: [B, T] },
      mask: { data: mask, shape: [B, T] }, adv: { data: adv, shape: [B, T] }, off_policy: { data: off, shape: [B, T] },
    };
    if (!oldFromUpdate(rows)) f.old_logp = { data: old, shape: [B, T] };
    if (policyLossConfig(this.cfg).beta > 0) f.ref_logp = { data: ref, shape: [B, T] };
    return { T, feeds: f };
  }

  /** μ epochs of shuffled minibatches; returns metrics averaged over optimizer steps (`*_max` / `*_min`: the extreme over steps). */
  async update(rows: TrainRow[], state: AdamState, lr: number, seed: number, useStepCredit: boolean): Promise<Record<string, number>> {
    if (oldFromUpdate(rows) && (this.cfg.epochs > 1 || rows.length > this.cfg.minibatch_size)) {
      throw new Error('update: old log-probs may come from the update itself only for one epoch in one minibatch (later steps need the sampling policy\'s)');
    }
    const rng = new Rng(seed);
    const sums: Record<string, number> = {};
    let n = 0;
    for (let e = 0; e < this.cfg.epochs; e++) {
      const order = rng.shuffled([...rows.keys()]);
      for (let s = 0; s < order.length; s += this.cfg.minibatch_size) {
        const mb = order.slice(s, s + this.cfg.minibatch_size).map((i) => rows[i]!);
        const { T, feeds } = this.feeds(mb, useStepCredit);
        const r = await (await this.step(T, oldFromUpdate(mb))).run(this.policy.params, state, feeds, lr);
        sums.loss = (sums.loss ?? 0) + r.loss;
        sums.grad_norm = (sums.grad_norm ?? 0) + r.gradNorm;
        for (const [k, v] of Object.entries(r.metrics)) {
          if (k.endsWith('_max')) sums[k] = n === 0 ? v : Math.max(sums[k]!, v);
          else if (k.endsWith('_min')) sums[k] = n === 0 ? v : Math.min(sums[k]!, v);
          else sums[k] = (sums[k] ?? 0) + v;
        }
        n++;
      }
    }
    return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, k.endsWith('_max') || k.endsWith('_min') ? v : v / Math.max(1, n)]));
  }
}
