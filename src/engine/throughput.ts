// Engine measurements behind `ivr engine-bench`: the machine's single-MatMul peak through
// onnxruntime and the compiled GPT train step, reported as figures (never as a test).
import * as o from './ops.js';
import { gpt, gptForwardFlopsPerToken, type GptConfig } from './nn/gpt.js';
import { AdamState, DEFAULT_ADAMW } from './optim.js';
import { ParamRegistry, ParamStore } from './params.js';
import { Rng } from '../util/rng.js';
import { compile } from './runtime.js';
import { TrainStep } from './train-step.js';

export const BENCH_GPT: GptConfig = { vocab: 128, dim: 128, layers: 4, heads: 4, mlpRatio: 4, context: 192 };
export const BENCH_BATCH = 32;

function randomFloats(n: number, rng: Rng): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

/** Median of timed repetitions after warm-up, in milliseconds. */
async function timeIt(fn: () => Promise<unknown>, warmup: number, reps: number): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export interface MatmulFigure { m: number; k: number; n: number; ms: number; gflops: number }

export async function benchMatmul(m: number, k: number, n: number, threads: number): Promise<MatmulFigure> {
  const a = o.input('a', [m, k]);
  const b = o.input('b', [k, n]);
  const graph = await compile({ c: o.matmul(a, b) }, { threads });
  const rng = new Rng(1);
  const feeds = { a: { data: randomFloats(m * k, rng), shape: [m, k] }, b: { data: randomFloats(k * n, rng), shape: [k, n] } };
  const ms = await timeIt(() => graph.run(feeds), 5, 30);
  return { m, k, n, ms, gflops: (2 * m * k * n) / ms / 1e6 };
}

export interface TrainFigure { ms: number; tokensPerS: number; gflops: number; flopsPerStep: number; params: number; lossFirst: number; lossLast: number }

/** The small GPT's compiled train step on a fixed synthetic batch (next-token copy task). */
export async function benchTrainStep(threads: number, steps = 12): Promise<TrainFigure> {
  const cfg = BENCH_GPT;
  const B = BENCH_BATCH;
  const T = cfg.context;
  const reg = new ParamRegistry();
  const ids = o.input('ids', [B, T], 'int64');
  const targets = o.input('targets', [B, T], 'int64');
  const mask = o.input('mask', [B, T]);
  const loss = o.crossEntropy(gpt(reg.scope('gpt'), cfg, ids), targets, mask);
  const step = await TrainStep.compile({ registry: reg, loss, adamw: DEFAULT_ADAMW }, { threads });
  const params = ParamStore.init(reg.specs(), 0);
  const state = AdamState.zeros(reg.specs());
  const rng = new Rng(2);
  const idsD = new BigInt64Array(B * T);
  const tgD = new BigInt64Array(B * T);
  for (let i = 0; i < B * T; i++) idsD[i] = BigInt(rng.int(0, cfg.vocab - 1));
  for (let i = 0; i < B * T; i++) tgD[i] = i % T === 0 ? 0n : idsD[i - 1]!; // predict the previous token
  const batch = { ids: { data: idsD, shape: [B, T] }, targets: { data: tgD, shape: [B, T] }, mask: { data: new Float32Array(B * T).fill(1), shape: [B, T] } };
  let lossFirst = NaN;
  let lossLast = NaN;
  const ms = await timeIt(async () => {
    const r = await step.run(params, state, batch, 1e-3);
    if (Number.isNaN(lossFirst)) lossFirst = r.loss;
    lossLast = r.loss;
  }, 2, steps);
  const flopsPerStep = 3 * gptForwardFlopsPerToken(cfg, T) * B * T;
  return { ms, tokensPerS: (B * T) / (ms / 1000), gflops: flopsPerStep / ms / 1e6, flopsPerStep, params: params.count(), lossFirst, lossLast };
}
