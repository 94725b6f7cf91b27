import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapAccuracy, bootstrapPairedDiff } from '../../src/stats/bootstrap.js';
import { wilson95 } from '../../src/stats/interval.js';
import { accuracyCi, accuracyDiffCi, longHalfIndices } from '../../src/report/compare.js';
import { studentTCdf } from '../../src/stats/student-t.js';
import { Rng } from '../../src/util/rng.js';

const close = (a: number, b: number, eps: number) => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b} (±${eps})`);

function outcomes(n: number, p: number, seed: number): string {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => (rng.float() < p ? '1' : '0')).join('');
}

test('student t CDF: symmetric, 0.5 at 0, t(1) is the Cauchy distribution', () => {
  close(studentTCdf(0, 5), 0.5, 1e-12);
  close(studentTCdf(1.5, 7) + studentTCdf(-1.5, 7), 1, 1e-12);
  close(studentTCdf(1, 1), 0.5 + Math.atan(1) / Math.PI, 1e-10);
});

test('wilson95: hand-computed interval for 8 of 10', () => {
  const w = wilson95(8, 10);
  close(w.low, 0.4902, 1e-4);
  close(w.high, 0.9433, 1e-4);
  assert.deepEqual(wilson95(0, 0), { low: 0, high: 0 });
});

test('bootstrapAccuracy: one seed matches the binomial standard error', () => {
  const o = outcomes(600, 0.4, 1);
  const p = [...o].filter((c) => c === '1').length / 600;
  const ci = bootstrapAccuracy([o]);
  close(ci.mean, p, 1e-12);
  const half = 1.96 * Math.sqrt((p * (1 - p)) / 600);
  close(ci.ci_high - ci.ci_low, 2 * half, 0.15 * 2 * half);
  assert.equal(ci.n, 600);
});

test('bootstrapAccuracy: seeds that disagree widen the interval; identical seeds do not', () => {
  const a = outcomes(400, 0.5, 2);
  const same = bootstrapAccuracy([a, a, a]);
  const one = bootstrapAccuracy([a]);
  close(same.ci_high - same.ci_low, one.ci_high - one.ci_low, 0.01);
  // three seeds at 20%, 50%, 80%: the seed spread dominates
  const spread = bootstrapAccuracy([outcomes(400, 0.2, 3), outcomes(400, 0.5, 4), outcomes(400, 0.8, 5)]);
  assert.ok(spread.ci_high - spread.ci_low > 3 * (one.ci_high - one.ci_low), `${spread.ci_low}..${spread.ci_high}`);
});

test('bootstrapPairedDiff: identical methods give exactly zero; pairing narrows correlated differences', () => {
  const a = [outcomes(500, 0.5, 6)];
  assert.deepEqual(bootstrapPairedDiff(a, a), { mean: 0, ci_low: 0, ci_high: 0, n: 500 });
  // B solves what A solves plus 5% more instances: a small, certain improvement
  const rng = new Rng(7);
  const b = [[...a[0]!].map((c) => (c === '1' || rng.float() < 0.1 ? '1' : '0')).join('')];
  const d = bootstrapPairedDiff(b, a);
  assert.ok(d.ci_low > 0, `paired interval above zero: ${d.ci_low}`);
  // the unpaired view (two independent intervals) would overlap
  const ia = bootstrapAccuracy(a);
  const ib = bootstrapAccuracy(b);
  assert.ok(ib.ci_low < ia.ci_high, 'the separate intervals overlap');
});

test('bootstrap: bad input is refused with a message that names it', () => {
  assert.throws(() => bootstrapAccuracy([]), /no seeds/);
  assert.throws(() => bootstrapAccuracy(['0101', '01']), /seed 1 has 2 outcomes, seed 0 has 4/);
  assert.throws(() => bootstrapAccuracy(['01x1']), /outcome 2 of seed 0 is "x"/);
  assert.throws(() => bootstrapPairedDiff(['01'], ['011']), /same instances/);
});

test('longHalfIndices: per family, horizons at or above the median horizon', () => {
  const inst = [2, 3, 4, 5, 2, 3, 4].map((h, i) => ({ family: i < 4 ? 'grid' : 'chart', horizon: h }));
  // grid horizons 2..5: median index 2 → 4; chart 2..4 → 3
  assert.deepEqual(longHalfIndices(inst), [2, 3, 5, 6]);
});

test('accuracyCi / accuracyDiffCi: bootstrap with outcomes, seed intervals without', () => {
  const mk = (o: string) => ({ n: o.length, accuracy: [...o].filter((c) => c === '1').length / o.length, pass_at_k: 0, grounding_fidelity: 0, format_validity: 0, mean_length: 0, first_error_hist: {}, by_family: [], by_horizon: [], correct: o });
  const a = [mk(outcomes(300, 0.6, 8)), mk(outcomes(300, 0.62, 9))];
  const base = [mk(outcomes(300, 0.3, 10))];
  const ci = accuracyCi(a)!;
  assert.equal(ci.n, 300);
  const d = accuracyDiffCi(a, base)!;
  assert.ok(d.ci_low > 0.2, `${d.ci_low}`);
  const old = a.map(({ correct: _c, ...rest }) => rest);
  assert.equal(accuracyCi(old)!.n, 2, 'seed-level interval for files without outcomes');
});
