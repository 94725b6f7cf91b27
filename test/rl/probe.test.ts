// The probe instruments (rl/probe.ts): a fixed val slice, greedy accuracy as evaluate gives
// it, the gold log-prob as the scoring pass gives it, and log-probs at the first departure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluatePolicy } from '../../src/eval/evaluate.js';
import { instancePatches, promptIds } from '../../src/model/episode.js';
import { probePolicy, probeSet } from '../../src/rl/probe.js';
import { goldResponse } from '../../src/tasks/index.js';
import { tinyPolicy } from '../helpers/tiny-policy.js';

test('probeSet: the first n val instances of each family within the horizon range, the same every time', () => {
  const a = probeSet({ families: ['grid', 'chart'], min_horizon: 3, max_horizon: 4, n: 5 });
  assert.equal(a.length, 10);
  assert.ok(a.every((i) => i.split === 'val' && i.horizon >= 3 && i.horizon <= 4));
  assert.deepEqual(a.slice(0, 5).map((i) => i.family), Array(5).fill('grid'));
  assert.deepEqual(probeSet({ families: ['grid', 'chart'], min_horizon: 3, max_horizon: 4, n: 5 }).map((i) => i.id), a.map((i) => i.id));
  assert.throws(() => probeSet({ families: ['chart'], min_horizon: 9, max_horizon: 10, n: 1 }), /no val horizon of chart/);
});

test('probePolicy: accuracy = greedy evaluation, gold log-prob = the scoring pass, departure log-probs are log-probs', async () => {
  const { policy } = await tinyPolicy();
  const insts = probeSet({ families: ['grid'], min_horizon: 2, max_horizon: 3, n: 8 });
  const r = await probePolicy(policy, insts);
  const ev = await evaluatePolicy(policy, insts, { temperature: 0, topP: 1, samples: 1, seed: 0 });
  assert.equal(r.probe_accuracy, ev.accuracy);
  assert.equal(r.probe_wrong, ev.results.filter((x) => !x.correct).length);
  const tok = policy.tokenizer;
  const lp = await policy.scoreTexts(insts.map((i) => ({ patches: instancePatches(i, policy.cfg), text: [...promptIds(i, tok), ...tok.encode(goldResponse(i)), tok.eos] })));
  const perInst = lp.map((x, k) => { const from = promptIds(insts[k]!, tok).length - 1; const y = Array.from(x.slice(from)); return y.reduce((a, b) => a + b, 0) / y.length; });
  assert.ok(Math.abs(r.probe_gold_logp - perInst.reduce((a, b) => a + b, 0) / perInst.length) < 1e-6);
  if (r.probe_wrong > 0) {
    assert.ok(r.probe_div_gold_logp < 0 && r.probe_div_greedy_logp <= 0);
    // Greedy picks the most likely token, so at the departure it is at least as likely as gold.
    assert.ok(r.probe_div_greedy_logp >= r.probe_div_gold_logp - 1e-5);
  }
});
