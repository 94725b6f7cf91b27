// The policy's fused inference graphs (Policy.fused, vlm.ts GraphOptions) against the plain
// ones (IVR_FUSED=0, what training differentiates), on the committed base checkpoint:
// within 1e-4 on the chunk graph's logits and new keys/values (a text chunk with ALiBi
// distances and left padding, an image chunk against a cache), on greedy decoding with the
// image re-inserted mid-sequence (same tokens, log-probs within 1e-4), and on scoring, plain
// and with the re-inserted image (scoreTexts, scoreLayouts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParamRegistry } from '../../src/engine/params.js';
import { compile, type HostTensor } from '../../src/engine/runtime.js';
import { loadPolicy } from '../../src/model/checkpoint-io.js';
import { numPatches, patchDim } from '../../src/model/config.js';
import { exampleIds, instancePatches, promptIds } from '../../src/model/episode.js';
import type { GenerateRequest } from '../../src/model/policy.js';
import { chunkGraphOutputs } from '../../src/model/vlm.js';
import { BASE_CHECKPOINT } from '../../src/util/package-paths.js';
import { FAMILY_IDS, getSplit, goldResponse } from '../../src/tasks/index.js';
import { Rng } from '../engine/fd.js';

const TOL = 1e-4;
const plain = loadPolicy(BASE_CHECKPOINT, 1).policy;
plain.fused = false;
const fused = loadPolicy(BASE_CHECKPOINT, 1).policy;
fused.fused = true;
const cfg = plain.cfg;
const tok = plain.tokenizer;
const insts = FAMILY_IDS.flatMap((f) => getSplit(f, 'test', 3));

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Inside a chunk: full for an image; causal for text, with row 0's first token left padding. */
function chunkMask(kind: 'text' | 'image', B: number, n: number): Float32Array {
  const m = new Float32Array(B * n * n);
  if (kind === 'image') return m;
  for (let b = 0; b < B; b++) {
    for (let q = 0; q < n; q++) for (let k = 0; k < n; k++) if (k > q || (b === 0 && k === 0)) m[(b * n + q) * n + k] = -1e9;
  }
  return m;
}

/** The chunk graph as Policy builds it, text (n tokens, ALiBi) or image, plain or fused. */
function chunkOutputs(kind: 'text' | 'image', n: number, isFused: boolean) {
  return chunkGraphOutputs(new ParamRegistry().scope('vlm'), cfg, kind, n, { fused: isFused });
}

test('chunk graphs: fused and plain agree on logits and new keys/values (text with ALiBi, image)', async () => {
  const rng = new Rng(7);
  const B = 3, S = 40, H = cfg.heads, Dh = cfg.dim / cfg.heads;
  const f = (len: number, gen: () => number) => Float32Array.from({ length: len }, gen);
  for (const [kind, n] of [['text', 4], ['image', numPatches(cfg)]] as const) {
    const feeds: Record<string, HostTensor> = {
      slotMask: { data: f(B * S, () => (rng.uniform() < 0.2 ? -1e9 : 0)), shape: [B, 1, 1, S] },
      slotPos: { data: f(B * S, () => Math.floor(rng.uniform() * 30)), shape: [B, 1, 1, S] },
      slotIsText: { data: f(B * S, () => (rng.uniform() < 0.5 ? 1 : 0)), shape: [B, 1, 1, S] },
      queryPos: { data: f(B * n, () => 30 + Math.floor(rng.uniform() * 5)), shape: [B, 1, n, 1] },
      chunkDistance: { data: f(B * n * n, () => Math.floor(rng.uniform() * 4)), shape: [B, 1, n, n] },
      chunkMask: { data: chunkMask(kind, B, n), shape: [B, 1, n, n] },
      ids: { data: BigInt64Array.from({ length: B * n }, () => BigInt(4 + Math.floor(rng.uniform() * 80))), shape: [B, n] },
      // A token-shift model's predecessor ids (model/token-shift.ts).
      prev1: { data: BigInt64Array.from({ length: B * n }, () => BigInt(Math.floor(rng.uniform() * 80))), shape: [B, n] },
      prev2: { data: BigInt64Array.from({ length: B * n }, () => BigInt(Math.floor(rng.uniform() * 80))), shape: [B, n] },
      patches: { data: f(B * numPatches(cfg) * patchDim(cfg), () => rng.uniform() * 2 - 1), shape: [B, numPatches(cfg), patchDim(cfg)] },
    };
    for (let l = 0; l < cfg.layers; l++) {
      feeds[`k${l}`] = { data: f(B * H * S * Dh, () => rng.normal()), shape: [B, H, S, Dh] };
      feeds[`v${l}`] = { data: f(B * H * S * Dh, () => rng.normal()), shape: [B, H, S, Dh] };
    }
    const results = [];
    for (const isFused of [false, true]) {
      const g = await compile(chunkOutputs(kind, n, isFused), { threads: 1 });
      const fd: Record<string, HostTensor> = {};
      for (const name of g.inputNames) fd[name] = feeds[name] ?? { data: plain.params.get(name), shape: plain.params.specs.find((s) => s.name === name)!.shape };
      results.push(await g.run(fd));
    }
    const [a, b] = results as [Record<string, HostTensor>, Record<string, HostTensor>];
    for (const name of Object.keys(a)) {
      const d = maxAbsDiff(a[name]!.data as Float32Array, b[name]!.data as Float32Array);
      assert.ok(d < TOL, `${kind} chunk, ${name}: max |fused - plain| ${d}`);
    }
  }
});

test('greedy decoding, fresh and with the image re-inserted: the same tokens, log-probs within 1e-4', async () => {
  const reqs: GenerateRequest[] = insts.flatMap((inst) => {
    const patches = instancePatches(inst, cfg);
    const { text, promptLen } = exampleIds(inst, goldResponse(inst), tok);
    return [
      { patches, segments: [{ kind: 'image' }, { kind: 'text', ids: promptIds(inst, tok) }] },
      { patches, segments: [{ kind: 'image' }, { kind: 'text', ids: text.slice(0, promptLen + Math.floor((text.length - promptLen) / 2)) }, { kind: 'image' }] },
    ];
  });
  const opts = { maxNew: 120, temperature: 0, topP: 1, seed: 0, topLogprobs: 3 };
  const a = await plain.generate(reqs, opts);
  const b = await fused.generate(reqs, opts);
  a.forEach((g, i) => {
    assert.deepEqual(b[i]!.tokens, g.tokens, `row ${i}`);
    assert.ok(maxAbsDiff(g.logps, b[i]!.logps) < TOL, `row ${i}: log-probs differ`);
    g.top!.forEach((alts, s) => alts.forEach((t, j) => assert.ok(Math.abs(t.logp - b[i]!.top![s]![j]!.logp) < TOL, `row ${i} step ${s}: top log-probs differ`)));
  });
});

test('scoring, plain context and re-grounded layout: fused and plain within 1e-4', async () => {
  const items = insts.map((inst) => ({ patches: instancePatches(inst, cfg), text: exampleIds(inst, goldResponse(inst), tok).text }));
  const [sa, sb] = [await plain.scoreTexts(items), await fused.scoreTexts(items)];
  sa.forEach((x, i) => assert.ok(maxAbsDiff(x, sb[i]!) < TOL, `scoreTexts row ${i}`));
  const lay = items.map((it, i) => ({ ...it, insertAt: i % 2 ? null : Math.floor(it.text.length / 2) }));
  const [la, lb] = [await plain.scoreLayouts(lay), await fused.scoreLayouts(lay)];
  la.forEach((x, i) => {
    const keep = (v: Float32Array) => Array.from(v).filter((_, t) => !Number.isNaN(x[t]!));
    assert.ok(maxAbsDiff(keep(x), keep(lb[i]!)) < TOL, `scoreLayouts row ${i}`);
  });
});
