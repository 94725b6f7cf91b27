// Decode throughput of the default model: batched sampling with the KV cache versus
// recomputing the whole prefix every step (what the cache saves). Figures, not a test.
import * as o from '../engine/ops.js';
import { ParamRegistry } from '../engine/params.js';
import { Rng } from '../util/rng.js';
import { compile, type CompiledGraph } from '../engine/runtime.js';
import { DEFAULT_VLM, numPatches, patchDim, type VlmConfig } from './config.js';
import { roundUp } from './batch.js';
import { Policy } from './policy.js';
import { sampleToken } from './sampling.js';
import { forwardFull } from './vlm.js';

/**
 * Decode throughput with the KV cache, as the policy runs it (`kv`: shared contexts and decode
 * workers, Policy defaults) and with each strategy taken away in turn: `oneProcess` (no
 * workers: one batch at the policy's intra-op threads) and `perRowCache` (one process, every
 * row its own copy of the context: what the PyTorch peer does). `noKv` recomputes the prefix.
 */
export interface DecodeFigure {
  batch: number; newTokens: number; workers: number;
  kvTokensPerS: number; kvSeconds: number;
  oneProcessTokensPerS: number; perRowCacheTokensPerS: number;
  noKvTokensPerS: number; noKvSeconds: number;
}

function benchInputs(cfg: VlmConfig, B: number, promptLen: number, rng: Rng) {
  const patches = Float32Array.from({ length: numPatches(cfg) * patchDim(cfg) }, () => rng.float() * 2 - 1);
  const prompt = Array.from({ length: promptLen }, () => 4 + rng.int(0, 89));
  return Array.from({ length: B }, () => ({ patches, segments: [{ kind: 'image' as const }, { kind: 'text' as const, ids: prompt }] }));
}

/** Without a cache: one full forward over image + text per new token (lengths bucketed). */
async function decodeNoKv(policy: Policy, B: number, prompt: number[], patches: Float32Array, newTokens: number, rng: Rng): Promise<number> {
  const cfg = policy.cfg;
  const graphs = new Map<number, Promise<CompiledGraph>>();
  const graphFor = (T: number) => {
    let g = graphs.get(T);
    if (!g) {
      const reg = new ParamRegistry();
      const logits = forwardFull(reg.scope('vlm'), cfg, o.input('patches', ['B', numPatches(cfg), patchDim(cfg)]), o.input('ids', ['B', T], 'int64'));
      // Only the last real position's logits leave the graph (a one-hot pick over T).
      const pick = o.reshape(o.oneHot(o.input('last', ['B'], 'int64'), T), ['B', T, 1]);
      g = compile({ logits: o.sum(o.mul(logits, pick), 1) }, { threads: policy.threads });
      graphs.set(T, g);
    }
    return g;
  };
  const texts = Array.from({ length: B }, () => [...prompt]);
  const N = numPatches(cfg) * patchDim(cfg);
  // Compile every bucket's graph before timing anything.
  for (let T = roundUp(prompt.length); T <= roundUp(prompt.length + newTokens); T += 16) await graphFor(T);
  const allPatches = new Float32Array(B * N);
  for (let b = 0; b < B; b++) allPatches.set(patches, b * N);
  // Every step inside one length bucket runs the same graph on the same shapes, so each
  // bucket is timed on its first two steps (after a warm-up run that compiles it) and
  // charged for all of its steps: exact up to timing noise, and minutes faster.
  let seconds = 0;
  let step = 0;
  while (step < newTokens) {
    const len = texts[0]!.length;
    const T = roundUp(len);
    const stepsInBucket = Math.min(T - len + 1, newTokens - step);
    const g = await graphFor(T);
    const runOnce = async () => {
      const cur = texts[0]!.length;
      const ids = new BigInt64Array(B * T);
      texts.forEach((t, b) => t.forEach((id, i) => { ids[b * T + i] = BigInt(id); }));
      const feeds: Record<string, { data: Float32Array | BigInt64Array; shape: number[] }> = {
        patches: { data: allPatches, shape: [B, numPatches(cfg), patchDim(cfg)] }, ids: { data: ids, shape: [B, T] },
        last: { data: new BigInt64Array(B).fill(BigInt(cur - 1)), shape: [B] },
      };
      for (const s of policy.params.specs) if (g.inputNames.includes(s.name)) feeds[s.name] = { data: policy.params.get(s.name), shape: s.shape };
      const out = (await g.run(feeds)).logits!.data as Float32Array;
      for (let b = 0; b < B; b++) texts[b]!.push(sampleToken(out, b * cfg.vocab, cfg.vocab, { temperature: 1, topP: 1 }, rng).token);
    };
    // The first run of a fresh session allocates its memory arena: run it untimed when the
    // bucket has steps to spare.
    let done = 0;
    if (stepsInBucket > 2) { await runOnce(); done++; }
    const timed = Math.min(2, stepsInBucket - done);
    const t0 = performance.now();
    for (let i = 0; i < timed; i++) await runOnce();
    done += timed;
    seconds += ((performance.now() - t0) / 1000 / timed) * stepsInBucket;
    // The untimed rest of the bucket only needs its tokens, not its time.
    for (let i = done; i < stepsInBucket; i++) for (let b = 0; b < B; b++) texts[b]!.push(4);
    step += stepsInBucket;
  }
  return seconds;
}

export async function benchDecode(threads: number, B = 64, newTokens = 160, promptLen = 12): Promise<DecodeFigure> {
  const cfg = DEFAULT_VLM;
  const policy = Policy.init(cfg, 0, undefined, threads);
  const rng = new Rng(3);
  const reqs = benchInputs(cfg, B, promptLen, rng);
  const workers = policy.decodeWorkers;
  const timed = async (mode: { workers: number; share: boolean }) => {
    policy.decodeWorkers = mode.workers;
    policy.shareContexts = mode.share;
    // Warm-up: one generation of the same size compiles the graphs and fills the reusable
    // KV-cache buffers, so the timed one measures steady-state decoding (as in RL, which
    // generates batch after batch).
    await policy.generate(reqs, { maxNew: newTokens, temperature: 1, topP: 1, seed: 1, stop: [], batchSize: B });
    const t0 = performance.now();
    const gens = await policy.generate(reqs, { maxNew: newTokens, temperature: 1, topP: 1, seed: 2, stop: [], batchSize: B });
    const seconds = (performance.now() - t0) / 1000;
    return { seconds, tokensPerS: gens.reduce((a, g) => a + g.tokens.length, 0) / seconds };
  };
  const kv = await timed({ workers, share: true });
  const oneProcess = await timed({ workers: 1, share: true });
  const perRowCache = await timed({ workers: 1, share: false });
  await policy.close();
  const prompt = (reqs[0]!.segments[1] as { ids: number[] }).ids;
  const noKvSeconds = await decodeNoKv(policy, B, prompt, reqs[0]!.patches, newTokens, rng);
  return {
    batch: B, newTokens, workers, kvSeconds: kv.seconds, kvTokensPerS: kv.tokensPerS,
    oneProcessTokensPerS: oneProcess.tokensPerS, perRowCacheTokensPerS: perRowCache.tokensPerS,
    noKvSeconds, noKvTokensPerS: (B * newTokens) / noKvSeconds,
  };
}
