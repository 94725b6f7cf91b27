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

export type AdvantageMode = 'grpo' | 'drgrpo';

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
 * Zero-variance groups (see isZeroVariance) get exactly 0 and are flagged.
 */
export function groupAdvantages(rewards: readonly (readonly number[])[], mode: AdvantageMode, eps = 1e-6): GroupAdvantages {
  if (mode !== 'grpo' && mode !== 'drgrpo') throw new Error(`groupAdvantages: unknown mode "${String(mode)}"`);
  if (!(eps >= 0)) throw new RangeError(`groupAdvantages: eps must be >= 0, got ${eps}`);
  checkRewards(rewards);
  const advantages: number[][] = [];
  const zeroVariance: boolean[] = [];
  for (const g of rewards) {
    if (isZeroVariance(g)) {
      advantages.push(g.map(() => 0));
      zeroVariance.push(true);
      continue;
    }
    const mu = g.reduce((a, b) => a + b, 0) / g.length;
    const scale = mode === 'grpo' ? 1 / (unbiasedStd(g) + eps) : 1;
    advantages.push(g.map((r) => (r - mu) * scale));
    zeroVariance.push(false);
  }
  return { advantages, zeroVariance };
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
