// Reward composition, the host KL estimators (KL in the reward) and the iteration diagnostics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { composeReward, klPerToken, klRewardPenalty } from '../../src/rl/rewards.js';
import { accuracyBy, groupOutcomes, summarize } from '../../src/rl/diagnostics.js';
import { parseRlConfig } from '../../src/rl/config.js';
import { shapedReward } from '../../src/rl/rollout.js';
import { corruptStep, formatResponse, getSplit, goldResponse, Rng } from '../../src/tasks/index.js';

const near = (a: number, b: number, what: string, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('composeReward: accuracy, accuracy + bonus·format, format gate; every (accuracy, format) pair', () => {
  // [accuracy, format] -> expected per mode (bonus 0.25).
  const table: [number, number, number, number, number][] = [
    // acc fmt  accuracy  acc+fmt  gate
    [0, 0, 0, 0, 0],
    [0, 1, 0, 0.25, 0],
    [1, 0, 1, 1, 0], // a right answer in a broken format: no credit under the gate
    [1, 1, 1, 1.25, 1],
  ];
  for (const [a, f, acc, plus, gate] of table) {
    assert.equal(composeReward('accuracy', 0.25, a, f), acc);
    assert.equal(composeReward('accuracy+format', 0.25, a, f), plus);
    assert.equal(composeReward('format-gate', 0.25, a, f), gate);
  }
  assert.throws(() => composeReward('accuracy+format', -1, 1, 1), /formatBonus/);
  assert.throws(() => composeReward('bonus' as never, 0.1, 1, 1), /unknown mode/);
});

test('shapedReward follows the config: default accuracy only; the bonus only where configured', () => {
  const inst = getSplit('grid', 'train', 1)[0]!;
  const gold = goldResponse(inst);
  const len = 10;
  assert.deepEqual(shapedReward(parseRlConfig({}, 't'), inst, gold, len), { reward: 1, accuracy: 1, format: 1 });
  assert.deepEqual(shapedReward(parseRlConfig({ reward: { mode: 'accuracy+format' } }, 't'), inst, gold, len), { reward: 1.1, accuracy: 1, format: 1 });
  assert.deepEqual(shapedReward(parseRlConfig({ reward: { mode: 'accuracy+format', format_bonus: 0.5 } }, 't'), inst, 'garbage', len), { reward: 0, accuracy: 0, format: 0 });
  // A well-formed wrong answer: format 1, accuracy 0.
  const wrong = gold.replace(/<answer>.*<\/answer>/, `<answer>${inst.answer === '0' ? '1' : '0'}</answer>`);
  const r = shapedReward(parseRlConfig({ reward: { mode: 'accuracy+format', format_bonus: 0.5 } }, 't'), inst, wrong, len);
  assert.equal(r.accuracy, 0);
  if (r.format === 1) assert.equal(r.reward, 0.5);
  // DAPO's overlong penalty is added on top of the composition.
  const d = parseRlConfig({ method: 'dapo', max_new_tokens: 100, overlong: { cache_len: 20 } }, 't');
  near(shapedReward(d, inst, gold, 90).reward, 1 - 0.5, 'overlong');
});

test('klPerToken: Schulman k1, k2, k3 by hand, with verl low_var_kl clamps', () => {
  // logp = −1, ref = −2: d = 1.
  near(klPerToken(-1, -2, 'k1'), 1, 'k1');
  near(klPerToken(-1, -2, 'k2'), 0.5, 'k2');
  near(klPerToken(-1, -2, 'k3'), Math.exp(-1) + 1 - 1, 'k3'); // e^−d + d − 1 = 0.3679
  // d = −0.5: k1 negative, k2, k3 positive.
  near(klPerToken(-2.5, -2, 'k1'), -0.5, 'k1 < 0');
  near(klPerToken(-2.5, -2, 'k2'), 0.125, 'k2');
  near(klPerToken(-2.5, -2, 'k3'), Math.exp(0.5) - 0.5 - 1, 'k3');
  near(klPerToken(-3, -3, 'k3'), 0, 'k3 at equality');
  // k3 clamps at 10 (d = −30 would give e^30).
  assert.equal(klPerToken(-40, -10, 'k3'), 10);
  // E_p[k] ≈ KL(p‖q) for k1 and k3 exactly in expectation over a discrete p.
  const p = [0.5, 0.3, 0.2], q = [0.4, 0.4, 0.2];
  const kl = p.reduce((a, pi, i) => a + pi * Math.log(pi / q[i]!), 0);
  for (const est of ['k1', 'k3'] as const) near(p.reduce((a, pi, i) => a + pi * klPerToken(Math.log(pi), Math.log(q[i]!), est), 0), kl, `E[${est}]`, 1e-12);
  assert.throws(() => klPerToken(0, 0, 'k4' as never), /unknown estimator/);
});

test('klRewardPenalty: β · Σ_t k over on-policy tokens only', () => {
  const logp = [-1, -2.5, -0.1];
  const ref = [-2, -2, -5];
  // Token 2 is off-policy (a demonstration token): left out.
  near(klRewardPenalty(logp, ref, [0, 0, 1], 'k2', 0.1), 0.1 * (0.5 + 0.125), 'k2 penalty');
  near(klRewardPenalty(logp, ref, [0, 0, 0], 'k1', 2), 2 * (1 - 0.5 + 4.9), 'k1 penalty');
  assert.equal(klRewardPenalty([], [], [], 'k3', 1), 0);
  assert.throws(() => klRewardPenalty([1], [1, 2], [0], 'k1', 1), /lengths differ/);
  assert.throws(() => klRewardPenalty([1], [1], [0], 'k1', -1), /beta/);
});

test('diagnostics: summarize, all-correct / all-wrong groups, accuracy by family', () => {
  assert.deepEqual(summarize([]), { mean: 0, std: 0, min: 0, max: 0 });
  const s = summarize([1, -1, 3, 1]); // mean 1, deviations 0, −2, 2, 0 -> var 2
  near(s.mean, 1, 'mean');
  near(s.std, Math.SQRT2, 'std');
  assert.equal(s.min, -1);
  assert.equal(s.max, 3);
  assert.deepEqual(groupOutcomes([[1, 1], [0, 0, 0], [1, 0], [], [1]]), { allCorrect: 2, allWrong: 1, groups: 5 });
  assert.deepEqual(accuracyBy([{ key: 'grid', accuracy: 1 }, { key: 'chart', accuracy: 0 }, { key: 'grid', accuracy: 0 }]), { grid: 0.5, chart: 0 });
});

test("reward mode 'verified': a right answer counts only when every step holds against the scene", () => {
  const cfg = parseRlConfig({ reward: { mode: 'verified' } }, 't');
  const rng = new Rng(3);
  let checked = 0;
  for (const inst of getSplit('chart', 'train', 40)) {
    const gold = goldResponse(inst);
    assert.equal(shapedReward(cfg, inst, gold, 10).reward, 1, 'the gold chain');
    // a visual error in step 0 with the gold answer kept: accuracy 1, but not verified
    const bad = corruptStep(inst, 0, 'visual', rng);
    if (bad === null) continue;
    const lucky = formatResponse([bad, ...inst.steps.slice(1)], inst.answer);
    const r = shapedReward(cfg, inst, lucky, 10);
    assert.equal(r.accuracy, 1, 'the answer is right');
    assert.equal(r.reward, 0, 'a guessed answer after a false step earns nothing');
    checked++;
  }
  assert.ok(checked >= 10, `${checked} corrupted chains checked`);
  assert.throws(() => composeReward('verified', 0.1, 1, 1), /needs the verification/);
});
