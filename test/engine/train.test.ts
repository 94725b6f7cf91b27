// A compiled train step must learn: an MLP and the small GPT each reduce their loss on a
// learnable toy problem within a fixed number of steps, and the same seed gives
// bit-identical parameters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as o from '../../src/engine/ops.js';
import { gpt } from '../../src/engine/nn/gpt.js';
import { linear } from '../../src/engine/nn/layers.js';
import { AdamState, DEFAULT_ADAMW } from '../../src/engine/optim.js';
import { ParamRegistry, ParamStore } from '../../src/engine/params.js';
import { Rng } from '../../src/util/rng.js';
import { TrainStep } from '../../src/engine/train-step.js';

async function trainMlp(seed: number, steps: number): Promise<{ losses: number[]; params: ParamStore }> {
  // Regression of y = sin(x0) + x1·x2 from 3 inputs: needs the hidden layer.
  const N = 64;
  const reg = new ParamRegistry();
  const x = o.input('x', ['N', 3]);
  const y = o.input('y', ['N', 1]);
  const h = o.tanh(linear(reg.scope('l1'), x, 3, 32, { std: 0.5 }));
  const pred = linear(reg.scope('l2'), h, 32, 1, { std: 0.1 });
  const loss = o.mean(o.square(o.sub(pred, y)));
  const step = await TrainStep.compile({ registry: reg, loss, adamw: { ...DEFAULT_ADAMW, weightDecay: 0 } }, { threads: 1 });
  const params = ParamStore.init(reg.specs(), seed);
  const state = AdamState.zeros(reg.specs());
  const rng = new Rng(seed + 100);
  const xs = new Float32Array(N * 3);
  const ys = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < 3; j++) xs[i * 3 + j] = rng.float() * 2 - 1;
    ys[i] = Math.sin(xs[i * 3]!) + xs[i * 3 + 1]! * xs[i * 3 + 2]!;
  }
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const r = await step.run(params, state, { x: { data: xs, shape: [N, 3] }, y: { data: ys, shape: [N, 1] } }, 1e-2);
    losses.push(r.loss);
  }
  return { losses, params };
}

test('MLP: loss falls below 10% of its start within 300 steps', async () => {
  const { losses } = await trainMlp(1, 300);
  assert.ok(losses.at(-1)! < 0.1 * losses[0]!, `loss ${losses[0]} -> ${losses.at(-1)}`);
});

test('MLP: same seed gives bit-identical parameters, another seed does not', async () => {
  const a = await trainMlp(7, 20);
  const b = await trainMlp(7, 20);
  const c = await trainMlp(8, 20);
  for (const s of a.params.specs) assert.deepEqual(a.params.get(s.name), b.params.get(s.name), s.name);
  assert.notDeepEqual(a.params.get('l1.w'), c.params.get('l1.w'));
});

async function trainGpt(seed: number, steps: number): Promise<{ losses: number[]; params: ParamStore }> {
  // Copy task: each sequence is a random prefix repeated; the second half is predictable
  // only by attending back T/2 positions, so the loss can fall only if attention works.
  const cfg = { vocab: 16, dim: 32, layers: 2, heads: 2, mlpRatio: 4, context: 16 };
  const B = 16;
  const T = 16;
  const reg = new ParamRegistry();
  const ids = o.input('ids', [B, T], 'int64');
  const targets = o.input('targets', [B, T], 'int64');
  const mask = o.input('mask', [B, T]);
  const loss = o.crossEntropy(gpt(reg.scope('gpt'), cfg, ids), targets, mask);
  const step = await TrainStep.compile({ registry: reg, loss, adamw: DEFAULT_ADAMW }, { threads: 1 });
  const params = ParamStore.init(reg.specs(), seed);
  const state = AdamState.zeros(reg.specs());
  const rng = new Rng(seed + 1);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const idsD = new BigInt64Array(B * T);
    const tg = new BigInt64Array(B * T);
    const m = new Float32Array(B * T);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T / 2; t++) idsD[b * T + t] = idsD[b * T + t + T / 2] = BigInt(rng.int(0, cfg.vocab - 1));
      for (let t = 0; t < T - 1; t++) { tg[b * T + t] = idsD[b * T + t + 1]!; m[b * T + t] = t >= T / 2 - 1 ? 1 : 0; }
    }
    const r = await step.run(params, state, { ids: { data: idsD, shape: [B, T] }, targets: { data: tg, shape: [B, T] }, mask: { data: m, shape: [B, T] } }, 3e-3);
    losses.push(r.loss);
  }
  return { losses, params };
}

test('GPT: learns to copy (loss from ~ln 16 to below 0.5 in 250 steps)', async () => {
  const { losses } = await trainGpt(3, 250);
  assert.ok(losses[0]! > 2.3, `initial loss ${losses[0]} should be near ln(16)=2.77`);
  const tail = losses.slice(-10).reduce((a, b) => a + b) / 10;
  assert.ok(tail < 0.5, `final loss ${tail}`);
});

test('GPT: same seed gives bit-identical parameters', async () => {
  const a = await trainGpt(5, 5);
  const b = await trainGpt(5, 5);
  for (const s of a.params.specs) assert.deepEqual(a.params.get(s.name), b.params.get(s.name), s.name);
});
