// Outcome-reward advantage estimators of the GRPO family and the DAPO reward/batch helpers.
// Pure functions on plain numbers: the trainer computes advantages on the host and feeds
// them to the loss graph (src/rl/losses.ts) as a [B, T] tensor.
//
// References
// - GRPO: Shao et al. 2024, "DeepSeekMath: Pushing the Limits of Mathematical Reasoning in
//   Open Language Models", §4.1.2 (outcome supervision): Â_i = (r_i − mean(r)) / std(r),
//   broadcast to every token of response i.
// - Dr. GRPO: Liu et al. 2025, "Understanding R1-Zero-Like Training: A Critical
//   Perspective", §3.2: dividing by std(r) up-weights questions that are too easy or too
//   hard (a difficulty bias), so Dr. GRPO uses Â_i = r_i − mean(r).
// - DAPO: Yu et al. 2025, "DAPO: An Open-Source LLM Reinforcement Learning System at
//   Scale": dynamic sampling (§3.2, drop groups whose rewards are all equal) and soft
//   overlong punishment (§3.4, eq. 13).
// - RLOO: Ahmadian et al. 2024, "Back to Basics: Revisiting REINFORCE Style Optimization
//   for Learning from Human Feedback in LLMs", §3.2 (after Kool et al. 2019, "Buy 4
//   REINFORCE Samples, Get a Baseline for Free!"): each sample's baseline is the mean of the
//   *other* samples of its group, Â_i = r_i − 1/(G−1) Σ_{j≠i} r_j = G/(G−1)·(r_i − mean(r)).
// - REINFORCE++: Hu 2025, "REINFORCE++: A Simple and Efficient Approach for Aligning Large
//   Language Models" (arXiv 2501.03262), §3: no critic and no per-prompt std; the
//   advantages are normalized over the whole *batch* (global mean/std). The "with baseline"
//   variant (§3, for reasoning tasks with several samples per prompt) first subtracts the
//   group mean, then normalizes over the batch.
// - RAFT: Dong et al. 2023, "RAFT: Reward rAnked FineTuning for Generative Foundation Model
//   Alignment"; as the plain "fine-tune on the verified successes" baseline of Xiong et al.
//   2025, "A Minimalist Approach to LLM Reasoning: from Rejection Sampling to Reinforce"
//   (arXiv 2504.11343): Â_i = r_i, no baseline. With a 0/1 verified reward and token-mean
//   aggregation the policy loss is SFT's cross-entropy on the group's right answers.
//
// - Asymmetric weighting of negatives: Arnal et al. 2025, "Asymmetric REINFORCE for
//   off-Policy Reinforcement Learning: Balancing positive and negative rewards" (arXiv
//   2506.20520): lowering the baseline, i.e. giving negative samples less weight than positive
//   ones, keeps training stable where the symmetric estimator drives the policy's likelihood
//   of everything down. Measured here (#12): one GRPO step on a small policy lowers negative
//   responses by 0.022 nats/token but raises positive ones by only 0.005, and over steps the
//   positives and a gold demonstration lose likelihood too. `scaleNegatives` multiplies
//   Â_i < 0 by λ ∈ [0, 1] (λ = 1: the estimator unchanged).
//
// How the reference frameworks do it, and where we differ on purpose:
// - verl (trainer/ppo/core_algos.py, compute_grpo_outcome_advantage) uses
//   (r − mean) / (torch.std(r) + 1e-6), torch.std being the *unbiased* (n−1) estimator;
//   TRL's GRPOTrainer also uses the unbiased `.std()` (with eps 1e-4). We use the unbiased
//   std too, so advantages match verl for the same rewards.
// - verl gives a single-sample group mean 0 and std 1, i.e. the raw reward as advantage.
//   A lone sample has no group baseline, so here it is a zero-variance group with advantage
//   exactly 0 (no signal), and it is flagged; the same for groups whose rewards are all
//   equal (verl returns ±0 up to rounding; we return exact 0 and flag it so the trainer can
//   count, drop or refill such groups).

/** Group-local estimators: each group's advantages depend on that group only. */
export type GroupAdvantageMode = 'grpo' | 'drgrpo' | 'rloo' | 'raft';
/** Batch estimators: the normalization runs over every sample of the batch (REINFORCE++). */
export type BatchAdvantageMode = 'reinforce++' | 'reinforce++-baseline';
export type AdvantageMode = GroupAdvantageMode | BatchAdvantageMode;
export const ADVANTAGE_MODES: readonly AdvantageMode[] = ['grpo', 'drgrpo', 'rloo', 'raft', 'reinforce++', 'reinforce++-baseline'];

export interface GroupAdvantages {
  /** One advantage per sample, same nesting as the rewards. */
  advantages: number[][];
  /** Per group: all rewards equal (incl. single-sample and empty groups), advantages 0. */
  zeroVariance: boolean[];
}

function checkRewards(rewards: readonly (readonly number[])[]): void {
  rewards.forEach((g, i) => {
    if (!Array.isArray(g)) throw new TypeError(`groupAdvantages: group ${i} is not an array`);
    g.forEach((r, j) => {
      if (typeof r !== 'number' || !Number.isFinite(r)) throw new RangeError(`groupAdvantages: reward [${i}][${j}] is not a finite number: ${r}`);
    });
  });
}

/**
 * True when a group carries no learning signal: fewer than two samples, or all rewards
 * equal. Equality tolerates float rounding (1e-12 relative), so that rewards computed as
 * sums (accuracy + format + overlong penalty) still compare equal.
 */
export function isZeroVariance(group: readonly number[]): boolean {
  if (group.length < 2) return true;
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of group) { lo = Math.min(lo, r); hi = Math.max(hi, r); }
  return hi - lo <= 1e-12 * Math.max(1, Math.abs(hi), Math.abs(lo));
}

/** Unbiased (n−1) sample standard deviation, as torch.std; 0 for fewer than two values. */
export function unbiasedStd(xs: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mu = xs.reduce((a, b) => a + b, 0) / n;
  return Math.sqrt(xs.reduce((a, x) => a + (x - mu) ** 2, 0) / (n - 1));
}

/**
 * Group-relative advantages, one group per prompt.
 * - 'grpo':   A = (r − mean) / (std + eps), std the unbiased sample std (as verl/TRL).
 * - 'drgrpo': A = r − mean (no std normalization).
 * - 'rloo':   A = r − mean of the others = G/(G−1)·(r − mean) (verl's compute_rloo_outcome_advantage).
 * - 'raft':   A = r (no baseline: SFT on the rewarded samples).
 * Zero-variance groups (see isZeroVariance) get exactly 0 and are flagged, except under
 * 'raft', where an all-right group is still trained on (flagged all the same).
 */
export function groupAdvantages(rewards: readonly (readonly number[])[], mode: AdvantageMode, eps = 1e-6): GroupAdvantages {
  if (mode === 'reinforce++' || mode === 'reinforce++-baseline') throw new Error(`groupAdvantages: "${mode}" normalizes over the batch and needs response lengths: use computeAdvantages`);
  if (mode !== 'grpo' && mode !== 'drgrpo' && mode !== 'rloo' && mode !== 'raft') throw new Error(`groupAdvantages: unknown mode "${String(mode)}"`);
  if (!(eps >= 0)) throw new RangeError(`groupAdvantages: eps must be >= 0, got ${eps}`);
  checkRewards(rewards);
  const advantages: number[][] = [];
  const zeroVariance: boolean[] = [];
  for (const g of rewards) {
    if (mode === 'raft') {
      advantages.push([...g]);
      zeroVariance.push(isZeroVariance(g));
      continue;
    }
    if (isZeroVariance(g)) {
      advantages.push(g.map(() => 0));
      zeroVariance.push(true);
      continue;
    }
    const mu = g.reduce((a, b) => a + b, 0) / g.length;
    const scale = mode === 'grpo' ? 1 / (unbiasedStd(g) + eps) : mode === 'rloo' ? g.length / (g.length - 1) : 1;
    advantages.push(g.map((r) => (r - mu) * scale));
    zeroVariance.push(false);
  }
  return { advantages, zeroVariance };
}

/**
 * REINFORCE++ advantages (Hu 2025, §3), normalized over the batch:
 * - 'reinforce++':          A = whiten(r) over the batch;
 * - 'reinforce++-baseline': A = whiten(r − group mean) over the batch.
 * whiten(x) = (x − μ) / sqrt(σ² + 1e-8) with μ, σ² the mean and unbiased variance over all
 * response *tokens* of the batch (each sample weighted by its token count `lengths[i][j]`),
 * exactly as verl's masked_whiten over response_mask (compute_reinforce_plus_plus_*), which
 * OpenRLHF also does. With an outcome reward and γ = 1 every token of a response has the
 * same return, so the per-token whitening reduces to this weighted per-sample form.
 * Unlike the group estimators, a zero-variance group does not get exactly 0 here: the batch
 * mean shifts it (all-wrong groups in a batch that is sometimes right get a negative
 * advantage: REINFORCE++'s global baseline); it is still flagged in `zeroVariance`.
 * A batch with fewer than two tokens, or no spread, gives all zeros.
 */
export function batchAdvantages(
  rewards: readonly (readonly number[])[], lengths: readonly (readonly number[])[], mode: BatchAdvantageMode,
): GroupAdvantages {
  if (mode !== 'reinforce++' && mode !== 'reinforce++-baseline') throw new Error(`batchAdvantages: unknown mode "${String(mode)}"`);
  checkRewards(rewards);
  if (lengths.length !== rewards.length || lengths.some((l, i) => l.length !== rewards[i]!.length)) {
    throw new Error('batchAdvantages: lengths must have the same nesting as rewards');
  }
  lengths.forEach((g, i) => g.forEach((n, j) => {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`batchAdvantages: length [${i}][${j}] must be an integer >= 0, got ${n}`);
  }));
  const centred = rewards.map((g) => {
    if (mode === 'reinforce++') return [...g];
    if (isZeroVariance(g)) return g.map(() => 0); // exact 0, not rounding residue
    const mu = g.reduce((a, b) => a + b, 0) / g.length;
    return g.map((r) => r - mu);
  });
  let w = 0, sum = 0;
  centred.forEach((g, i) => g.forEach((x, j) => { w += lengths[i]![j]!; sum += lengths[i]![j]! * x; }));
  const mu = w > 0 ? sum / w : 0;
  let ss = 0;
  centred.forEach((g, i) => g.forEach((x, j) => { ss += lengths[i]![j]! * (x - mu) ** 2; }));
  const variance = w > 1 ? ss / (w - 1) : 0; // unbiased over tokens, as verl's masked_var
  const ok = w > 1 && ss > 0;
  const scale = ok ? 1 / Math.sqrt(variance + 1e-8) : 0;
  return {
    advantages: centred.map((g) => g.map((x) => (ok ? (x - mu) * scale : 0))),
    zeroVariance: rewards.map((g) => isZeroVariance(g)),
  };
}

/** The estimator named by `mode`; `lengths` (response tokens per sample) weigh the batch modes. */
export function computeAdvantages(
  rewards: readonly (readonly number[])[], lengths: readonly (readonly number[])[], mode: AdvantageMode,
): GroupAdvantages {
  return mode === 'reinforce++' || mode === 'reinforce++-baseline' ? batchAdvantages(rewards, lengths, mode) : groupAdvantages(rewards, mode);
}

/**
 * DAPO soft overlong punishment (Yu et al. 2025, eq. 13), added to the reward:
 *   0                              if |y| <= L_max − L_cache
 *   ((L_max − L_cache) − |y|) / L_cache   if L_max − L_cache < |y| <= L_max
 *   −1                             if |y| > L_max
 * `length` = |y| in tokens, `maxLen` = L_max, `cacheLen` = L_cache (the punishment
 * interval). cacheLen 0 gives the hard cut-off (0 up to L_max, −1 beyond). verl's DAPO
 * reward manager computes the same ramp (scaled by overlong_penalty_factor, which the
 * caller applies here).
 */
export function overlongPenalty(length: number, maxLen: number, cacheLen: number): number {
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`overlongPenalty: length must be an integer >= 0, got ${length}`);
  if (!Number.isInteger(maxLen) || maxLen < 1) throw new RangeError(`overlongPenalty: maxLen must be an integer >= 1, got ${maxLen}`);
  if (!Number.isInteger(cacheLen) || cacheLen < 0 || cacheLen > maxLen) {
    throw new RangeError(`overlongPenalty: cacheLen must be an integer in [0, maxLen=${maxLen}], got ${cacheLen}`);
  }
  const expected = maxLen - cacheLen;
  if (length <= expected) return 0;
  if (length <= maxLen) return (expected - length) / cacheLen;
  return -1;
}

/**
 * DAPO dynamic sampling (Yu et al. 2025, §3.2, eq. 11's constraint
 * 0 < |{correct}| < G): the indices of the groups worth training on, i.e. those whose
 * rewards are not all equal. The trainer keeps sampling until it has enough such groups.
 * (verl's DAPO recipe also keeps single-sample groups; a lone sample has no group baseline
 * here, so it is dropped, consistently with groupAdvantages.)
 */
export function dynamicSamplingKeep(groups: readonly (readonly number[])[]): number[] {
  checkRewards(groups);
  const keep: number[] = [];
  groups.forEach((g, i) => { if (!isZeroVariance(g)) keep.push(i); });
  return keep;
}

/**
 * Per-token advantages of one response for IVR-R1's step-level credit (DESIGN §7.5):
 * every token gets the sequence advantage, except that when the advantage is negative the
 * tokens before `fromToken` (the verified prefix, ending where the first eroded step
 * starts) get 0, so the correct prefix is not punished. A positive advantage rewards the
 * whole response. `fromToken` is clamped to [0, tokenCount]; undefined = no prefix.
 */
export function tokenAdvantages(seqAdv: number, tokenCount: number, fromToken?: number): number[] {
  if (!Number.isFinite(seqAdv)) throw new RangeError(`tokenAdvantages: advantage must be finite, got ${seqAdv}`);
  if (!Number.isInteger(tokenCount) || tokenCount < 0) throw new RangeError(`tokenAdvantages: tokenCount must be an integer >= 0, got ${tokenCount}`);
  if (fromToken !== undefined && !Number.isInteger(fromToken)) throw new RangeError(`tokenAdvantages: fromToken must be an integer, got ${fromToken}`);
  const out = new Array<number>(tokenCount).fill(seqAdv);
  if (seqAdv < 0 && fromToken !== undefined) {
    const cut = Math.min(Math.max(fromToken, 0), tokenCount);
    for (let i = 0; i < cut; i++) out[i] = 0;
  }
  return out;
}

/** Negative advantages times λ (asymmetric weighting, Arnal et al. 2025); positives unchanged. */
export function scaleNegatives(advantages: readonly (readonly number[])[], lambda: number): number[][] {
  if (!(lambda >= 0 && lambda <= 1)) throw new RangeError(`scaleNegatives: λ must be in [0, 1], got ${lambda}`);
  return advantages.map((g) => g.map((a) => (a < 0 ? a * lambda : a)));
}
