// Injection (DESIGN §7.4): how a rectified trajectory enters the update. It is always trained
// in the plain context (no re-grounding tokens: the policy must produce grounded steps
// unaided). An injector returns the sample and where it goes; the trainer puts it there.
// - member (DESIGN §7.4, LUFFY-style): the trajectory joins its group with its reward, so
//   the group's advantages are computed with it included. Text the policy sampled keeps the
//   PPO ratio; text rewritten from the prior uses policy shaping (ivr.shaping) or not.
// - likelihood (UFT: Liu et al. 2025, "UFT: Unifying Supervised and Reinforcement
//   Fine-Tuning", arXiv 2505.16984; ReLIFT: Ma et al. 2025, "Learning What Reinforcement
//   Learning Can't", arXiv 2506.07527): an auxiliary λ·NLL on the trajectory (λ =
//   ivr.demo_nll), apart from the advantages: the group's advantages stay those of the
//   policy's own samples, and the demonstration is learned like an SFT example.
import type { Policy } from '../model/policy.js';
import type { Group, Sample } from '../rl/rollout.js';
import { makeSample } from '../rl/rollout.js';
import type { TrainConfig } from './config.js';
import type { Piece } from './rereason.js';

export interface Injection {
  sample: Sample;
  /** 'member': joins the group's advantages; 'demo': trained by the auxiliary NLL. */
  as: 'member' | 'demo';
}

export interface Injector {
  name: string;
  inject(group: Group, pieces: Piece[], policy: Policy, cfg: TrainConfig): Injection;
}

/** The trajectory's tokens and, per token, whether the prior wrote it. Pieces end at line
 *  breaks and hold tags whole, so piecewise encoding equals encoding the whole text. */
function encodePieces(pieces: Piece[], policy: Policy): { ids: number[]; rewritten: Uint8Array } {
  const ids: number[] = [];
  const rw: number[] = [];
  for (const p of pieces) {
    const t = policy.tokenizer.encode(p.text);
    ids.push(...t);
    for (let i = 0; i < t.length; i++) rw.push(p.rewritten ? 1 : 0);
  }
  return { ids, rewritten: Uint8Array.from(rw) };
}

export const memberInjector: Injector = {
  name: 'member',
  inject(group, pieces, policy, cfg) {
    const { ids, rewritten } = encodePieces(pieces, policy);
    const offPolicy = cfg.ivr.shaping ? rewritten.slice() : new Uint8Array(ids.length);
    return { sample: makeSample(cfg, policy, group.inst, 'rectified', ids, true, offPolicy, rewritten), as: 'member' };
  },
};

export const likelihoodInjector: Injector = {
  name: 'likelihood',
  inject(group, pieces, policy, cfg) {
    const { ids, rewritten } = encodePieces(pieces, policy);
    return { sample: makeSample(cfg, policy, group.inst, 'rectified', ids, true, new Uint8Array(ids.length), rewritten), as: 'demo' };
  },
};

export const INJECTORS = { member: memberInjector, likelihood: likelihoodInjector } as const satisfies Record<string, Injector>;
export type InjectorName = keyof typeof INJECTORS;
