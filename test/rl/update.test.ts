// The update's shortcut for one epoch in one minibatch: the old log-probs are the update's
// own (stop-gradient) instead of a separate scoring pass. It must give the same step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdamState } from '../../src/engine/optim.js';
import { Policy } from '../../src/model/policy.js';
import { groupAdvantages } from '../../src/rl/advantages.js';
import { parseRlConfig } from '../../src/rl/config.js';
import { rollout } from '../../src/rl/rollout.js';
import { responseLogps, RlUpdater } from '../../src/rl/update.js';
import { getSplit } from '../../src/tasks/index.js';
import { tinyPolicy } from '../helpers/tiny-policy.js';

function copyOf(p: Policy): Policy {
  const store = Object.create(Object.getPrototypeOf(p.params)) as typeof p.params;
  Object.assign(store, p.params);
  (store as { values: Map<string, Float32Array> }).values = new Map([...p.params.values].map(([k, v]) => [k, new Float32Array(v)]));
  return new Policy(p.cfg, p.tokenizer, store, p.threads);
}

test('one epoch, one minibatch: old log-probs from the update itself give the same step as a scoring pass', async () => {
  const { policy } = await tinyPolicy();
  const cfg = parseRlConfig({ method: 'grpo', group_size: 4, max_new_tokens: 48, lr: 1e-3, epochs: 1, beta: 0, minibatch_size: 64, threads: 2 }, 'test');
  const prompts = getSplit('grid', 'train', 400, 900_000).filter((i) => i.horizon === 3).slice(0, 6);
  const { groups } = await rollout(policy, prompts, cfg, 11);
  const adv = groupAdvantages(groups.map((g) => g.samples.map((s) => s.reward)), cfg.advantage);
  const base = groups.flatMap((g, i) => g.samples.map((sample, j) => ({ patches: g.patches, promptIds: g.promptIds, sample, advantage: adv.advantages[i]![j]!, nllWeight: 0 })));
  assert.ok(adv.advantages.flat().some((a) => a !== 0), 'the batch has a learning signal');

  const a = copyOf(policy);
  const old = await responseLogps(a, base);
  const ma = await new RlUpdater(a, cfg).update(base.map((r, i) => ({ ...r, oldLogp: old[i]!, refLogp: null })), AdamState.zeros(a.params.specs), cfg.lr, 0);
  const b = copyOf(policy);
  const mb = await new RlUpdater(b, cfg).update(base.map((r) => ({ ...r, oldLogp: null, refLogp: null })), AdamState.zeros(b.params.specs), cfg.lr, 0);

  assert.ok(Math.abs(ma.loss! - mb.loss!) < 1e-6, `loss ${ma.loss} vs ${mb.loss}`);
  assert.ok(Math.abs(ma.grad_norm! - mb.grad_norm!) < 1e-4 * Math.max(1, ma.grad_norm!), `grad norm ${ma.grad_norm} vs ${mb.grad_norm}`);
  // Adam's first step is about lr · sign(g) per weight, so a weight whose gradient is ~0 may
  // flip on rounding: compare how many weights moved differently, not the largest difference.
  let moved = 0;
  let total = 0;
  for (const [name, x] of a.params.values) {
    const y = b.params.values.get(name)!;
    for (let i = 0; i < x.length; i++) { total++; if (Math.abs(x[i]! - y[i]!) > 1e-3 * cfg.lr) moved++; }
  }
  assert.ok(moved / total < 0.01, `${moved} of ${total} weights differ by more than lr/1000`);

  // Two minibatches or two epochs need the sampling policy's log-probs: refused, not guessed.
  const two = new RlUpdater(copyOf(policy), { ...cfg, epochs: 2 });
  await assert.rejects(two.update(base.map((r) => ({ ...r, oldLogp: null, refLogp: null })), AdamState.zeros(policy.params.specs), cfg.lr, 0), /one epoch in one minibatch/);
});
