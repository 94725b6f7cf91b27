// Policy-loss graph tests: values and gradients (via `grad`, run through onnxruntime)
// against closed forms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as o from '../../src/engine/ops.js';
import { grad } from '../../src/engine/autodiff.js';
import { evaluate, type HostTensor } from '../../src/engine/runtime.js';
import type { Dim, Tensor } from '../../src/engine/tensor.js';
import {
  aggregateTokenLoss, maskedMean, meanEntropy, policyLoss, tokenEntropy, type Aggregation, type PolicyLossConfig,
} from '../../src/rl/losses.js';
import { klPerToken } from '../../src/rl/rewards.js';
import { checkGrad, hostF, Rng as FdRng } from '../engine/fd.js';

const OPTS = { threads: 1 };

interface Case {
  B: number;
  T: number;
  logp: number[];
  oldLogp: number[];
  adv: number[];
  mask: number[];
  refLogp?: number[];
  off?: number[];
}

const f32 = (xs: number[]) => Float32Array.from(xs);

/** Builds the loss for `cfg`, runs it with its gradient wrt logp; returns plain numbers. */
async function run(c: Case, cfg: PolicyLossConfig, shape: Dim[] = ['B', 'T']) {
  const logp = o.input('logp', shape);
  const oldLogp = o.input('old_logp', shape);
  const advantages = o.input('adv', shape);
  const mask = o.input('mask', shape);
  const refLogp = c.refLogp ? o.input('ref_logp', shape) : undefined;
  const offPolicyMask = c.off ? o.input('off', shape) : undefined;
  const { loss, metrics } = policyLoss({ logp, oldLogp, refLogp, advantages, mask, offPolicyMask, cfg });
  const [g] = grad(loss, [logp]);
  const outputs: Record<string, Tensor> = { loss, g: g! };
  for (const [k, v] of Object.entries(metrics)) outputs[`m_${k}`] = v as Tensor;
  const sh = [c.B, c.T];
  const feeds: Record<string, HostTensor> = {
    logp: { data: f32(c.logp), shape: sh },
    old_logp: { data: f32(c.oldLogp), shape: sh },
    adv: { data: f32(c.adv), shape: sh },
    mask: { data: f32(c.mask), shape: sh },
  };
  if (c.refLogp) feeds.ref_logp = { data: f32(c.refLogp), shape: sh };
  if (c.off) feeds.off = { data: f32(c.off), shape: sh };
  const out = await evaluate(outputs, feeds, OPTS);
  const metricValues: Record<string, number> = {};
  for (const k of Object.keys(metrics)) metricValues[k] = Number(out[`m_${k}`]!.data[0]);
  return { loss: Number(out.loss!.data[0]), grad: Array.from(out.g!.data as Float32Array), metrics: metricValues };
}

function near(actual: number, expected: number, what: string, tol = 1e-5): void {
  assert.ok(Number.isFinite(actual), `${what}: not finite (${actual})`);
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: got ${actual}, expected ${expected}`);
}

function nearAll(actual: number[], expected: number[], what: string, tol = 1e-5): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  actual.forEach((a, i) => near(a, expected[i]!, `${what}[${i}]`, tol));
}

const base: PolicyLossConfig = { epsLow: 0.2, epsHigh: 0.28, beta: 0, gamma: 0.1, aggregation: 'token-mean' };

test('PPO-clip: zero gradient outside the trust region in the clipped direction, r·A inside', async () => {
  // Six on-policy tokens, token-mean over N = 6 (aggregation weight 1/6), ε_low 0.2, ε_high 0.28.
  const ratios = [1.5, 0.5, 1.1, 0.9, 0.5, 1.5];
  const adv = [1, -1, 1, -1, 1, -1];
  const old = [-1, -2, -0.5, -3, -1.5, -0.7];
  const c: Case = { B: 1, T: 6, logp: ratios.map((r, i) => Math.log(r) + old[i]!), oldLogp: old, adv, mask: [1, 1, 1, 1, 1, 1] };
  const { loss, grad: g, metrics } = await run(c, base);
  const N = 6;
  // t0: A>0, r > 1.28 -> clipped, 0.   t1: A<0, r < 0.8 -> clipped, 0.
  // t2, t3: inside -> d(-r·A/N)/dlogp = -r·A/N.
  // t4: A>0, r < 0.8 and t5: A<0, r > 1.28 -> the unclipped term is the min: -r·A/N.
  nearAll(g, [0, 0, -1.1 / N, 0.9 / N, -0.5 / N, 1.5 / N], 'grad');
  assert.equal(g[0], 0);
  assert.equal(g[1], 0);
  // Objective per token: 1.28, -0.8, 1.1, -0.9, 0.5, -1.5.
  near(loss, -(1.28 - 0.8 + 1.1 - 0.9 + 0.5 - 1.5) / N, 'loss');
  near(metrics.clip_frac!, 2 / 6, 'clip_frac');
  near(metrics.clip_frac_high!, 1 / 6, 'clip_frac_high');
  near(metrics.clip_frac_low!, 1 / 6, 'clip_frac_low');
  near(metrics.ratio_mean!, 1.0, 'ratio_mean');
  near(metrics.ratio_max!, 1.5, 'ratio_max');
  near(metrics.pg_loss!, loss, 'pg_loss');
  near(metrics.kl!, 0, 'kl without reference');
  near(metrics.off_policy_frac!, 0, 'off_policy_frac');
  near(metrics.approx_kl_old!, -ratios.reduce((a, r) => a + Math.log(r), 0) / N, 'approx_kl_old');
});

test('PPO-clip: symmetric ε and the boundary; static dims work too', async () => {
  // ε = 0.2 both sides: r = 1.25 with A>0 is clipped (1.25 > 1.2); r = 1.15 is not.
  const cfg: PolicyLossConfig = { ...base, epsLow: 0.2, epsHigh: 0.2, aggregation: 'seq-mean-token-mean' };
  const ratios = [1.25, 1.15, 0.75, 0.85];
  const adv = [2, 2, -3, -3];
  const c: Case = { B: 1, T: 4, logp: ratios.map((r) => Math.log(r)), oldLogp: [0, 0, 0, 0], adv, mask: [1, 1, 1, 1] };
  const { grad: g, metrics } = await run(c, cfg, [1, 4]);
  nearAll(g, [0, -1.15 * 2 / 4, 0, 0.85 * -3 / 4 * -1], 'grad');
  near(metrics.clip_frac!, 0.5, 'clip_frac');
});

test('dual clip: A<0 and r > c stops the gradient at c·A', async () => {
  const cfg: PolicyLossConfig = { ...base, dualClip: 3 };
  const ratios = [4, 2];
  const c: Case = { B: 1, T: 2, logp: ratios.map((r) => Math.log(r)), oldLogp: [0, 0], adv: [-1, -1], mask: [1, 1] };
  const { loss, grad: g, metrics } = await run(c, cfg);
  nearAll(g, [0, 2 / 2], 'grad');
  near(loss, -(-3 + -2) / 2, 'loss');
  near(metrics.clip_frac_dual!, 0.5, 'clip_frac_dual');
  near(metrics.clip_frac!, 0, 'clip_frac');
});

test('policy shaping on off-policy tokens: value f(π)·A and gradient A·γπ/(π+γ)², no clipping', async () => {
  const gamma = 0.1;
  const logp = [-0.05, -1, -3, -6, -0.5];
  const adv = [1, -0.5, 2, 1, 1];
  // Tokens 0-3 off-policy (their oldLogp is meaningless: extreme values must not matter);
  // token 4 on-policy with r = 1.
  const off = [1, 1, 1, 1, 0];
  const c: Case = { B: 1, T: 5, logp, oldLogp: [0, -1000, 50, -7, -0.5], adv, mask: [1, 1, 1, 1, 1], off };
  const { loss, grad: g, metrics } = await run(c, { ...base, gamma });
  const N = 5;
  const expectedGrad = logp.map((lp, i) => {
    if (!off[i]) return -1 * adv[i]! / N; // on-policy, r = 1: -r·A/N
    const p = Math.exp(lp);
    return -adv[i]! * gamma * p / (p + gamma) ** 2 / N;
  });
  nearAll(g, expectedGrad, 'grad');
  const expectedLoss = -logp.reduce((acc, lp, i) => {
    const p = Math.exp(lp);
    return acc + (off[i] ? (p / (p + gamma)) * adv[i]! : adv[i]!);
  }, 0) / N;
  near(loss, expectedLoss, 'loss');
  // Low-probability demonstration tokens get the larger push (the point of shaping):
  // π = e^-3 gives more gradient per unit advantage than π = e^-0.05.
  assert.ok(Math.abs(g[2]! / adv[2]!) > Math.abs(g[0]! / adv[0]!));
  near(metrics.off_policy_frac!, 4 / 5, 'off_policy_frac');
  near(metrics.off_prob_mean!, logp.slice(0, 4).reduce((a, lp) => a + Math.exp(lp), 0) / 4, 'off_prob_mean');
  // Clip metrics count on-policy tokens only (the one on-policy token is inside).
  near(metrics.clip_frac!, 0, 'clip_frac');
  near(metrics.ratio_mean!, 1, 'ratio_mean');
});

test('policy shaping gradient matches its closed form at many probabilities (γ = 0.3)', async () => {
  const gamma = 0.3;
  const logp = [-0.001, -0.1, -0.7, -1.6, -2.3, -4, -8, -12];
  const adv = [1, 1, 1, 1, -1, -1, -1, -1];
  const T = logp.length;
  const c: Case = { B: 1, T, logp, oldLogp: logp, adv, mask: logp.map(() => 1), off: logp.map(() => 1) };
  const { grad: g } = await run(c, { ...base, gamma, aggregation: 'seq-mean-token-sum-norm', maxLen: 10 });
  nearAll(g, logp.map((lp, i) => {
    const p = Math.exp(lp);
    return -adv[i]! * gamma * p / (p + gamma) ** 2 / 10;
  }), 'grad', 1e-4);
});

test('k3 KL: value, E_p[k3] = KL(p‖q), gradient 1 − exp(ref − logp), on-policy tokens only', async () => {
  const p = [0.5, 0.3, 0.2];
  const q = [0.4, 0.4, 0.2];
  const beta = 0.5;
  const logp = p.map(Math.log);
  const ref = q.map(Math.log);
  const k3 = p.map((pi, i) => q[i]! / pi - Math.log(q[i]! / pi) - 1);
  // A = 0: only the KL term contributes; r = 1.
  const c: Case = { B: 1, T: 3, logp, oldLogp: logp, adv: [0, 0, 0], mask: [1, 1, 1], refLogp: ref };
  const { loss, grad: g, metrics } = await run(c, { ...base, beta });
  near(metrics.kl!, (k3[0]! + k3[1]! + k3[2]!) / 3, 'kl');
  near(loss, beta * (k3[0]! + k3[1]! + k3[2]!) / 3, 'loss');
  nearAll(g, p.map((pi, i) => beta * (1 - q[i]! / pi) / 3), 'grad');
  assert.ok(k3.every((k) => k >= 0));

  // With the mask weighting each token by p, the kl metric is E_{x~p}[k3] = KL(p‖q) exactly.
  const weighted = await run({ ...c, mask: p }, { ...base, beta });
  const klpq = p.reduce((a, pi, i) => a + pi * Math.log(pi / q[i]!), 0);
  near(weighted.metrics.kl!, klpq, 'KL(p||q)');

  // β = 0 with a reference: metric still computed, no gradient from KL.
  const noKl = await run(c, { ...base, beta: 0 });
  near(noKl.metrics.kl!, metrics.kl!, 'kl metric at beta 0');
  nearAll(noKl.grad, [0, 0, 0], 'grad at beta 0');

  // An off-policy token gets no KL term and is left out of the kl metric.
  const mixed = await run({ ...c, off: [1, 0, 0] }, { ...base, beta });
  near(mixed.metrics.kl!, (k3[1]! + k3[2]!) / 2, 'kl over on-policy tokens');
  // Token 0 (p ≠ q): only shaping with A = 0 -> zero gradient; tokens 1, 2 as before.
  nearAll(mixed.grad, [0, beta * (1 - q[1]! / p[1]!) / 3, beta * (1 - q[2]! / p[2]!) / 3], 'grad with off-policy token');
  near(mixed.loss, beta * (k3[1]! + k3[2]!) / 3, 'loss with off-policy token');

  assert.throws(() => policyLoss({ logp: o.input('a', [1, 2]), oldLogp: o.input('b', [1, 2]), advantages: o.input('c', [1, 2]), mask: o.input('d', [1, 2]), cfg: { ...base, beta: 0.1 } }), /refLogp/);
});

test('aggregation modes by hand, with an empty sequence and garbage at masked positions', async () => {
  // r = 1 on counted tokens, so the token loss is -A there.
  // seq0: A = [1, 2, 3, ·] mask [1,1,1,0]; seq1: A = [4, ·, ·, ·]; seq2: empty.
  const adv = [1, 2, 3, 99, 4, -5, 6, 7, 7, 7, 7, 7];
  const mask = [1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0];
  const logp = [-1, -1, -1, -80, -2, 30, -1, 0, -1e4, -1, -1, -1];
  const oldLogp = [-1, -1, -1, 0, -2, -30, 5, 0, 0, -1, -1, -1];
  const c: Case = { B: 3, T: 4, logp, oldLogp, adv, mask };
  const expect: Record<Aggregation, { loss: number; grad: number[] }> = {
    // (1+2+3+4)/4 tokens
    'token-mean': { loss: -2.5, grad: [-1 / 4, -2 / 4, -3 / 4, 0, -4 / 4, 0, 0, 0, 0, 0, 0, 0] },
    // mean(-2, -4) over the two non-empty sequences
    'seq-mean-token-mean': { loss: -3, grad: [-1 / 6, -2 / 6, -3 / 6, 0, -4 / 2, 0, 0, 0, 0, 0, 0, 0] },
    // mean(-6/8, -4/8)
    'seq-mean-token-sum-norm': { loss: -0.625, grad: [-1 / 16, -2 / 16, -3 / 16, 0, -4 / 16, 0, 0, 0, 0, 0, 0, 0] },
  };
  for (const mode of Object.keys(expect) as Aggregation[]) {
    const { loss, grad: g } = await run(c, { ...base, aggregation: mode, maxLen: 8 });
    near(loss, expect[mode].loss, `${mode} loss`);
    nearAll(g, expect[mode].grad, `${mode} grad`);
  }
});

test('an all-masked batch gives loss 0, zero gradient and finite metrics in every mode', async () => {
  const c: Case = { B: 2, T: 2, logp: [-1, -2, -3, -4], oldLogp: [0, 0, 0, 0], adv: [1, -1, 1, -1], mask: [0, 0, 0, 0], refLogp: [-1, -1, -1, -1], off: [1, 0, 0, 0] };
  for (const mode of ['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum-norm'] as Aggregation[]) {
    const { loss, grad: g, metrics } = await run(c, { ...base, beta: 0.1, aggregation: mode, maxLen: 4 });
    assert.equal(loss, 0, mode);
    assert.deepEqual(g.map((x) => x === 0), [true, true, true, true], `${mode} grad ${g}`);
    for (const [k, v] of Object.entries(metrics)) assert.ok(Number.isFinite(v), `${mode} ${k} = ${v}`);
  }
});

test('aggregateTokenLoss and maskedMean as standalone graphs', async () => {
  const x = o.input('x', ['B', 'T']);
  const m = o.input('m', ['B', 'T']);
  const out = await evaluate({
    tm: aggregateTokenLoss(x, m, 'token-mean'),
    sm: aggregateTokenLoss(x, m, 'seq-mean-token-mean'),
    sn: aggregateTokenLoss(x, m, 'seq-mean-token-sum-norm', 5),
    mm: maskedMean(x, m),
  }, { x: { data: f32([2, 4, 6, 10, 0, 0]), shape: [2, 3] }, m: { data: f32([1, 1, 1, 1, 0, 0]), shape: [2, 3] } }, OPTS);
  near(Number(out.tm!.data[0]), 22 / 4, 'token-mean');
  near(Number(out.sm!.data[0]), (4 + 10) / 2, 'seq-mean-token-mean');
  near(Number(out.sn!.data[0]), (12 / 5 + 10 / 5) / 2, 'seq-mean-token-sum-norm');
  near(Number(out.mm!.data[0]), 22 / 4, 'maskedMean');
  assert.throws(() => aggregateTokenLoss(x, m, 'seq-mean-token-sum-norm'), /maxLen/);
  assert.throws(() => policyLoss({ logp: x, oldLogp: x, advantages: x, mask: m, cfg: { ...base, aggregation: 'seq-mean-token-sum-norm' } }), /maxLen/);
  assert.throws(() => policyLoss({ logp: x, oldLogp: o.input('y', ['B', 'U']), advantages: x, mask: m, cfg: base }), /oldLogp has shape/);
  assert.throws(() => policyLoss({ logp: x, oldLogp: x, advantages: x, mask: m, cfg: { ...base, epsLow: 1 } }), /epsLow/);
});

test('token entropy: closed form, uniform = log V, masked mean, and its gradient is finite', async () => {
  const logits = o.input('logits', ['B', 'T', 3]);
  const mask = o.input('mask', ['B', 'T']);
  const ent = tokenEntropy(logits);
  assert.deepEqual(ent.shape, ['B', 'T']);
  const me = meanEntropy(logits, mask);
  const [g] = grad(me, [logits]);
  const rows = [[0, 0, 0], [1, 2, 3], [100, 0, -100], [5, 5, -1]];
  const out = await evaluate({ ent, me, g: g! }, {
    logits: { data: f32(rows.flat()), shape: [2, 2, 3] },
    mask: { data: f32([1, 1, 0, 1]), shape: [2, 2] },
  }, OPTS);
  const H = (z: number[]) => {
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    return -e.reduce((a, v) => a + (v / s) * Math.log(v / s), 0);
  };
  const ents = Array.from(out.ent!.data as Float32Array);
  nearAll(ents, rows.map(H), 'entropy');
  near(ents[0]!, Math.log(3), 'uniform');
  near(Number(out.me!.data[0]), (H(rows[0]!) + H(rows[1]!) + H(rows[3]!)) / 3, 'masked mean');
  assert.ok(Array.from(out.g!.data as Float32Array).every(Number.isFinite));
});

// ---------------------------------------------------------------- #12: KL estimators, GSPO, entropy bonus

test('KL estimators k1 and k2 in the loss: values and gradients by hand; graph = host twin', async () => {
  const logp = [-1, -2.5, -0.3];
  const ref = [-2, -2, -0.3];
  const d = logp.map((x, i) => x - ref[i]!); // 1, −0.5, 0
  const beta = 0.2;
  const c: Case = { B: 1, T: 3, logp, oldLogp: logp, adv: [0, 0, 0], mask: [1, 1, 1], refLogp: ref };
  // k1 = d: loss β·mean(d), gradient β/N on every token (the estimator's own gradient is 1).
  const k1 = await run(c, { ...base, beta, klEstimator: 'k1' });
  near(k1.loss, beta * (1 - 0.5 + 0) / 3, 'k1 loss');
  nearAll(k1.grad, [beta / 3, beta / 3, beta / 3], 'k1 grad');
  near(k1.metrics.kl!, 0.5 / 3, 'k1 metric');
  // k2 = d²/2: loss β·mean(d²/2), gradient β·d/N.
  const k2 = await run(c, { ...base, beta, klEstimator: 'k2' });
  near(k2.loss, beta * (0.5 + 0.125) / 3, 'k2 loss');
  nearAll(k2.grad, d.map((x) => beta * x / 3), 'k2 grad');
  // The graph estimators equal the host ones used for KL in the reward.
  for (const est of ['k1', 'k2', 'k3'] as const) {
    const r = await run({ ...c, mask: [1, 0, 0] }, { ...base, beta, klEstimator: est });
    near(r.metrics.kl!, klPerToken(logp[0]!, ref[0]!, est), `${est} graph vs host`, 1e-6);
  }
  assert.throws(() => policyLoss({ logp: o.input('a', [1, 2]), oldLogp: o.input('b', [1, 2]), advantages: o.input('c', [1, 2]), mask: o.input('d', [1, 2]), cfg: { ...base, klEstimator: 'k4' as never } }), /klEstimator/);
});

test('GSPO sequence ratio: s = exp(mean log-ratio), clipped per sequence, gradient A·s/|y| per token', async () => {
  // seq 0: log-ratios ln 1.1, 0 -> s0 = sqrt(1.1) = 1.0488 (inside 1 ± 0.2);
  // seq 1: ln 2, ln 1.1 -> s1 = sqrt(2.2) = 1.4832 > 1.2 with A > 0: clipped, no gradient,
  //   although token-level PPO would keep the second token (1.1 < 1.2).
  // seq 2: three tokens, the last masked; log-ratios ln 0.9, ln 0.8 -> s2 = sqrt(0.72), A < 0.
  const lr = [Math.log(1.1), 0, 0, Math.log(2), Math.log(1.1), 0, Math.log(0.9), Math.log(0.8), 5];
  const old = [-1, -2, -3, -0.5, -1.5, -2, -1, -0.7, -4];
  const c: Case = {
    B: 3, T: 3, logp: lr.map((x, i) => x + old[i]!), oldLogp: old,
    adv: [1, 1, 1, 1, 1, 1, -2, -2, -2], mask: [1, 1, 0, 1, 1, 0, 1, 1, 0],
  };
  const cfg: PolicyLossConfig = { ...base, epsLow: 0.2, epsHigh: 0.2, aggregation: 'seq-mean-token-mean', ratioLevel: 'sequence' };
  const { loss, grad: g, metrics } = await run(c, cfg);
  const s0 = Math.sqrt(1.1), s1 = Math.sqrt(2.2), s2 = Math.sqrt(0.72);
  // Objectives: s0·1, 1.2·1 (clipped), s2·(−2) (s2 = 0.8485 > 0.8: not clipped); mean over 3 sequences.
  near(loss, -(s0 + 1.2 - 2 * s2) / 3, 'loss');
  // d/dlogp_t of −J_i/3 = −A_i·s_i/(|y_i|·3) on each counted token of sequence i.
  nearAll(g, [-s0 / 6, -s0 / 6, 0, 0, 0, 0, 2 * s2 / 6, 2 * s2 / 6, 0], 'grad');
  near(metrics.clip_frac!, 2 / 6, 'clip_frac (seq 1 tokens)');
  near(metrics.ratio_mean!, (2 * s0 + 2 * s1 + 2 * s2) / 6, 'ratio_mean');
  near(metrics.ratio_max!, s1, 'ratio_max');
  near(metrics.ratio_min!, s2, 'ratio_min');
  // Token level on the same input: seq 1's second token is inside the trust region.
  const tok = await run(c, { ...cfg, ratioLevel: 'token' });
  assert.ok(tok.grad[4]! !== 0 && g[4] === 0);
  near(tok.metrics.ratio_min!, 0.8, 'token ratio_min');
});

test('entropy bonus: loss − c·agg(H), by hand; no entropy input is an error', async () => {
  const logitsIn = o.input('logits', ['B', 'T', 3]);
  const shape: Dim[] = ['B', 'T'];
  const logp = o.input('logp', shape);
  const mask = o.input('mask', shape);
  const zero = o.input('zero', shape);
  const ent = tokenEntropy(logitsIn);
  const mk = (coef: number) => policyLoss({ logp, oldLogp: logp, advantages: zero, mask, entropy: ent, cfg: { ...base, aggregation: 'seq-mean-token-mean', entropyCoef: coef } });
  const withBonus = mk(0.5);
  const rows = [[0, 0, 0], [1, 2, 3], [2, 0, -1], [5, 5, -1]];
  const out = await evaluate({ loss: withBonus.loss, ent: withBonus.metrics.entropy!, l0: mk(0).loss }, {
    logits: { data: f32(rows.flat()), shape: [2, 2, 3] },
    logp: { data: f32([-1, -1, -1, -1]), shape: [2, 2] },
    mask: { data: f32([1, 1, 1, 0]), shape: [2, 2] },
    zero: { data: f32([0, 0, 0, 0]), shape: [2, 2] },
  }, OPTS);
  const H = (z: number[]) => {
    const e = z.map(Math.exp);
    const s = e.reduce((a, b) => a + b, 0);
    return -e.reduce((a, v) => a + (v / s) * Math.log(v / s), 0);
  };
  const h = rows.map(H);
  // A = 0, r = 1: the policy term is 0; seq-mean-token-mean of H is mean((h0 + h1)/2, h2).
  near(Number(out.loss!.data[0]), -0.5 * ((h[0]! + h[1]!) / 2 + h[2]!) / 2, 'loss');
  near(Number(out.l0!.data[0]), 0, 'coefficient 0');
  near(Number(out.ent!.data[0]), (h[0]! + h[1]! + h[2]!) / 3, 'entropy metric');
  assert.throws(() => policyLoss({ logp, oldLogp: logp, advantages: zero, mask, cfg: { ...base, entropyCoef: 0.1 } }), /entropy input/);
  assert.throws(() => policyLoss({ logp, oldLogp: logp, advantages: zero, mask, entropy: ent, cfg: { ...base, entropyCoef: -1 } }), /entropyCoef/);
});

test('finite differences: the gradients of the k1/k2/k3 terms, the GSPO ratio and the entropy bonus', async () => {
  const rng = new FdRng(7);
  const B = 2, T = 3, V = 4;
  const sh = [B, T];
  const mask = [1, 1, 1, 1, 1, 0];
  // Ratios kept well inside or outside the clip range (no kinks within ±h).
  const old = [-1.2, -0.8, -2.0, -1.5, -0.6, -1.1];
  const lr = [0.05, -0.08, 0.03, 0.5, 0.45, 0];
  const hostLogp = hostF('float64', sh, (i) => old[i]! + lr[i]!);
  const fixed = (name: string, xs: number[]) => ({ name, wrt: false, value: hostF('float64', sh, (i) => xs[i]!) });
  const common = [
    fixed('old', old), fixed('adv', [1, 1, 1, -0.7, -0.7, -0.7]), fixed('mask', mask),
    fixed('ref', old.map((x, i) => x + rng.uniform(-0.6, 0.6) + (i % 2 ? 0.3 : -0.3))),
  ];
  for (const est of ['k1', 'k2', 'k3'] as const) {
    for (const ratioLevel of ['token', 'sequence'] as const) {
      await checkGrad(`${est}, ${ratioLevel}`, {
        inputs: [{ name: 'logp', value: hostLogp }, ...common],
        build: (x) => policyLoss({ logp: x.logp!, oldLogp: x.old!, refLogp: x.ref!, advantages: x.adv!, mask: x.mask!, cfg: { ...base, beta: 0.3, klEstimator: est, ratioLevel, aggregation: 'seq-mean-token-mean' } }).loss,
      }, 1e-5);
    }
  }
  // Entropy bonus through the logits (and GSPO on the same graph): logp = log-softmax at targets.
  // (An FD check with oldLogp = stopGradient(logp) would be wrong: the forward moves both.)
  const targets = [0, 3, 1, 2, 2, 0];
  await checkGrad('entropy bonus', {
    inputs: [{ name: 'logits', value: hostF('float64', [B, T, V], () => rng.uniform(-2, 2)) }, ...common],
    build: (x) => {
      const lp = o.tokenLogProbs(x.logits!, o.constant(BigInt64Array.from(targets.map(BigInt)), [B, T], 'int64'));
      // Clip ranges so wide that no ratio reaches them: the objective is smooth everywhere.
      return policyLoss({ logp: lp, oldLogp: x.old!, advantages: x.adv!, mask: x.mask!, entropy: tokenEntropy(x.logits!), cfg: { ...base, epsLow: 0.999, epsHigh: 1e6, entropyCoef: 0.05, ratioLevel: 'sequence', aggregation: 'token-mean' } }).loss;
    },
  }, 1e-5);
});
