// The policy-loss graph shared by every RL method (GRPO, Dr. GRPO, DAPO, LUFFY, IVR-R1):
// one loss core with switches (DESIGN §6). Inputs are per-token tensors [B, T] (static or
// symbolic dims); the result is a scalar loss to differentiate plus scalar metrics that the
// train step outputs on the same forward pass.
//
// On-policy tokens — PPO-clip (Schulman et al. 2017) against the sampling policy, as GRPO
// (Shao et al. 2024, DeepSeekMath, eq. 3) uses it:
//   r = exp(logp − oldLogp),  J = min(r·A, clip(r, 1−ε_low, 1+ε_high)·A)
// with separate lower/upper ε ("clip-higher", DAPO: Yu et al. 2025 §3.1, ε_low 0.2,
// ε_high 0.28). Optional dual clip (Ye et al. 2020, "Mastering Complex Control in MOBA
// Games"; verl's clip_ratio_c): for A < 0, J = max(J, c·A), so r > c stops the gradient.
// KL to a frozen reference (Schulman 2020, "Approximating KL Divergence", the k1/k2/k3
// estimators of KL(π‖π_ref) from samples of π; d = logp − ref):
//   k1 = d                        (unbiased, high variance, can be negative; verl "kl")
//   k2 = d² / 2                   (biased, low variance, ≥ 0; verl "mse")
//   k3 = exp(−d) + d − 1          (unbiased, low variance, ≥ 0; DeepSeekMath eq. 4; verl
//                                  "low_var_kl", with its clamps: d to [−20, 20], k3 to at
//                                  most 10, so a token beyond that gets no KL gradient)
// added to the per-token loss with coefficient β (cfg.klEstimator, default k3). The same
// estimators on the host, for KL placed in the reward instead, are in rewards.ts.
//
// GSPO (Zheng et al. 2025, "Group Sequence Policy Optimization", arXiv 2507.18071, eq. 5-7),
// cfg.ratioLevel = 'sequence': the importance ratio is one per sequence, the length-normalized
// sequence likelihood ratio s_i = exp(1/|y_i| Σ_t (logp − oldLogp)), clipped at sequence
// level: J_i = min(s_i·A_i, clip(s_i, 1−ε_low, 1+ε_high)·A_i). Here s_i is broadcast to the
// sequence's on-policy tokens (its mean runs over them only) and the same clipping code runs
// per token, so with a per-sequence advantage and 'seq-mean-token-mean' aggregation (GSPO's
// choice; verl recommends it for gspo too) the loss is exactly the paper's, with gradient
// A_i·s_i/|y_i| on every token of y_i. GSPO's clip ranges are far smaller (paper: 3e-4 and
// 4e-4) than PPO's; set clip.eps_low/eps_high accordingly.
//
// Entropy bonus (cfg.entropyCoef = c > 0, with the per-token entropy as an input): the
// loss gets −c·agg(H) with H the policy's token entropy aggregated like the loss (verl's
// entropy_coeff; OpenRLHF --entropy_loss_coef; LUFFY uses 0.001), i.e. higher entropy is
// rewarded, against the entropy collapse measured in #12.
//
// Off-policy tokens (offPolicyMask = 1) — LUFFY's policy shaping (Yan et al. 2025,
// "Learning to Reason under Off-Policy Guidance", §3.3): the demonstration comes from a
// policy whose probabilities we do not have (gold solutions, IVR-rewritten steps), so the
// importance ratio uses π_φ = 1 and is regularized by f(π) = π / (π + γ), π = exp(logp),
// with no clipping: J = f(π)·A, whose gradient wrt logp is A·γπ/(π+γ)² — largest for
// low-probability tokens, which keeps the imitation from collapsing onto what the policy
// already does. This matches LUFFY's released verl code (off_policy_reshape "p_div_p_0.1",
// off-policy tokens selected by a prefix mask, mixed token by token with the on-policy loss).
// The KL term applies to on-policy tokens only: k3 estimates KL(π‖π_ref) from samples of π,
// which demonstration tokens are not.
//
// Aggregation (how per-token losses become one scalar) — cfg.aggregation:
// - 'seq-mean-token-mean': mean over each sequence's tokens, then over sequences
//   (GRPO as in DeepSeekMath eq. 3: 1/G Σ_i 1/|o_i| Σ_t).
// - 'token-mean': sum over all tokens / number of tokens (DAPO §3.3, eq. 12), so long
//   responses are not down-weighted.
// - 'seq-mean-token-sum-norm': each sequence's token sum / a constant (the generation
//   budget, cfg.maxLen), then mean over sequences (Dr. GRPO, Liu et al. 2025 §3.2: removes
//   the 1/|o_i| length bias).
// These are verl's loss_agg_mode names. Sequence means run over sequences that have at
// least one counted token; an all-zero mask gives loss 0, never NaN.
//
// Inputs must be finite: feed 0 (or any finite value) at padded positions and for
// oldLogp/refLogp on off-policy tokens; the mask removes them.
import * as o from '../engine/ops.js';
import { shapeEq, shapeStr, type Tensor } from '../engine/tensor.js';

export type Aggregation = 'seq-mean-token-mean' | 'token-mean' | 'seq-mean-token-sum-norm';
export type KlEstimator = 'k1' | 'k2' | 'k3';
export const KL_ESTIMATORS: readonly KlEstimator[] = ['k1', 'k2', 'k3'];
/** 'token' = PPO's per-token ratio; 'sequence' = GSPO's length-normalized sequence ratio. */
export type RatioLevel = 'token' | 'sequence';
export const AGGREGATIONS: readonly Aggregation[] = ['seq-mean-token-mean', 'token-mean', 'seq-mean-token-sum-norm'];

export interface PolicyLossConfig {
  /** Lower clip range: r is clipped below at 1 − epsLow (applies when A < 0). */
  epsLow: number;
  /** Upper clip range: r is clipped above at 1 + epsHigh (applies when A > 0). */
  epsHigh: number;
  /** Dual-clip constant c > 1 for A < 0; null/undefined disables it. */
  dualClip?: number | null;
  /** KL coefficient β (0 = no KL term; the kl metric is still computed when refLogp is given). */
  beta: number;
  /** Policy-shaping γ of f(π) = π/(π+γ) for off-policy tokens (LUFFY uses 0.1). */
  gamma: number;
  aggregation: Aggregation;
  /** The constant divisor of 'seq-mean-token-sum-norm' (the max generation length). */
  maxLen?: number;
  /** KL estimator of the β term and the kl metric (default 'k3'). */
  klEstimator?: KlEstimator;
  /** Importance-ratio level (default 'token'). */
  ratioLevel?: RatioLevel;
  /** Entropy-bonus coefficient c (default 0); c > 0 needs the `entropy` input. */
  entropyCoef?: number;
}

export interface PolicyLossInputs {
  /** log π_θ(token) under the current parameters (the only input gradients flow into). */
  logp: Tensor;
  /** log-prob under the policy that sampled the token (fixed for the μ update epochs). */
  oldLogp: Tensor;
  /** log-prob under the frozen reference policy; needed when β > 0. */
  refLogp?: Tensor;
  /** Per-token advantages (a sequence's advantage broadcast, or step-level credit). */
  advantages: Tensor;
  /** 1 = the token counts, 0 = padding / prompt. */
  mask: Tensor;
  /** 1 = off-policy token (demonstration, IVR-rewritten) scored with policy shaping. */
  offPolicyMask?: Tensor;
  /** Per-token entropy of the policy (tokenEntropy of the logits); feeds the bonus and the metric. */
  entropy?: Tensor;
  cfg: PolicyLossConfig;
}

export interface PolicyLossMetrics {
  /** Share of on-policy tokens where the clipped branch is active (zero gradient). */
  clip_frac: Tensor;
  /** ... of which A > 0 and r > 1 + ε_high. */
  clip_frac_high: Tensor;
  /** ... of which A < 0 and r < 1 − ε_low. */
  clip_frac_low: Tensor;
  /** Mean KL estimate (cfg.klEstimator) to the reference over on-policy tokens (0 without refLogp). */
  kl: Tensor;
  /** Mean importance ratio r over on-policy tokens (GSPO: the sequence ratio, token-weighted). */
  ratio_mean: Tensor;
  /** Max r over on-policy tokens (0 when there are none). */
  ratio_max: Tensor;
  /** Min r over on-policy tokens (0 when there are none). */
  ratio_min: Tensor;
  /** Mean (oldLogp − logp) over on-policy tokens: a k1 estimate of KL(old‖θ) (verl's ppo_kl). */
  approx_kl_old: Tensor;
  /** The aggregated policy-gradient loss alone (without the KL term). */
  pg_loss: Tensor;
  /** Share of counted tokens that are off-policy. */
  off_policy_frac: Tensor;
  /** Mean π over off-policy tokens (0 when there are none). */
  off_prob_mean: Tensor;
  /** Share of on-policy tokens stopped by the dual clip (only when cfg.dualClip is set). */
  clip_frac_dual?: Tensor;
  /** Masked mean token entropy over all counted tokens (only with the entropy input). */
  entropy?: Tensor;
}

export interface PolicyLoss {
  loss: Tensor;
  metrics: PolicyLossMetrics;
}

/** Validates a loss config; throws naming the bad field. */
export function checkPolicyLossConfig(cfg: PolicyLossConfig): void {
  const bad = (k: string, why: string, v: unknown) => { throw new RangeError(`policyLoss: cfg.${k} ${why}, got ${String(v)}`); };
  if (!(cfg.epsLow >= 0 && cfg.epsLow < 1)) bad('epsLow', 'must be in [0, 1)', cfg.epsLow);
  if (!(cfg.epsHigh >= 0 && Number.isFinite(cfg.epsHigh))) bad('epsHigh', 'must be >= 0', cfg.epsHigh);
  if (cfg.dualClip != null && !(cfg.dualClip > 1 + cfg.epsHigh && Number.isFinite(cfg.dualClip))) bad('dualClip', 'must be > 1 + epsHigh', cfg.dualClip);
  if (!(cfg.beta >= 0 && Number.isFinite(cfg.beta))) bad('beta', 'must be >= 0', cfg.beta);
  if (!(cfg.gamma > 0 && Number.isFinite(cfg.gamma))) bad('gamma', 'must be > 0', cfg.gamma);
  if (!AGGREGATIONS.includes(cfg.aggregation)) bad('aggregation', `must be one of ${AGGREGATIONS.join(', ')}`, cfg.aggregation);
  if (cfg.aggregation === 'seq-mean-token-sum-norm' && !(Number.isFinite(cfg.maxLen) && cfg.maxLen! > 0)) {
    bad('maxLen', 'must be > 0 for seq-mean-token-sum-norm', cfg.maxLen);
  }
  if (cfg.klEstimator !== undefined && !KL_ESTIMATORS.includes(cfg.klEstimator)) bad('klEstimator', `must be one of ${KL_ESTIMATORS.join(', ')}`, cfg.klEstimator);
  if (cfg.ratioLevel !== undefined && cfg.ratioLevel !== 'token' && cfg.ratioLevel !== 'sequence') bad('ratioLevel', 'must be token or sequence', cfg.ratioLevel);
  if (cfg.entropyCoef !== undefined && !(cfg.entropyCoef >= 0 && Number.isFinite(cfg.entropyCoef))) bad('entropyCoef', 'must be >= 0', cfg.entropyCoef);
}

/** a / b where b > 0, else 0 (b is a count or a sum of mask weights). */
function safeDiv(a: Tensor, b: Tensor): Tensor {
  return o.div(a, o.where(o.greater(b, 0), b, 1));
}

const asFloat = (cond: Tensor, like: Tensor) => o.cast(cond, like.dtype);
const logicalOr = (a: Tensor, b: Tensor) => o.logicalNot(o.logicalAnd(o.logicalNot(a), o.logicalNot(b)));

/** Mean of x over the positions where mask > 0 (mask-weighted); 0 when the mask is empty. */
export function maskedMean(x: Tensor, mask: Tensor): Tensor {
  return safeDiv(o.sum(o.mul(x, mask)), o.sum(mask));
}

/**
 * Aggregates per-token losses [B, T] with a mask [B, T] into a scalar (see the header).
 * Sequences without counted tokens are left out of the sequence means.
 */
export function aggregateTokenLoss(tokenLoss: Tensor, mask: Tensor, mode: Aggregation, maxLen?: number): Tensor {
  const masked = o.mul(tokenLoss, mask);
  if (mode === 'token-mean') return safeDiv(o.sum(masked), o.sum(mask));
  const seqTokens = o.sum(mask, -1); // [B]
  const seqSum = o.sum(masked, -1); // [B]
  const nonEmpty = o.sum(asFloat(o.greater(seqTokens, 0), seqTokens));
  let perSeq: Tensor;
  if (mode === 'seq-mean-token-mean') perSeq = safeDiv(seqSum, seqTokens);
  else if (mode === 'seq-mean-token-sum-norm') {
    if (!(maxLen !== undefined && Number.isFinite(maxLen) && maxLen > 0)) throw new RangeError(`aggregateTokenLoss: ${mode} needs maxLen > 0, got ${maxLen}`);
    perSeq = o.div(seqSum, maxLen);
  } else throw new Error(`aggregateTokenLoss: unknown aggregation "${String(mode)}"`);
  return safeDiv(o.sum(perSeq), nonEmpty);
}

/** k3 KL estimator per token, k3 = exp(ref − logp) − (ref − logp) − 1 (verl low_var_kl clamps). */
export function k3Kl(logp: Tensor, refLogp: Tensor): Tensor {
  const d = o.clamp(o.sub(refLogp, logp), -20, 20);
  return o.clamp(o.sub(o.sub(o.exp(d), d), 1), -10, 10);
}

/** Per-token KL estimate of KL(π‖π_ref) by `est` (see the header; host twin: rewards.ts klPerToken). */
export function klEstimate(logp: Tensor, refLogp: Tensor, est: KlEstimator): Tensor {
  if (est === 'k3') return k3Kl(logp, refLogp);
  const d = o.sub(logp, refLogp);
  if (est === 'k1') return d;
  if (est === 'k2') return o.mul(o.square(d), 0.5);
  throw new Error(`klEstimate: unknown estimator "${String(est)}"`);
}

/**
 * GSPO's per-sequence log-ratio 1/|y_i| Σ_t (logp − oldLogp) over the tokens where
 * onMask > 0, broadcast back to [B, T] (0 for a row without such tokens).
 */
export function sequenceLogRatio(logp: Tensor, oldLogp: Tensor, onMask: Tensor): Tensor {
  const n = o.sum(onMask, -1, true);
  const s = o.sum(o.mul(o.sub(logp, oldLogp), onMask), -1, true);
  return o.mul(o.div(s, o.where(o.greater(n, 0), n, 1)), o.add(o.mul(onMask, 0), 1));
}

/** LUFFY policy shaping f(π) = π / (π + γ) of π = exp(logp). */
export function policyShaping(logp: Tensor, gamma: number): Tensor {
  const p = o.exp(logp);
  return o.div(p, o.add(p, gamma));
}

/** Builds the policy loss and its metrics. All per-token inputs share one [B, T] shape. */
export function policyLoss(inp: PolicyLossInputs): PolicyLoss {
  const { logp, oldLogp, refLogp, advantages: A, mask, offPolicyMask, entropy, cfg } = inp;
  checkPolicyLossConfig(cfg);
  const named: [string, Tensor | undefined][] = [['oldLogp', oldLogp], ['refLogp', refLogp], ['advantages', A], ['mask', mask], ['offPolicyMask', offPolicyMask], ['entropy', entropy]];
  if (logp.rank !== 2) throw new Error(`policyLoss: logp must be [B, T], got ${shapeStr(logp.shape)}`);
  for (const [name, t] of named) {
    if (t && !shapeEq(t.shape, logp.shape)) throw new Error(`policyLoss: ${name} has shape ${shapeStr(t.shape)}, logp has ${shapeStr(logp.shape)}`);
    if (t && t.dtype !== logp.dtype) throw new Error(`policyLoss: ${name} is ${t.dtype}, logp is ${logp.dtype}`);
  }
  if (cfg.beta > 0 && !refLogp) throw new Error('policyLoss: beta > 0 needs refLogp');

  // Token sets: on-policy counted tokens and off-policy counted tokens.
  const isOff = offPolicyMask ? o.greater(offPolicyMask, 0.5) : null;
  const onMask = isOff ? o.where(isOff, 0, mask) : mask;
  const offMask = isOff ? o.where(isOff, mask, 0) : null;

  // ---- on-policy: PPO-clip. The log-ratio is clamped (as verl does) so exp stays finite.
  // GSPO: one length-normalized ratio per sequence (see the header).
  const logRatio = cfg.ratioLevel === 'sequence' ? sequenceLogRatio(logp, oldLogp, onMask) : o.sub(logp, oldLogp);
  const ratio = o.exp(o.clamp(logRatio, -20, 20));
  const high = o.logicalAnd(o.greater(A, 0), o.greater(ratio, 1 + cfg.epsHigh));
  const low = o.logicalAnd(o.less(A, 0), o.less(ratio, 1 - cfg.epsLow));
  const clipped = logicalOr(high, low);
  // min(r·A, clip(r)·A) written by cases: the clipped term is the smaller one exactly when
  // (A > 0, r > 1+ε_high) or (A < 0, r < 1−ε_low); there clip(r) is constant, so the
  // gradient is zero. Elsewhere the objective is r·A with gradient r·A wrt logp.
  let onObj = o.where(clipped, o.mul(o.clamp(ratio, 1 - cfg.epsLow, 1 + cfg.epsHigh), A), o.mul(ratio, A));
  let dual: Tensor | null = null;
  if (cfg.dualClip != null) {
    dual = o.logicalAnd(o.less(A, 0), o.greater(ratio, cfg.dualClip));
    onObj = o.where(dual, o.mul(A, cfg.dualClip), onObj);
  }

  // ---- off-policy: policy shaping, no ratio to a behaviour policy, no clipping.
  const pi = offMask ? o.exp(logp) : null;
  const objective = isOff ? o.where(isOff, o.mul(policyShaping(logp, cfg.gamma), A), onObj) : onObj;
  const pgTok = o.neg(objective);

  // ---- KL to the reference (on-policy tokens only).
  const kl = refLogp ? klEstimate(logp, refLogp, cfg.klEstimator ?? 'k3') : null;
  let tokLoss = pgTok;
  if (kl && cfg.beta > 0) tokLoss = o.add(pgTok, o.mul(isOff ? o.where(isOff, 0, kl) : kl, cfg.beta));

  // ---- entropy bonus: −c·H per token, aggregated with the loss (all counted tokens).
  const coef = cfg.entropyCoef ?? 0;
  if (coef > 0 && !entropy) throw new Error('policyLoss: entropyCoef > 0 needs the entropy input');
  if (coef > 0 && entropy) tokLoss = o.sub(tokLoss, o.mul(entropy, coef));

  const loss = aggregateTokenLoss(tokLoss, mask, cfg.aggregation, cfg.maxLen);

  // ---- metrics (forward only; the trainer does not differentiate them).
  const onCount = o.sum(onMask);
  const onMean = (x: Tensor) => safeDiv(o.sum(o.mul(x, onMask)), onCount);
  const ratioSg = o.stopGradient(ratio);
  const hasOn = o.greater(onMask, 0);
  const metrics: PolicyLossMetrics = {
    clip_frac: onMean(asFloat(clipped, logp)),
    clip_frac_high: onMean(asFloat(high, logp)),
    clip_frac_low: onMean(asFloat(low, logp)),
    kl: kl ? onMean(o.stopGradient(kl)) : o.mul(onCount, 0),
    ratio_mean: onMean(ratioSg),
    ratio_max: o.max(o.where(hasOn, ratioSg, 0)),
    // min r = −max(−r) over on-policy tokens; r ≤ e^20 after the clamp, so −1e30 never wins.
    ratio_min: o.where(o.greater(onCount, 0), o.neg(o.max(o.where(hasOn, o.neg(ratioSg), -1e30))), 0),
    approx_kl_old: onMean(o.stopGradient(o.sub(oldLogp, logp))),
    pg_loss: o.stopGradient(aggregateTokenLoss(pgTok, mask, cfg.aggregation, cfg.maxLen)),
    off_policy_frac: offMask ? safeDiv(o.sum(offMask), o.sum(mask)) : o.mul(onCount, 0),
    off_prob_mean: offMask && pi ? safeDiv(o.sum(o.mul(o.stopGradient(pi), offMask)), o.sum(offMask)) : o.mul(onCount, 0),
  };
  if (dual) metrics.clip_frac_dual = onMean(asFloat(dual, logp));
  if (entropy) metrics.entropy = maskedMean(o.stopGradient(entropy), mask);
  return { loss, metrics };
}

/** Per-token entropy −Σ p log p of logits [..., V] → [...], via logSoftmax for stability. */
export function tokenEntropy(logits: Tensor): Tensor {
  if (logits.rank < 1) throw new Error('tokenEntropy: logits need a vocabulary axis');
  const lsm = o.logSoftmax(logits, -1);
  return o.neg(o.sum(o.mul(o.exp(lsm), lsm), -1));
}

/** Masked mean token entropy (the logged `entropy`): logits [B, T, V], mask [B, T]. */
export function meanEntropy(logits: Tensor, mask: Tensor): Tensor {
  return maskedMean(tokenEntropy(logits), mask);
}

/**
 * The auxiliary NLL of demonstrations learned by likelihood (UFT, ReLIFT; ivr/inject.ts):
 * −Σ w·logp over counted tokens, with per-token weights w [B, T] that the host sets to
 * λ / (demonstration tokens in the update) on demonstration tokens and 0 elsewhere, so the
 * term is λ times their mean NLL (0 when the update has no demonstration).
 */
export function demonstrationNll(logp: Tensor, weight: Tensor, mask: Tensor): Tensor {
  return o.neg(o.sum(o.mul(o.mul(logp, weight), mask)));
}
