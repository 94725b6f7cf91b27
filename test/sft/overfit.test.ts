// A tiny model overfits a handful of instances with SFT (the real compiled SFT step and batch
// layout) and then solves exactly those instances greedily through the KV-cached sampler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdamState } from '../../src/engine/optim.js';
import { evaluatePolicy } from '../../src/eval/evaluate.js';
import type { VlmConfig } from '../../src/model/config.js';
import { Policy } from '../../src/model/policy.js';
import { SftStepper, sftBatch } from '../../src/sft/trainer.js';
import { generateInstance, goldResponse, verifyResponse, type FamilyId } from '../../src/tasks/index.js';

const CFG: VlmConfig = { vocab: 112, dim: 48, layers: 2, heads: 2, mlpRatio: 4, maxText: 128, imageSize: 48, patch: 8 };
/** Loss (mean nats per response token) at which we stop training early. */
const TARGET_LOSS = 0.02;
const MAX_STEPS = 400; // it takes ~70 full-batch steps (seeded, deterministic)

test('tiny model overfits 6 horizon-2 instances with SFT, then solves all 6 greedily (accuracy = 1, every step verified)', async () => {
  const families: FamilyId[] = ['grid', 'shapes', 'chart'];
  const instances = families.flatMap((f) => [generateInstance(f, 101, 2), generateInstance(f, 202, 2)]);
  assert.equal(new Set(instances.map((i) => i.id)).size, 6);
  const items = instances.map((inst) => ({ inst, response: goldResponse(inst) }));

  const policy = Policy.init(CFG, 7, undefined, 1);
  const untrained = await evaluatePolicy(policy, instances, { temperature: 0, topP: 1, samples: 1, seed: 0 });
  assert.equal(untrained.accuracy, 0, 'an untrained model must not already solve them (else the test proves nothing)');

  const state = AdamState.zeros(policy.params.specs);
  const stepper = new SftStepper(policy, { weightDecay: 0, maxGradNorm: 1 });
  const batch = sftBatch(policy, items);
  const step = await stepper.get(batch.T);
  let loss = Infinity;
  const first = (await step.run(policy.params, state, batch.feeds, 3e-3)).loss;
  while (state.step < MAX_STEPS && loss > TARGET_LOSS) loss = (await step.run(policy.params, state, batch.feeds, 3e-3)).loss;
  assert.ok(first > 2, `initial loss ${first} should be near ln(vocab)`);
  assert.ok(loss <= TARGET_LOSS, `training loss ${loss} after ${state.step} steps did not reach ${TARGET_LOSS}`);

  const rep = await evaluatePolicy(policy, instances, { temperature: 0, topP: 1, samples: 1, seed: 0 });
  const wrong = rep.results.filter((r) => !r.correct).map((r) => `${r.id}: ${JSON.stringify(r.responses[0])}`);
  assert.deepEqual(wrong, [], `greedy failures after ${state.step} steps (loss ${loss})`);
  assert.equal(rep.accuracy, 1);
  assert.equal(rep.format_validity, 1);
  assert.equal(rep.grounding_fidelity, 1);
  assert.deepEqual(rep.first_error_hist, { none: 6 });
  // The greedy responses are the gold responses themselves.
  rep.results.forEach((r, i) => {
    assert.equal(r.responses[0], goldResponse(instances[i]!), `${r.id}`);
    assert.ok(verifyResponse(instances[i]!, r.responses[0]!).complete);
  });
});
