#!/usr/bin/env node
// Where a decode step's time goes: the KV-cached chunk graph of the default VLM (one new
// token, batch 64) run alone, at several cache lengths, with the weights fed as inputs (as
// the policy does) and frozen into the graph as constants (what onnxruntime could prepack).
// Figures, not a test. Build first (npm run build); start with the malloc variables
// (bin/ivr's) for numbers comparable with `ivr engine-bench`:
//   MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824 node scripts/profile-decode-step.mjs
import * as o from '../dist/src/engine/ops.js';
import { ParamRegistry } from '../dist/src/engine/params.js';
import { compile } from '../dist/src/engine/runtime.js';
import { Policy } from '../dist/src/model/policy.js';
import { DEFAULT_VLM as cfg } from '../dist/src/model/config.js';
import { alibiBias, embedText, forwardChunk } from '../dist/src/model/vlm.js';

const threads = Number(process.env.IVR_THREADS ?? 2);
const policy = Policy.init(cfg, 0, undefined, threads);
class FrozenRegistry extends ParamRegistry {
  get(name, shape) { return o.constant(policy.params.get(name), shape); }
}
// The same graph Policy compiles for a one-token text chunk (see model/policy.ts chunkGraph).
function decodeStep(reg) {
  const p = reg.scope('vlm');
  const perSlot = (name) => o.input(name, ['B', 1, 1, 'S']);
  const x = embedText(p, cfg, o.input('ids', ['B', 1], 'int64'));
  const bias = {
    cache: alibiBias(cfg, perSlot('slotMask'), o.mul(o.sub(o.input('queryPos', ['B', 1, 1, 1]), perSlot('slotPos')), perSlot('slotIsText'))),
    chunk: alibiBias(cfg, o.input('chunkMask', ['B', 1, 1, 1]), o.input('chunkDistance', ['B', 1, 1, 1])),
  };
  const r = forwardChunk(p, cfg, x, bias);
  const outs = { logits: r.logits };
  r.newKeys.forEach((k, l) => { outs[`k${l}.new`] = k; outs[`v${l}.new`] = r.newValues[l]; });
  return outs;
}
const B = 64;
const H = cfg.heads;
const Dh = cfg.dim / cfg.heads;
const asInputs = await compile(decodeStep(new ParamRegistry()), { threads });
const frozen = await compile(decodeStep(new FrozenRegistry()), { threads });
console.log(`decode step, batch ${B}, ${threads} thread(s): ${asInputs.inputNames.length} graph inputs with the weights, ${frozen.inputNames.length} without`);
for (const S of [32, 128, 320]) {
  const f = (n) => new Float32Array(n);
  const feeds = {
    ids: { data: new BigInt64Array(B).fill(5n), shape: [B, 1] },
    slotMask: { data: f(B * S), shape: [B, 1, 1, S] }, slotPos: { data: f(B * S), shape: [B, 1, 1, S] }, slotIsText: { data: f(B * S).fill(1), shape: [B, 1, 1, S] },
    queryPos: { data: f(B).fill(S), shape: [B, 1, 1, 1] }, chunkMask: { data: f(B), shape: [B, 1, 1, 1] }, chunkDistance: { data: f(B), shape: [B, 1, 1, 1] },
  };
  for (let l = 0; l < cfg.layers; l++) for (const kv of ['k', 'v']) feeds[`${kv}${l}`] = { data: f(B * H * S * Dh).fill(0.01), shape: [B, H, S, Dh] };
  const withWeights = { ...feeds };
  for (const s of policy.params.specs) if (asInputs.hasInput(s.name)) withWeights[s.name] = { data: policy.params.get(s.name), shape: s.shape };
  const time = async (g, fd) => {
    for (let i = 0; i < 20; i++) await g.run(fd);
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) await g.run(fd);
    return (performance.now() - t0) / 100;
  };
  console.log(`  ${String(S).padStart(3)} cache slots: ${(await time(asInputs, withWeights)).toFixed(2)} ms/step with the weights as inputs, ${(await time(frozen, feeds)).toFixed(2)} ms frozen`);
}
