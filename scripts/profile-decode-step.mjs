#!/usr/bin/env node
// Where a decode step's time goes: the KV-cached chunk graph of the default VLM (one new
// token, batch 64) run alone, at several cache lengths, in several builds of the same step:
//   plain   today's graph, the weights fed as inputs (as the policy does with IVR_FUSED=0)
//   frozen  the same with the weights frozen into the graph as constants (what onnxruntime could prepack)
//   fused   the policy's fused graph (vlm.ts GraphOptions, IVR_FUSED): LayerNormalization and BiasGelu kernels
// The builds run in turn, ROUNDS times (default 3), and each figure is the median over rounds
// (with its range), so a loaded machine slows them alike; the process's CPU time per step is
// printed too (at IVR_THREADS=1, the work a step costs whatever else the machine runs).
// Figures, not a test. Build first (npm run build); start with the malloc variables (bin/ivr's)
// for numbers comparable with `ivr engine-bench`:
//   MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824 node scripts/profile-decode-step.mjs
// ONLY=plain,fused picks builds; SLOTS=32,128 picks cache lengths; IVR_THREADS the threads.
import * as o from '../dist/src/engine/ops.js';
import { ParamRegistry } from '../dist/src/engine/params.js';
import { compile } from '../dist/src/engine/runtime.js';
import { Policy } from '../dist/src/model/policy.js';
import { DEFAULT_VLM as cfg } from '../dist/src/model/config.js';
import { alibiBias, embedText, forwardChunk } from '../dist/src/model/vlm.js';

const threads = Number(process.env.IVR_THREADS ?? 2);
const rounds = Number(process.env.ROUNDS ?? 3);
const policy = Policy.init(cfg, 0, undefined, threads);
class FrozenRegistry extends ParamRegistry {
  get(name, shape) { return o.constant(policy.params.get(name), shape); }
}
const perSlot = (name) => o.input(name, ['B', 1, 1, 'S']);
const cacheBias = () => alibiBias(cfg, perSlot('slotMask'), o.mul(o.sub(o.input('queryPos', ['B', 1, 1, 1]), perSlot('slotPos')), perSlot('slotIsText')));
// The same graph Policy compiles for a one-token text chunk (see model/policy.ts chunkGraph).
function decodeStep(reg, fused) {
  const p = reg.scope('vlm');
  const x = embedText(p, cfg, o.input('ids', ['B', 1], 'int64'));
  const bias = { cache: cacheBias(), chunk: alibiBias(cfg, o.input('chunkMask', ['B', 1, 1, 1]), o.input('chunkDistance', ['B', 1, 1, 1])) };
  const r = forwardChunk(p, cfg, x, bias, { fused });
  const outs = { logits: r.logits };
  r.newKeys.forEach((k, l) => { outs[`k${l}.new`] = k; outs[`v${l}.new`] = r.newValues[l]; });
  return outs;
}
const builds = {
  plain: () => decodeStep(new ParamRegistry(), false),
  frozen: () => decodeStep(new FrozenRegistry(), false),
  fused: () => decodeStep(new ParamRegistry(), true),
};
const names = (process.env.ONLY ?? Object.keys(builds).join(',')).split(',');
const graphs = {};
for (const n of names) graphs[n] = await compile(builds[n](), { threads });
const B = 64;
const H = cfg.heads;
const Dh = cfg.dim / cfg.heads;
console.log(`decode step, batch ${B}, ${threads} thread(s), median of ${rounds} round(s) [range]; graph inputs: ${names.map((n) => `${n} ${graphs[n].inputNames.length}`).join(', ')}`);
for (const S of (process.env.SLOTS ?? '32,128,320').split(',').map(Number)) {
  const f = (n) => new Float32Array(n);
  const common = {
    ids: { data: new BigInt64Array(B).fill(5n), shape: [B, 1] },
    slotMask: { data: f(B * S), shape: [B, 1, 1, S] }, slotPos: { data: f(B * S), shape: [B, 1, 1, S] }, slotIsText: { data: f(B * S).fill(1), shape: [B, 1, 1, S] },
    queryPos: { data: f(B).fill(S), shape: [B, 1, 1, 1] }, chunkMask: { data: f(B), shape: [B, 1, 1, 1] }, chunkDistance: { data: f(B), shape: [B, 1, 1, 1] },
  };
  for (let l = 0; l < cfg.layers; l++) for (const kv of ['k', 'v']) common[`${kv}${l}`] = { data: f(B * H * S * Dh).fill(0.01), shape: [B, H, S, Dh] };
  for (const s of policy.params.specs) common[s.name] = { data: policy.params.get(s.name), shape: s.shape };
  const feedsOf = (g) => Object.fromEntries(g.inputNames.map((n) => [n, common[n]]));
  const time = async (g) => {
    const fd = feedsOf(g);
    for (let i = 0; i < 20; i++) await g.run(fd);
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (let i = 0; i < 100; i++) await g.run(fd);
    const c = process.cpuUsage(c0);
    return [(performance.now() - t0) / 100, (c.user + c.system) / 1000 / 100];
  };
  const times = Object.fromEntries(names.map((n) => [n, []]));
  const cpu = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const n of names) {
      const [wall, c] = await time(graphs[n]);
      times[n].push(wall);
      cpu[n].push(c);
    }
  }
  const fmt = (a) => {
    const s = [...a].sort((x, y) => x - y);
    return `${s[Math.floor(s.length / 2)].toFixed(2)}${rounds > 1 ? ` [${s[0].toFixed(2)}–${s[s.length - 1].toFixed(2)}]` : ''}`;
  };
  console.log(`  ${String(S).padStart(3)} cache slots, ms/step: ${names.map((n) => `${n} ${fmt(times[n])}`).join(', ')}`);
  // CPU time of the process per step: on a loaded machine, the work done (at 1 thread; more
  // threads add their spinning).
  console.log(`  ${' '.repeat(15)}CPU ms/step: ${names.map((n) => `${n} ${fmt(cpu[n])}`).join(', ')}`);
}
