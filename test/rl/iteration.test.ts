// The update rows the trainer assembles from the groups and what a method adds
// (rl/iteration.ts scoreRows): members join their group's advantages, demonstrations come
// last with advantage 0 and the NLL weight λ / (demonstration tokens), step credit comes from
// the augmenter's map, and nothing is written into a Sample.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupAdvantages } from '../../src/rl/advantages.js';
import { nothingAdded } from '../../src/rl/augment.js';
import { parseRlConfig } from '../../src/rl/config.js';
import { scoreRows } from '../../src/rl/iteration.js';
import { fakeGroup, fakeSample, ScriptedPolicy } from '../helpers/rl-fixtures.js';

test('scoreRows: members in their group, demos last with NLL weight, credit from the map, samples untouched', async () => {
  const cfg = parseRlConfig({ method: 'ivr', beta: 0, minibatch_size: 64 }, 'test');
  const g0 = fakeGroup([fakeSample('policy', 0), fakeSample('policy', 0)]);
  const g1 = fakeGroup([fakeSample('policy', 1), fakeSample('policy', 0)]);
  const member = fakeSample('rectified', 1);
  const demo = fakeSample('rectified', 1, 1, 'a demonstration of 30 chars..');
  const before = JSON.stringify([g0, g1, member, demo]);
  const added = { ...nothingAdded(), members: [{ group: 0, sample: member }], demos: [{ prompt: g1, sample: demo }], demoNll: 0.5, creditFrom: new Map([[g1.samples[1]!, 3]]) };
  const s = await scoreRows(new ScriptedPolicy(() => '').asPolicy(), null, cfg, [g0, g1], added);

  assert.deepEqual(s.rows.map((r) => r.sample), [...g0.samples, member, ...g1.samples, demo]);
  const adv = groupAdvantages([[0, 0, 1], [1, 0]], 'grpo').advantages;
  assert.deepEqual(s.advantages, adv);
  assert.deepEqual(s.rows.map((r) => r.advantage), [...adv[0]!, ...adv[1]!, 0]);
  assert.deepEqual(s.rows.map((r) => r.nllWeight), [0, 0, 0, 0, 0, 0.5 / demo.responseIds.length]);
  assert.deepEqual(s.rows.map((r) => r.creditFrom), [undefined, undefined, undefined, undefined, 3, undefined]);
  assert.deepEqual(s.rows.map((r) => r.patches), [g0.patches, g0.patches, g0.patches, g1.patches, g1.patches, g1.patches]);
  assert.ok(s.rows.every((r) => r.oldLogp === null), 'one epoch in one minibatch: old log-probs from the update');
  assert.equal(JSON.stringify([g0, g1, member, demo]), before, 'no sample or group was written');
  assert.equal(g0.samples.length, 2);
});

test('raft advantages: the reward itself, all-right groups included (flagged)', () => {
  const a = groupAdvantages([[1, 1], [1, 0], [0, 0]], 'raft');
  assert.deepEqual(a.advantages, [[1, 1], [1, 0], [0, 0]]);
  assert.deepEqual(a.zeroVariance, [true, false, true]);
});

test('iterationLr: linear warm-up, then constant or cosine to min_lr_frac · lr at the last iteration', async () => {
  const { iterationLr } = await import('../../src/rl/trainer.js');
  const c = parseRlConfig({ lr: 1e-3, warmup_iters: 10, iterations: 110 }, 'test');
  assert.ok(Math.abs(iterationLr(c, 0) - 1e-4) < 1e-12);
  assert.ok(Math.abs(iterationLr(c, 9) - 1e-3) < 1e-12);
  assert.equal(iterationLr(c, 100), 1e-3);
  const k = parseRlConfig({ lr: 1e-3, warmup_iters: 10, iterations: 110, lr_schedule: 'cosine', min_lr_frac: 0.1 }, 'test');
  assert.ok(Math.abs(iterationLr(k, 0) - 1e-4) < 1e-12);
  assert.ok(Math.abs(iterationLr(k, 10) - 1e-3) < 1e-12);
  assert.ok(Math.abs(iterationLr(k, 60) - 0.55e-3) < 1e-9, `${iterationLr(k, 60)}`);
  assert.ok(Math.abs(iterationLr(k, 110) - 1e-4) < 1e-12);
});

test('scoreRows: a member with its own prompt (a hint it continued from) is trained in that context, in its group\'s advantages', async () => {
  const cfg = parseRlConfig({ method: 'ivr', beta: 0, minibatch_size: 64 }, 'test');
  const g0 = fakeGroup([fakeSample('policy', 0), fakeSample('policy', 0)]);
  const cont = fakeSample('rectified', 1);
  const hint = { patches: g0.patches, promptIds: [...g0.promptIds, 7, 8, 9] };
  const added = { ...nothingAdded(), members: [{ group: 0, sample: cont, prompt: hint }] };
  const s = await scoreRows(new ScriptedPolicy(() => '').asPolicy(), null, cfg, [g0], added);
  assert.deepEqual(s.rows.map((r) => r.promptIds), [g0.promptIds, g0.promptIds, hint.promptIds]);
  assert.deepEqual(s.advantages, groupAdvantages([[0, 0, 1]], 'grpo').advantages);
});
