import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffCi, meanCi, t975, variance } from '../../src/stats/interval.js';
import { validateResults, ResultsError } from '../../src/report/results-schema.js';
import { summarizeAll } from '../../src/report/compare.js';
import { bootstrapAccuracy } from '../../src/stats/bootstrap.js';
import { buildResults } from './fixture.js';

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);

test('t quantiles: exact for every df (published tables), fractional df, normal limit', () => {
  const table: [number, number][] = [[1, 12.7062], [2, 4.3027], [10, 2.2281], [30, 2.0423], [31, 2.0395], [40, 2.0211], [60, 2.0003], [120, 1.9799]];
  for (const [df, t] of table) close(t975(df), t, 5e-5);
  close(t975(1e7), 1.959964, 1e-5);
  // Welch df between two integers lies between their quantiles
  assert.ok(t975(2.5) < t975(2) && t975(2.5) > t975(3));
  assert.throws(() => t975(0.5), /degrees of freedom/);
});

test('meanCi: n=3 uses t=4.303 (hand-computed)', () => {
  // mean 2, s = 1, half = 4.303 / sqrt(3) = 2.484338...
  const ci = meanCi([1, 2, 3]);
  assert.equal(ci.n, 3);
  close(ci.mean, 2);
  close(ci.ci_low, 2 - t975(2) / Math.sqrt(3));
  close(ci.ci_high, 2 + t975(2) / Math.sqrt(3));
  close(ci.ci_high, 4.484138, 1e-5);
});

test('meanCi: n=2 uses t=12.706; accuracies', () => {
  // 0.4, 0.6: mean 0.5, s = 0.141421, half = 12.7062 * 0.141421 / 1.414214 = 1.27062
  const ci = meanCi([0.4, 0.6]);
  close(ci.ci_low, 0.5 - 1.27062, 1e-5);
  close(ci.ci_high, 0.5 + 1.27062, 1e-5);
  // five values: mean 0.62, s^2 = 0.0058 / 4 = 0.00145, half = 2.776 * sqrt(0.00145 / 5)
  const five = meanCi([0.6, 0.65, 0.58, 0.67, 0.6]);
  close(five.mean, 0.62);
  close(variance([0.6, 0.65, 0.58, 0.67, 0.6]), 0.00145, 1e-12);
  close(five.ci_high - five.mean, 2.7764 * Math.sqrt(0.00145 / 5), 1e-5);
});

test('meanCi: n=1 collapses to [mean, mean] and says n=1; no values throws', () => {
  assert.deepEqual(meanCi([0.42]), { mean: 0.42, ci_low: 0.42, ci_high: 0.42, n: 1 });
  assert.throws(() => meanCi([]), /no values/);
});

test('meanCi: 40 values use t(39) = 2.0227, not the normal 1.96', () => {
  const xs = Array.from({ length: 40 }, (_, i) => i % 2);
  const ci = meanCi(xs);
  close(ci.ci_high - ci.mean, 2.0227 * Math.sqrt(variance(xs) / 40), 1e-4);
});

test('diffCi: Welch interval (hand-computed) and degenerate cases', () => {
  // a = 1,2,3; b = 4,5,6: d = -3, se^2 = 1/3 + 1/3, df = 4 -> t = 2.776
  const d = diffCi([1, 2, 3], [4, 5, 6]);
  close(d.mean, -3);
  close(d.ci_high, -3 + 2.7764 * Math.sqrt(2 / 3), 1e-4);
  close(d.ci_low, -3 - 2.7764 * Math.sqrt(2 / 3), 1e-4);
  assert.deepEqual(diffCi([0.5], [0.25, 0.35]), { mean: 0.2, ci_low: 0.2, ci_high: 0.2, n: 1 });
  assert.deepEqual(diffCi([1, 1], [0, 0]), { mean: 1, ci_low: 1, ci_high: 1, n: 2 });
});

test('summarizeAll: per method, in order; seed intervals without outcomes, instance × seed bootstrap with them', () => {
  const old = buildResults({ outcomes: false });
  const s = summarizeAll(old.runs);
  assert.deepEqual(Object.keys(s), old.methods);
  for (const m of old.methods) {
    for (const split of ['test', 'ood'] as const) {
      const accs = old.runs.filter((x) => x.method === m).map((x) => x.eval[split].accuracy);
      assert.deepEqual(s[m]![split], meanCi(accs));
    }
  }
  assert.deepEqual(old.summary, s);
  const r = buildResults();
  const ivr = summarizeAll(r.runs).ivr!.test;
  assert.deepEqual(ivr, bootstrapAccuracy(r.runs.filter((x) => x.method === 'ivr').map((x) => x.eval.test.correct!)));
  assert.equal(ivr.n, r.runs[0]!.eval.test.correct!.length, 'the interval is over instances');
});

test('validateResults accepts the fixture (and a JSON round trip of it)', () => {
  const r = buildResults();
  assert.equal(validateResults(r, 'fixture'), r);
  validateResults(JSON.parse(JSON.stringify(r)), 'fixture.json');
  validateResults(buildResults({ kind: 'ablations', methods: ['ivr', 'ivr-noloc'], seeds: [0] }), 'abl');
});

function broken(edit: (j: any) => void): unknown {
  const j = JSON.parse(JSON.stringify(buildResults({ methods: ['grpo', 'ivr'], seeds: [0, 1], iters: 6 })));
  edit(j);
  return j;
}

function errorOf(json: unknown): ResultsError {
  try { validateResults(json, 'out/results.json'); } catch (e) { assert.ok(e instanceof ResultsError); return e; }
  assert.fail('expected a ResultsError');
}

test('validateResults errors name the file and the field', () => {
  let e = errorOf(broken((j) => { j.runs[1].eval.ood.accuracy = '0.5'; }));
  assert.match(e.message, /^out\/results\.json: key "runs\[1\]\.eval\.ood\.accuracy" must be a number in \[0, 1\], got "0\.5"$/);
  e = errorOf(broken((j) => { delete j.commit; }));
  assert.match(e.message, /missing required key "commit" \(a string\)/);
  e = errorOf(broken((j) => { j.kind = 'benchmark'; }));
  assert.match(e.message, /key "kind" must be one of "bench", "ablations", got "benchmark"/);
  e = errorOf(broken((j) => { j.runs[0].method = 'ppo'; }));
  assert.match(e.message, /key "runs\[0\]\.method" is "ppo", which is not in "methods" \(grpo, ivr\)/);
  e = errorOf(broken((j) => { j.runs[2].eval.test.by_horizon[3].horizon = 2.5; }));
  assert.match(e.message, /key "runs\[2\]\.eval\.test\.by_horizon\[3\]\.horizon" must be an integer >= 0, got 2\.5/);
  e = errorOf(broken((j) => { j.base.eval.ood.first_error_hist.first = 3; }));
  assert.match(e.message, /key "base\.eval\.ood\.first_error_hist\.first" is not a step index or "none"/);
  e = errorOf(broken((j) => { j.runs[0].curve[2].val_accuracy = 'high'; }));
  assert.match(e.message, /key "runs\[0\]\.curve\[2\]\.val_accuracy" must be a number or null, got "high"/);
  e = errorOf(broken((j) => { j.summary.ivr.ood = { mean: 0.5 }; }));
  assert.match(e.message, /missing required key "summary\.ivr\.ood\.ci_low" \(a number\)/);
  e = errorOf(broken((j) => { j.runs[3] = { ...j.runs[2] }; }));
  assert.match(e.message, /key "runs\[3\]" repeats method "ivr" seed 0/);
  e = errorOf([1, 2]);
  assert.match(e.message, /must hold a JSON object/);
});

test('validateResults lists several problems, each on its own line, and caps the list', () => {
  const e = errorOf(broken((j) => { j.budget_tokens = -1; j.seeds = 'three'; j.runs[0].wall_s = null; }));
  assert.equal(e.problems.length, 3);
  assert.match(e.message, /^out\/results\.json: 3 problems:\n {2}- key "budget_tokens" must be a number >= 0, got -1\n/);
  const many = errorOf(broken((j) => { for (const r of j.runs) for (const h of r.eval.test.by_horizon) h.accuracy = 2; }));
  assert.equal(many.problems.length, 21);
  assert.match(many.problems[20]!, /^\.\.\. and \d+ more$/);
  // optional curve fields may be null (NaN in JSON)
  validateResults(broken((j) => { j.runs[0].curve[0].reward_mean = null; }), 'x');
});

test('validateResults: per-instance outcomes must be 0/1 and line up with the base instances', () => {
  const r = buildResults({ methods: ['grpo'] });
  assert.equal(validateResults(JSON.parse(JSON.stringify(r)), 'ok.json').runs.length, 3);
  const bad = JSON.parse(JSON.stringify(r));
  bad.runs[1].eval.test.correct = bad.runs[1].eval.test.correct.slice(1);
  bad.runs[2].eval.ood.correct = 'x' + bad.runs[2].eval.ood.correct.slice(1);
  assert.throws(() => validateResults(bad, 'bad.json'), (e: Error) =>
    /runs\[1\]\.eval\.test\.correct" has \d+ outcomes but base\.eval\.test\.instances lists \d+ instances/.test(e.message)
    && /runs\[2\]\.eval\.ood\.correct" must hold only the characters 0 and 1/.test(e.message));
});
