// The policy update: the policy loss of losses.ts on the model's per-token log-probs, handed
// to the model as an objective (model/objective.ts compiles forward → loss → backward →
// AdamW, one step per padded length), run over shuffled minibatches for μ epochs.
import * as o from '../engine/ops.js';
import type { AdamState } from '../engine/optim.js';
import { Rng } from '../util/rng.js';
import { packRows, type PackedBatch } from '../model/batch.js';
import { trainOn, type Objective } from '../model/objective.js';
import type { Policy } from '../model/policy.js';
import { tokenAdvantages } from './advantages.js';
import { policyLossConfig, type RlConfig } from './config.js';
import { demonstrationNll, maskedMean, policyLoss, tokenEntropy } from './losses.js';
import type { Sample } from './rollout.js';

/** One sequence of the update batch, with everything the loss needs per token. */
export interface TrainRow {
  patches: Float32Array;
  promptIds: number[];
  sample: Sample;
  /** The sequence advantage (0 for a demonstration trained by NLL only). */
  advantage: number;
  /** Step-level credit: a negative advantage applies from this response token on (undefined = all tokens). */
  creditFrom?: number;
  /** Weight of each response token in the auxiliary NLL term (0 = none; see demoNllWeights). */
  nllWeight: number;
  /** log-probs of the response tokens under the sampling policy (null: the policy being
   *  updated is the sampling policy, so the update's own log-probs serve, stop-gradient) / the reference. */
  oldLogp: Float32Array | null;
  refLogp: Float32Array | null;
}

/**
 * Per-token weights of the auxiliary NLL: λ / (response tokens of all demonstrations), so the
 * term is λ times the mean NLL over demonstration tokens (SFT's token mean at λ = 1).
 */
export function demoNllWeight(demoTokens: number, lambda: number): number {
  return demoTokens > 0 ? lambda / demoTokens : 0;
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
  private readonly objectives = new Map<boolean, Objective>();
  constructor(private readonly policy: Policy, private readonly cfg: RlConfig) {}

  /** The policy loss as an objective; `oldFromUpdate`: the old log-probs are the update's own (stop-gradient). */
  private objective(oldFromUpdate: boolean): Objective {
    let obj = this.objectives.get(oldFromUpdate);
    if (!obj) {
      // Dr. GRPO divides by the generation cap this model can actually reach.
      const lossCfg = policyLossConfig(this.cfg, this.policy.cfg.maxText);
      obj = {
        key: `rl-policy:${JSON.stringify(lossCfg)}:old-from-update=${oldFromUpdate}`,
        adamw: { beta1: 0.9, beta2: this.cfg.adam_beta2, eps: 1e-8, weightDecay: this.cfg.weight_decay, maxGradNorm: this.cfg.max_grad_norm },
        loss: (g) => {
          const pl = policyLoss({
            logp: g.logp,
            oldLogp: oldFromUpdate ? o.stopGradient(g.logp) : g.input('old_logp'),
            refLogp: lossCfg.beta > 0 ? g.input('ref_logp') : undefined,
            advantages: g.input('adv'),
            mask: g.mask,
            offPolicyMask: g.input('off_policy'),
            // The entropy bonus differentiates through the logits; at coefficient 0 the
            // entropy only feeds the metric, through a stop-gradient.
            entropy: tokenEntropy(lossCfg.entropyCoef ? g.logits : o.stopGradient(g.logits)),
            cfg: lossCfg,
          });
          // Demonstrations learned by likelihood (ivr inject 'likelihood'), apart from the advantages.
          const nll = demonstrationNll(g.logp, g.input('nll_w'), g.mask);
          // Instruments: mean log-prob of demonstration tokens the prior rewrote, and of the rest.
          const demo = g.input('demo');
          const rewritten = g.input('rewritten');
          const kept = o.mul(demo, o.sub(1, rewritten));
          const lpSg = o.stopGradient(g.logp);
          return {
            loss: o.add(pl.loss, nll),
            metrics: { ...pl.metrics, demo_nll: o.stopGradient(nll), demo_rewritten_logp: maskedMean(lpSg, o.mul(rewritten, g.mask)), demo_kept_logp: maskedMean(lpSg, o.mul(kept, g.mask)) },
          };
        },
      };
      this.objectives.set(oldFromUpdate, obj);
    }
    return obj;
  }

  /** The packed minibatch (model/batch.ts). Advantages are per token (step-level credit). */
  feeds(rows: TrainRow[]): PackedBatch {
    const extras = ['adv', 'off_policy', 'nll_w', 'demo', 'rewritten'];
    if (!oldFromUpdate(rows)) extras.push('old_logp');
    if (policyLossConfig(this.cfg).beta > 0) extras.push('ref_logp');
    return packRows(rows.map((r) => ({
      patches: r.patches,
      text: [...r.promptIds, ...r.sample.responseIds],
      responseFrom: r.promptIds.length,
      extras: {
        adv: tokenAdvantages(r.advantage, r.sample.responseIds.length, r.creditFrom),
        off_policy: r.sample.offPolicy,
        nll_w: new Array<number>(r.sample.responseIds.length).fill(r.nllWeight),
        demo: new Array<number>(r.sample.responseIds.length).fill(r.sample.kind === 'policy' ? 0 : 1),
        rewritten: r.sample.rewritten ?? new Uint8Array(r.sample.responseIds.length),
        old_logp: r.oldLogp,
        ref_logp: r.refLogp,
      },
    })), this.policy.cfg, { extras, label: 'update' });
  }

  /** μ epochs of shuffled minibatches; returns metrics averaged over optimizer steps (`*_max` / `*_min`: the extreme over steps). */
  async update(allRows: TrainRow[], state: AdamState, lr: number, seed: number): Promise<Record<string, number>> {
    const rows = this.cfg.skip_zero_advantage ? allRows.filter((r) => r.advantage !== 0 || r.nllWeight > 0) : allRows;
    if (!rows.length) return {};
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
        const r = await trainOn(this.policy, this.objective(oldFromUpdate(mb)), this.feeds(mb), state, lr);
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
