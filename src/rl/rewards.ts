// Reward composition and KL-in-reward: pure functions on plain numbers, applied on the host
// before the advantage estimators (advantages.ts).
//
// Composition (config `reward.mode`). The verifier gives two 0/1 components per response:
// accuracy (the answer is right) and format (the response is well-formed, tasks/verify.ts):
// - 'accuracy':        r = accuracy
// - 'accuracy+format': r = accuracy + format_bonus · format (the DeepSeek-R1 style format
//                      reward, Guo et al. 2025 §2.2.2)
// - 'format-gate':     r = accuracy · format (no credit for a right answer in a broken format)
// - 'verified':        r = 1 only when the answer is right AND every step holds against the
//                      scene (tasks/verify.ts `complete`): a process-verified outcome reward
//                      (cf. Lightman et al. 2023, "Let's Verify Step by Step", where step
//                      labels beat outcome labels). Measured here (#12): the base's right
//                      answers are often guesses (pass@8 54% against greedy 19% on val, with
//                      answer spaces of a dozen values), and GRPO on accuracy reinforced them.
// The default is 'accuracy' by measurement (issue #12): with std-normalized group advantages
// a group whose rollouts are all wrong but differ in format turns the 0.1 bonus into ±1
// advantages, so GRPO learned the format and lost accuracy (23.3% → 17.5% test); with the
// bonus removed the degradation stopped. open-r1#255 reports the same format hacking.
//
// KL in the reward (config `kl.placement` = 'reward', verl's use_kl_in_reward; REINFORCE++,
// Hu 2025 §3, puts the token-level KL penalty in the reward the same way): the per-token
// estimate β·k_t of the sampling policy against the reference is subtracted from the reward
// instead of being a loss term. With an outcome reward the trainer's advantages are per
// sequence, so the sequence's penalty is the sum over its tokens, as verl's outcome
// estimators (grpo, rloo, reinforce++-baseline) sum token_level_rewards over the response.
// The KL is taken on sampled (on-policy) tokens only: demonstration tokens are not samples
// of π, so the estimators do not apply to them (the same rule as the loss's KL term).
import type { KlEstimator } from './losses.js';

export type RewardMode = 'accuracy' | 'accuracy+format' | 'format-gate' | 'verified';
export const REWARD_MODES: readonly RewardMode[] = ['accuracy', 'accuracy+format', 'format-gate', 'verified'];

/**
 * The composed outcome reward of one response (components 0 or 1; see the header).
 * `verified`: the whole chain holds and the answer is right (needed by mode 'verified').
 */
export function composeReward(mode: RewardMode, formatBonus: number, accuracy: number, format: number, verified?: number): number {
  if (!Number.isFinite(accuracy) || !Number.isFinite(format)) throw new RangeError(`composeReward: components must be finite, got accuracy ${accuracy}, format ${format}`);
  if (mode === 'accuracy') return accuracy;
  if (mode === 'accuracy+format') {
    if (!(formatBonus >= 0 && Number.isFinite(formatBonus))) throw new RangeError(`composeReward: formatBonus must be >= 0, got ${formatBonus}`);
    return accuracy + formatBonus * format;
  }
  if (mode === 'format-gate') return accuracy * format;
  if (mode === 'verified') {
    if (verified === undefined) throw new Error('composeReward: mode "verified" needs the verification of the steps');
    return verified;
  }
  throw new Error(`composeReward: unknown mode "${String(mode)}"`);
}

/**
 * Per-token KL estimate of KL(π‖π_ref) at a token sampled from π (Schulman 2020), the host
 * twin of losses.ts klEstimate (same formulas and clamps): d = logp − ref;
 * k1 = d, k2 = d²/2, k3 = exp(−d) + d − 1 with d clamped to [−20, 20] and k3 to ≤ 10.
 */
export function klPerToken(logp: number, refLogp: number, est: KlEstimator): number {
  const d = logp - refLogp;
  if (est === 'k1') return d;
  if (est === 'k2') return 0.5 * d * d;
  if (est === 'k3') {
    const x = Math.min(20, Math.max(-20, -d));
    return Math.min(10, Math.max(-10, Math.exp(x) - x - 1));
  }
  throw new Error(`klPerToken: unknown estimator "${String(est)}"`);
}

/**
 * The KL penalty subtracted from one response's reward: β · Σ_t k_t over its on-policy
 * tokens (offPolicy[t] = 0). `logp` are the sampling policy's log-probs of the response
 * tokens, `refLogp` the reference's.
 */
export function klRewardPenalty(
  logp: ArrayLike<number>, refLogp: ArrayLike<number>, offPolicy: ArrayLike<number>, est: KlEstimator, beta: number,
): number {
  if (logp.length !== refLogp.length || logp.length !== offPolicy.length) {
    throw new Error(`klRewardPenalty: lengths differ (logp ${logp.length}, refLogp ${refLogp.length}, offPolicy ${offPolicy.length})`);
  }
  if (!(beta >= 0 && Number.isFinite(beta))) throw new RangeError(`klRewardPenalty: beta must be >= 0, got ${beta}`);
  let s = 0;
  for (let t = 0; t < logp.length; t++) if (!offPolicy[t]) s += klPerToken(logp[t]!, refLogp[t]!, est);
  return beta * s;
}
