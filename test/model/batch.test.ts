// The one packer (model/batch.ts) and the model's compiled objectives (model/objective.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdamState } from '../../src/engine/optim.js';
import { numPatches, patchDim, type VlmConfig } from '../../src/model/config.js';
import { packLayoutRows, packRows } from '../../src/model/batch.js';
import { trainOn, trainStep, type Objective } from '../../src/model/objective.js';
import { Policy } from '../../src/model/policy.js';
import * as o from '../../src/engine/ops.js';

const CFG: VlmConfig = { vocab: 112, dim: 16, layers: 1, heads: 2, mlpRatio: 2, maxText: 64, imageSize: 16, patch: 8 };
const P = numPatches(CFG) * patchDim(CFG);
const patches = (v: number) => new Float32Array(P).fill(v);

test('packRows: ids/targets shifted by one, mask and extras on the positions whose target is a response token', () => {
  const rows = [
    { patches: patches(1), text: [1, 10, 11, 20, 21, 22], responseFrom: 3, extras: { adv: [0.5, -1, 2], old: null } },
    { patches: patches(2), text: [1, 12, 30], responseFrom: 2, extras: { adv: Float32Array.of(3) } },
  ];
  const b = packRows(rows, CFG, { extras: ['adv', 'old'] });
  assert.equal(b.T, 16);
  assert.equal(b.tokens, 4);
  assert.deepEqual(Object.keys(b.feeds), ['patches', 'ids', 'targets', 'mask', 'adv', 'old']);
  assert.deepEqual(b.feeds.patches!.shape, [2, numPatches(CFG), patchDim(CFG)]);
  const row = (name: string, r: number) => Array.from(b.feeds[name]!.data as ArrayLike<number | bigint>, Number).slice(r * 16, r * 16 + 6);
  assert.deepEqual(row('ids', 0), [1, 10, 11, 20, 21, 0]);
  assert.deepEqual(row('targets', 0), [10, 11, 20, 21, 22, 0]);
  assert.deepEqual(row('mask', 0), [0, 0, 1, 1, 1, 0]);
  assert.deepEqual(row('adv', 0), [0, 0, 0.5, -1, 2, 0]);
  assert.deepEqual(row('old', 0), [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(row('mask', 1), [0, 1, 0, 0, 0, 0]);
  assert.deepEqual(row('adv', 1), [0, 3, 0, 0, 0, 0]);
  assert.throws(() => packRows([{ ...rows[0]!, extras: { adv: [1] } }], CFG, { extras: ['adv'], label: 'x' }), /x: row 0 has 1 "adv" values for 3 response tokens/);
  assert.throws(() => packRows([{ patches: patches(0), text: Array(80).fill(1), responseFrom: 2 }], CFG, { label: 'x' }), /x: 80 text tokens exceed maxText 64/);
});

test('packLayoutRows: the layout feeds with the image re-inserted', () => {
  const b = packLayoutRows([{ patches: patches(1), text: [1, 10, 11, 20], lossFrom: 3, insertAt: 3 }], CFG, (n) => Math.ceil(n / 8) * 8);
  assert.equal(b.T, 8);
  assert.equal(b.L, 16); // 4 patches + 4 text + 4 patches, bucketed
  assert.equal(b.tokens, 1);
  assert.deepEqual(Object.keys(b.feeds), ['patches', 'ids', 'order', 'bias', 'textDistance', 'targets', 'mask']);
});

test('objectives: one compiled step per (objective, shape), reused; a step trains the policy in place', async () => {
  const policy = Policy.init(CFG, 3, undefined, 1);
  const ce: Objective = { key: 'ce', adamw: { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0, maxGradNorm: 1 }, loss: (g) => ({ loss: o.crossEntropy(g.logits, g.targets, g.mask) }) };
  const nll: Objective = { ...ce, key: 'nll', loss: (g) => ({ loss: o.neg(o.div(o.sum(o.mul(g.logp, g.mask)), o.sum(g.mask))), metrics: { w: o.sum(g.input('w')) } }) };
  assert.equal(trainStep(policy, ce, { T: 16 }), trainStep(policy, ce, { T: 16 }));
  assert.notEqual(trainStep(policy, ce, { T: 16 }), trainStep(policy, nll, { T: 16 }));
  const rows = [{ patches: patches(0.1), text: [1, 10, 11, 20, 21], responseFrom: 3, extras: { w: [1, 2] } }];
  const before = policy.params.get('vlm.tok').slice();
  const state = AdamState.zeros(policy.params.specs);
  const a = await trainOn(policy, ce, packRows(rows, CFG), state, 0);
  const b = await trainOn(policy, nll, packRows(rows, CFG, { extras: ['w'] }), state, 1e-3);
  assert.equal(state.step, 2);
  assert.ok(Math.abs(a.loss - b.loss) < 1e-5, `cross-entropy ${a.loss} and mean NLL ${b.loss} agree (lr 0 left the weights alone)`);
  assert.equal(b.metrics.w, 3);
  assert.notDeepEqual(policy.params.get('vlm.tok'), before);
});
