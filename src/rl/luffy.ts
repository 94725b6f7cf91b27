// LUFFY-style baseline (Yan et al. 2025, "Learning to Reason under Off-Policy Guidance"):
// each group gets the task's gold solution as one extra, off-policy member. Its reward is
// recomputed like any other, it takes part in the group's advantage normalisation, and its
// tokens are trained with policy shaping f(π) = π/(π+γ) instead of the clipped ratio.
import { goldResponse } from '../tasks/index.js';
import { nothingAdded, type Augmenter } from './augment.js';
import { makeSample } from './rollout.js';

export const luffyAugmenter: Augmenter = {
  name: 'luffy',
  async augment(groups, ctx) {
    const tok = ctx.policy.tokenizer;
    let demoTokens = 0;
    const members = groups.map((g, group) => {
      const ids = tok.encode(goldResponse(g.inst));
      demoTokens += ids.length;
      return { group, sample: makeSample(ctx.cfg, ctx.policy, g.inst, 'gold', ids, true, new Uint8Array(ids.length).fill(1)) };
    });
    return { ...nothingAdded({ luffy_demos: groups.length, luffy_demo_tokens: demoTokens }), members };
  },
};
