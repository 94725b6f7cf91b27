#!/usr/bin/env node
// onnxruntime session options, timed on the policy's own graphs (checkpoints/base): each
// variant is a session of the same graph; the variants run in turn, ROUNDS times (default 3),
// on the same feeds, and each figure is the median over rounds of wall / process CPU ms per
// run. Every variant's outputs are compared bit for bit with the first one's ("DIFF" if not).
// GRAPH=decode (default): the decode step (one text token) against a cache of SLOTS
// (32,128,320) slots at BATCH (4,8,64) rows. GRAPH=prefill|score: the image and text chunks of
// a real generate(), or the scoreTexts graph (128 text tokens), at BATCH rows.
// TH: the sessions' intra-op threads (default 1). ONLY: variants (below), the first the reference.
//   MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824 \
//     ONLY=base,daz,arena,extended node scripts/time-session-options.mjs
import * as ort from 'onnxruntime-node';
import { CompiledGraph } from '../dist/src/engine/runtime.js';
import { loadPolicy } from '../dist/src/model/checkpoint-io.js';
import { KvCache } from '../dist/src/model/kv-cache.js';
import { instancePatches, promptIds } from '../dist/src/model/episode.js';
import { FAMILY_IDS, getSplit } from '../dist/src/tasks/index.js';

const rounds = Number(process.env.ROUNDS ?? 3);
const th = Number(process.env.TH ?? 1);
const kind = process.env.GRAPH ?? 'decode';
const base = { graphOptimizationLevel: 'all', executionMode: 'sequential', intraOpNumThreads: th, interOpNumThreads: 1, enableCpuMemArena: false, enableMemPattern: false };
const variant = (session, over = {}) => ({ ...base, ...over, extra: { session: { intra_op: { allow_spinning: '0' }, ...session } } });
const variants = {
  base: variant({}), // the engine's defaults (runtime.ts createSession), arena off
  spin: variant({ intra_op: { allow_spinning: '1' } }),
  daz: variant({ set_denormal_as_zero: '1' }),
  arena: variant({}, { enableCpuMemArena: true, enableMemPattern: true }),
  arenaNoPattern: variant({}, { enableCpuMemArena: true }),
  extended: variant({}, { graphOptimizationLevel: 'extended' }),
  basic: variant({}, { graphOptimizationLevel: 'basic' }),
  th1: { ...variant({}), intraOpNumThreads: 1 },
};
const names = (process.env.ONLY ?? 'base,daz,arena,extended').split(',');
const batches = (process.env.BATCH ?? (kind === 'decode' ? '4,8,64' : '8')).split(',').map(Number);
const { policy } = loadPolicy('checkpoints/base', th);
const cfg = policy.cfg;

/** The graphs and feeds the policy runs, captured from its calls: [label, graph, feeds][]. */
async function cases(B) {
  const captured = [];
  const run = CompiledGraph.prototype.run;
  CompiledGraph.prototype.run = async function (feeds) { captured.push([this, { ...feeds }]); return run.call(this, feeds); };
  try {
    const insts = FAMILY_IDS.flatMap((f) => getSplit(f, 'test', B)).slice(0, B);
    const reqs = insts.map((inst) => ({ patches: instancePatches(inst, cfg), segments: [{ kind: 'image' }, { kind: 'text', ids: promptIds(inst, policy.tokenizer) }] }));
    if (kind === 'prefill') {
      await policy.generate(reqs, { maxNew: 2, temperature: 0, topP: 1, seed: 0, batchSize: B });
      return [['prefill image', ...captured[0]], ['prefill text', ...captured[1]]];
    }
    if (kind === 'score') {
      await policy.scoreTexts(reqs.map((r, i) => ({ patches: r.patches, text: [...promptIds(insts[i], policy.tokenizer), ...Array(100).fill(5)] })), B);
      return [['score', ...captured[0]]];
    }
  } finally {
    CompiledGraph.prototype.run = run;
  }
  // The decode step against a synthetic cache: image and text slots, some masked.
  const g = await policy.chunkGraph('text', 1);
  return (process.env.SLOTS ?? '32,128,320').split(',').map(Number).map((S) => {
    const cache = new KvCache(B, cfg.layers, cfg.heads, cfg.dim / cfg.heads, policy.cacheCapacity, S);
    for (const a of [...cache.keys, ...cache.values]) for (let i = 0; i < a.length; i++) a[i] = Math.sin(i) * 0.3;
    for (let i = 0; i < B * S; i++) { cache.slotMask[i] = i % 7 ? 0 : -1e9; cache.slotPos[i] = i % 36; cache.slotIsText[i] = i % S < 72 ? 0 : 1; }
    const { mask, textDistance } = cache.chunkAttention(1, new Uint8Array(B).fill(1), new Int32Array(B).fill(5));
    const feeds = { ids: { data: BigInt64Array.from({ length: B }, (_, i) => BigInt(i % 100)), shape: [B, 1] }, ...cache.feeds(), chunkMask: { data: mask, shape: [B, 1, 1, 1] }, chunkDistance: { data: textDistance, shape: [B, 1, 1, 1] }, queryPos: { data: new Float32Array(B).fill(S), shape: [B, 1, 1, 1] } };
    for (let k = 1; k <= 2; k++) feeds[`prev${k}`] = { data: BigInt64Array.from({ length: B }, (_, i) => BigInt((i * k) % 100)), shape: [B, 1] };
    return [`decode, ${S} slots`, g, policy.paramFeeds(g, feeds)];
  });
}

const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const bytes = (out) => Object.values(out).map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
console.log(`${kind} graphs, ${th} thread(s), median of ${rounds} rounds, wall / CPU ms per run`);
for (const B of batches) {
  for (const [label, g, hostFeeds] of await cases(B)) {
    const spec = Object.fromEntries(g.graph.inputs.map((i) => [i.name, i]));
    const feeds = Object.fromEntries(Object.entries(hostFeeds).filter(([n]) => n in spec).map(([n, f]) => [n, new ort.Tensor(spec[n].dtype, f.data, f.shape)]));
    const sessions = {};
    for (const n of names) sessions[n] = await ort.InferenceSession.create(g.graph.bytes, variants[n]);
    const t = performance.now();
    await sessions[names[0]].run(feeds);
    const N = Math.max(3, Math.round(300 / (performance.now() - t))); // ~0.3 s per variant and round
    const res = Object.fromEntries(names.map((n) => [n, { wall: [], cpu: [] }]));
    const same = Object.fromEntries(names.map((n) => [n, true]));
    let ref;
    for (let r = 0; r < rounds; r++) {
      for (const n of names) {
        for (let i = 0; i < 3; i++) await sessions[n].run(feeds);
        const out = bytes(await sessions[n].run(feeds));
        if (!ref) ref = out;
        else same[n] &&= out.every((b, i) => b.equals(ref[i]));
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        for (let i = 0; i < N; i++) await sessions[n].run(feeds);
        const c = process.cpuUsage(c0);
        res[n].wall.push((performance.now() - t0) / N);
        res[n].cpu.push((c.user + c.system) / 1000 / N);
      }
    }
    console.log(`  batch ${String(B).padStart(2)}, ${label}: ${names.map((n) => `${n} ${med(res[n].wall).toFixed(3)} / ${med(res[n].cpu).toFixed(3)}${same[n] ? '' : ' DIFF'}`).join(', ')}`);
    for (const s of Object.values(sessions)) await s.release();
  }
}
