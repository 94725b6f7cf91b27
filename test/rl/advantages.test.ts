import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  scaleNegatives,
  batchAdvantages, computeAdvantages, dynamicSamplingKeep, groupAdvantages, isZeroVariance, overlongPenalty, tokenAdvantages, unbiasedStd,
} from '../../src/rl/advantages.js';

function close(actual: number[][], expected: number[][], tol = 1e-9): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((g, i) => {
    assert.equal(g.length, expected[i]!.length, `group ${i} length`);
    g.forEach((a, j) => assert.ok(Math.abs(a - expected[i]![j]!) <= tol, `[${i}][${j}]: ${a} vs ${expected[i]![j]}`));
  });
}

test('GRPO: (r - mean) / (unbiased std + eps), by hand', () => {
  const eps = 1e-6;
  // [1,0,0,0]: mean 0.25; unbiased var = (0.5625 + 3·0.0625)/3 = 0.25, std 0.5.
  // [1,0]: mean 0.5, unbiased std sqrt(0.5) (the biased std would be 0.5 and give ±1).
  // [2,4,9]: mean 5, unbiased var = (9+1+16)/2 = 13.
  const { advantages, zeroVariance } = groupAdvantages([[1, 0, 0, 0], [1, 0], [2, 4, 9]], 'grpo', eps);
  const s13 = Math.sqrt(13);
  close(advantages, [
    [0.75 / (0.5 + eps), -0.25 / (0.5 + eps), -0.25 / (0.5 + eps), -0.25 / (0.5 + eps)],
    [0.5 / (Math.SQRT1_2 + eps), -0.5 / (Math.SQRT1_2 + eps)],
    [-3 / (s13 + eps), -1 / (s13 + eps), 4 / (s13 + eps)],
  ]);
  assert.deepEqual(zeroVariance, [false, false, false]);
  // Spot values: a 1-of-4 success gets ~+1.5, the biased std would have given ±1 for [1,0].
  assert.ok(Math.abs(advantages[0]![0]! - 1.5) < 1e-5);
  assert.ok(Math.abs(advantages[1]![0]! - 0.70710678) < 1e-5);
});

test('Dr. GRPO: r - mean, no std', () => {
  const { advantages, zeroVariance } = groupAdvantages([[1, 0, 0, 0], [2, 4, 9], [0.5, -0.5]], 'drgrpo');
  close(advantages, [[0.75, -0.25, -0.25, -0.25], [-3, -1, 4], [0.5, -0.5]]);
  assert.deepEqual(zeroVariance, [false, false, false]);
});

test('zero-variance groups: all equal, single sample, empty -> exactly 0 and flagged', () => {
  for (const mode of ['grpo', 'drgrpo'] as const) {
    const rewards = [[1, 1, 1], [0, 0, 0, 0], [5], [], [0.1 + 0.2, 0.3, 0.3], [1, 0]];
    const { advantages, zeroVariance } = groupAdvantages(rewards, mode);
    assert.deepEqual(zeroVariance, [true, true, true, true, true, false], mode);
    assert.deepEqual(advantages.slice(0, 5), [[0, 0, 0], [0, 0, 0, 0], [0], [], [0, 0, 0]], mode);
    for (const g of advantages.slice(0, 5)) for (const a of g) assert.ok(Object.is(a, 0), `${mode}: exact +0, got ${a}`);
    assert.ok(advantages[5]![0]! > 0 && advantages[5]![1]! < 0);
  }
});

test('group advantages sum to zero and are invariant to a reward shift; GRPO to positive scale', () => {
  const r = [[0.3, 1.2, -0.7, 0.1, 2.0]];
  const a = groupAdvantages(r, 'grpo', 0).advantages[0]!;
  assert.ok(Math.abs(a.reduce((x, y) => x + y, 0)) < 1e-12);
  const shifted = groupAdvantages([r[0]!.map((x) => x + 10)], 'grpo', 0).advantages[0]!;
  const scaled = groupAdvantages([r[0]!.map((x) => x * 7)], 'grpo', 0).advantages[0]!;
  a.forEach((v, i) => { assert.ok(Math.abs(v - shifted[i]!) < 1e-9); assert.ok(Math.abs(v - scaled[i]!) < 1e-9); });
  // Unit unbiased std after normalization (eps = 0).
  assert.ok(Math.abs(unbiasedStd(a) - 1) < 1e-12);
  const d = groupAdvantages([r[0]!.map((x) => x * 7)], 'drgrpo').advantages[0]!;
  const d1 = groupAdvantages(r, 'drgrpo').advantages[0]!;
  d.forEach((v, i) => assert.ok(Math.abs(v - 7 * d1[i]!) < 1e-9));
});

test('groupAdvantages rejects non-finite rewards and unknown modes', () => {
  assert.throws(() => groupAdvantages([[1, NaN]], 'grpo'), /reward \[0\]\[1\]/);
  assert.throws(() => groupAdvantages([[1, Infinity]], 'drgrpo'), /finite/);
  assert.throws(() => groupAdvantages([[1, 0]], 'dapo' as never), /unknown mode/);
});

test('unbiasedStd and isZeroVariance', () => {
  assert.equal(unbiasedStd([]), 0);
  assert.equal(unbiasedStd([3]), 0);
  assert.ok(Math.abs(unbiasedStd([1, 2, 3, 4]) - Math.sqrt(5 / 3)) < 1e-12);
  assert.equal(isZeroVariance([2, 2]), true);
  assert.equal(isZeroVariance([2, 2 + 1e-6]), false);
});

test('DAPO overlong penalty (eq. 13) by hand', () => {
  // L_max = 100, L_cache = 20: free up to 80, linear ramp to -1 at 100, -1 beyond.
  assert.equal(overlongPenalty(0, 100, 20), 0);
  assert.equal(overlongPenalty(80, 100, 20), 0);
  assert.equal(overlongPenalty(81, 100, 20), -1 / 20);
  assert.equal(overlongPenalty(90, 100, 20), -0.5);
  assert.equal(overlongPenalty(100, 100, 20), -1);
  assert.equal(overlongPenalty(101, 100, 20), -1);
  assert.equal(overlongPenalty(5000, 100, 20), -1);
  // No cache: a hard cut-off.
  assert.equal(overlongPenalty(100, 100, 0), 0);
  assert.equal(overlongPenalty(101, 100, 0), -1);
  // Whole length is the ramp.
  assert.equal(overlongPenalty(25, 100, 100), -0.25);
  assert.throws(() => overlongPenalty(10, 100, 101), /cacheLen/);
  assert.throws(() => overlongPenalty(-1, 100, 10), /length/);
  assert.throws(() => overlongPenalty(1.5, 100, 10), /length/);
});

test('DAPO dynamic sampling keeps exactly the groups with non-zero reward variance', () => {
  assert.deepEqual(dynamicSamplingKeep([[1, 0], [1, 1], [0], [0.5, 0.5, 0.7], [], [0, 0, 0]]), [0, 3]);
  assert.deepEqual(dynamicSamplingKeep([]), []);
});

test('step-level credit: negative advantage spares the verified prefix', () => {
  assert.deepEqual(tokenAdvantages(-1, 5, 2), [0, 0, -1, -1, -1]);
  assert.deepEqual(tokenAdvantages(-0.5, 4, 0), [-0.5, -0.5, -0.5, -0.5]);
  assert.deepEqual(tokenAdvantages(-1, 3), [-1, -1, -1]);
  assert.deepEqual(tokenAdvantages(-1, 3, 10), [0, 0, 0]);
  assert.deepEqual(tokenAdvantages(-1, 3, -2), [-1, -1, -1]);
  // A positive (or zero) advantage applies to the whole response.
  assert.deepEqual(tokenAdvantages(2, 4, 2), [2, 2, 2, 2]);
  assert.deepEqual(tokenAdvantages(0, 2, 1), [0, 0]);
  assert.deepEqual(tokenAdvantages(-1, 0, 0), []);
  assert.throws(() => tokenAdvantages(NaN, 3), /finite/);
  assert.throws(() => tokenAdvantages(1, 2.5), /tokenCount/);
  assert.throws(() => tokenAdvantages(1, 3, 1.5), /fromToken/);
});

test('RLOO: r − mean of the other samples = G/(G−1)·(r − mean), by hand', () => {
  const { advantages, zeroVariance } = groupAdvantages([[1, 0, 0, 0], [2, 4, 9], [1, 1], [0.5, -0.5]], 'rloo');
  // [1,0,0,0]: 1 − 0 = 1; 0 − 1/3. [2,4,9]: 2 − 6.5, 4 − 5.5, 9 − 3. [0.5,−0.5]: ±1.
  close(advantages, [[1, -1 / 3, -1 / 3, -1 / 3], [-4.5, -1.5, 6], [0, 0], [1, -1]], 1e-12);
  assert.deepEqual(zeroVariance, [false, false, true, false]);
});

test('REINFORCE++: token-weighted batch whitening with unbiased variance (as verl masked_whiten), by hand', () => {
  // Tokens: one of reward 1, seven of reward 0 -> mean 1/8, Σw(x−μ)² = 49/64 + 7/64 = 7/8,
  // unbiased var = (7/8)/7 = 1/8, scale 1/sqrt(1/8 + 1e-8).
  const { advantages, zeroVariance } = batchAdvantages([[1, 0], [0, 0]], [[1, 3], [2, 2]], 'reinforce++');
  const k = 1 / Math.sqrt(1 / 8 + 1e-8);
  close(advantages, [[(7 / 8) * k, (-1 / 8) * k], [(-1 / 8) * k, (-1 / 8) * k]], 1e-9);
  // The all-wrong group is flagged but gets a negative advantage: the batch is the baseline.
  assert.deepEqual(zeroVariance, [false, true]);
  assert.ok(Math.abs(advantages[0]![0]! - 2.4748737) < 1e-6);
  // The same through computeAdvantages; groupAdvantages refuses batch modes.
  close(computeAdvantages([[1, 0], [0, 0]], [[1, 3], [2, 2]], 'reinforce++').advantages, advantages, 0);
  assert.throws(() => groupAdvantages([[1, 0]], 'reinforce++'), /computeAdvantages/);
});

test('REINFORCE++ with baseline: group mean first, then batch whitening; equal rewards shift with the batch', () => {
  // Centred: [0.5 (3 tokens), −0.5 (1)], [0 (1), 0 (1)] -> μ = (1.5 − 0.5)/6 = 1/6,
  // Σw(x−μ)² = 3/9 + 4/9 + 2/36 = 5/6, var = (5/6)/5 = 1/6, scale = 1/sqrt(1/6 + 1e-8).
  const { advantages, zeroVariance } = batchAdvantages([[1, 0], [1, 1]], [[3, 1], [1, 1]], 'reinforce++-baseline');
  const k = 1 / Math.sqrt(1 / 6 + 1e-8);
  close(advantages, [[(1 / 3) * k, (-2 / 3) * k], [(-1 / 6) * k, (-1 / 6) * k]], 1e-9);
  assert.deepEqual(zeroVariance, [false, true]);
  // Equal lengths: μ = 0, the zero-variance group stays 0; [1,0] -> ±0.5/sqrt(1/7) (var (4·0.25)/7).
  const eq = batchAdvantages([[1, 0], [1, 1]], [[2, 2], [1, 3]], 'reinforce++-baseline').advantages;
  const k7 = 1 / Math.sqrt(1 / 7 + 1e-8);
  close(eq, [[0.5 * k7, -0.5 * k7], [0, 0]], 1e-9);
  // Unlike plain REINFORCE++, a reward offset shared by a group does not matter.
  close(batchAdvantages([[11, 10], [3, 3]], [[2, 2], [1, 3]], 'reinforce++-baseline').advantages, eq, 1e-9);
  // Degenerate batches give zeros; bad lengths are errors.
  close(batchAdvantages([[1, 1]], [[2, 2]], 'reinforce++').advantages, [[0, 0]], 0);
  close(batchAdvantages([[1, 0]], [[1, 0]], 'reinforce++').advantages, [[0, 0]], 0);
  assert.throws(() => batchAdvantages([[1, 0]], [[1]], 'reinforce++'), /same nesting/);
  assert.throws(() => batchAdvantages([[1, 0]], [[1, -1]], 'reinforce++'), /length \[0\]\[1\]/);
});

test('scaleNegatives: negatives times λ, positives and zeros unchanged; λ outside [0, 1] refused', () => {
  assert.deepEqual(scaleNegatives([[1.5, -0.5, 0, -1]], 0.3), [[1.5, -0.5 * 0.3, 0, -0.3]]);
  assert.deepEqual(scaleNegatives([[-2, 2]], 1), [[-2, 2]]);
  assert.throws(() => scaleNegatives([[1]], 1.5), /λ must be in \[0, 1\]/);
});
