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
// KL to a frozen reference with the k3 estimator (Schulman 2020, "Approximating KL
// Divergence"; DeepSeekMath eq. 4): k3 = exp(ref − logp) − (ref − logp) − 1 ≥ 0, added to
// the per-token loss with coefficient β. As in verl's "low_var_kl", the log difference is
// clamped to [−20, 20] and k3 to at most 10 (a token beyond that gets no KL gradient).
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
  cfg: PolicyLossConfig;
}

export interface PolicyLossMetrics {
  /** Share of on-policy tokens where the clipped branch is active (zero gradient). */
  clip_frac: Tensor;
  /** ... of which A > 0 and r > 1 + ε_high. */
  clip_frac_high: Tensor;
  /** ... of which A < 0 and r < 1 − ε_low. */
  clip_frac_low: Tensor;
  /** Mean k3 KL to the reference over on-policy tokens (0 without refLogp). */
  kl: Tensor;
  /** Mean importance ratio r over on-policy tokens. */
  ratio_mean: Tensor;
  /** Max r over on-policy tokens (0 when there are none). */
  ratio_max: Tensor;
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

/** LUFFY policy shaping f(π) = π / (π + γ) of π = exp(logp). */
export function policyShaping(logp: Tensor, gamma: number): Tensor {
  const p = o.exp(logp);
  return o.div(p, o.add(p, gamma));
}

/** Builds the policy loss and its metrics. All per-token inputs share one [B, T] shape. */
export function policyLoss(inp: PolicyLossInputs): PolicyLoss {
  const { logp, oldLogp, refLogp, advantages: A, mask, offPolicyMask, cfg } = inp;
  checkPolicyLossConfig(cfg);
  const named: [string, Tensor | undefined][] = [['oldLogp', oldLogp], ['refLogp', refLogp], ['advantages', A], ['mask', mask], ['offPolicyMask', offPolicyMask]];
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
  const ratio = o.exp(o.clamp(o.sub(logp, oldLogp), -20, 20));
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
  const k3 = refLogp ? k3Kl(logp, refLogp) : null;
  let tokLoss = pgTok;
  if (k3 && cfg.beta > 0) tokLoss = o.add(pgTok, o.mul(isOff ? o.where(isOff, 0, k3) : k3, cfg.beta));

  const loss = aggregateTokenLoss(tokLoss, mask, cfg.aggregation, cfg.maxLen);

  // ---- metrics (forward only; the trainer does not differentiate them).
  const onCount = o.sum(onMask);
  const onMean = (x: Tensor) => safeDiv(o.sum(o.mul(x, onMask)), onCount);
  const ratioSg = o.stopGradient(ratio);
  const metrics: PolicyLossMetrics = {
    clip_frac: onMean(asFloat(clipped, logp)),
    clip_frac_high: onMean(asFloat(high, logp)),
    clip_frac_low: onMean(asFloat(low, logp)),
    kl: k3 ? onMean(o.stopGradient(k3)) : o.mul(onCount, 0),
    ratio_mean: onMean(ratioSg),
    ratio_max: o.max(o.where(o.greater(onMask, 0), ratioSg, 0)),
    approx_kl_old: onMean(o.stopGradient(o.sub(oldLogp, logp))),
    pg_loss: o.stopGradient(aggregateTokenLoss(pgTok, mask, cfg.aggregation, cfg.maxLen)),
    off_policy_frac: offMask ? safeDiv(o.sum(offMask), o.sum(mask)) : o.mul(onCount, 0),
    off_prob_mean: offMask && pi ? safeDiv(o.sum(o.mul(o.stopGradient(pi), offMask)), o.sum(offMask)) : o.mul(onCount, 0),
  };
  if (dual) metrics.clip_frac_dual = onMean(asFloat(dual, logp));
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
