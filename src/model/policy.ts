// The compact VLM as a policy: parameters + tokenizer + compiled graphs for scoring and
// for KV-cached sampling. RL and IVR-R1 talk to models only through this surface (and
// its remote twin), so they never see the engine; their losses reach the weights through
// model/objective.ts, their batches are packed by model/batch.ts.
import * as o from '../engine/ops.js';
import { ParamRegistry, ParamStore, type ParamSpec } from '../engine/params.js';
import { compile, defaultThreads, type CompiledGraph, type HostTensor } from '../engine/runtime.js';
import { numPatches, patchDim, type VlmConfig } from './config.js';
import { BufferPool, KvCache } from './kv-cache.js';
import { DecodeRows, planBatches, withRowSeeds, type GenerateOptions, type GenerateRequest, type Generation } from './decode.js';
import { DecodePool } from './decode-pool.js';
import { Tokenizer } from './tokenizer.js';
import { chunkGraphOutputs, forwardFull, forwardLayout, type RowGroups } from './vlm.js';
import { contextGroups, joinContext, repeatRows, sameContext, suffixCache } from './shared-context.js';
import { LENGTH_BUCKET, packLayoutRows, packRows, roundUp } from './batch.js';
import { tokenLogProbs } from '../engine/ops.js';
import type { Tensor } from '../engine/tensor.js';
import { chunkPredecessors } from './token-shift.js';
import { ANSWER_CLOSE } from '../tasks/format.js';

// What a caller asks of a generation lives with the decoding rows (model/decode.ts).
export type { GenerateOptions, GenerateRequest, Generation, Segment } from './decode.js';

export class Policy {
  private readonly graphs = new Map<string, Promise<CompiledGraph>>();
  /** KV-cache buffers reused from one generation batch to the next (see BufferPool). */
  private readonly kvBuffers = new BufferPool();
  /** Where a response ends: <eos> and the response format's `</answer>` (the default stop ids of `generate`). */
  readonly responseStops: readonly number[];
  /**
   * Inference graphs (scoring, prefill, decode) with fused onnxruntime kernels (vlm.ts
   * GraphOptions). Default on; IVR_FUSED=0 turns it off. Training graphs
   * (model/objective.ts) are never fused.
   */
  fused = process.env.IVR_FUSED !== '0';
  /**
   * Rows with the same context (a GRPO group) prefill it once and decode against one copy of
   * it (model/shared-context.ts). Default on; IVR_SHARED_CONTEXT=0 turns it off.
   */
  shareContexts = process.env.IVR_SHARED_CONTEXT !== '0';
  /**
   * Worker threads that decode batches side by side, one intra-op thread each
   * (model/decode-pool.ts); 1 decodes in process. Default: the policy's threads, or
   * IVR_DECODE_WORKERS.
   */
  decodeWorkers: number;

  constructor(
    readonly cfg: VlmConfig,
    readonly tokenizer: Tokenizer,
    public params: ParamStore,
    readonly threads = defaultThreads(),
  ) {
    if (tokenizer.vocabSize > cfg.vocab) throw new Error(`tokenizer has ${tokenizer.vocabSize} tokens but the model vocab is ${cfg.vocab}`);
    this.responseStops = [tokenizer.eos, tokenizer.id(ANSWER_CLOSE)];
    const workers = Number(process.env.IVR_DECODE_WORKERS ?? threads);
    this.decodeWorkers = Number.isInteger(workers) && workers > 0 ? workers : threads;
  }

  /** Every parameter of the model, found by tracing the full forward pass. */
  static specs(cfg: VlmConfig): ParamSpec[] {
    const reg = new ParamRegistry();
    forwardFull(reg.scope('vlm'), cfg, o.input('patches', ['B', numPatches(cfg), patchDim(cfg)]), o.input('ids', ['B', 16], 'int64'));
    return reg.specs();
  }

  static init(cfg: VlmConfig, seed: number, tokenizer = new Tokenizer(), threads?: number): Policy {
    return new Policy(cfg, tokenizer, ParamStore.init(Policy.specs(cfg), seed), threads);
  }

  /** Most slots a row's KV cache may grow to: the image twice, the text, and room for bucket padding. */
  get cacheCapacity(): number { return 2 * numPatches(this.cfg) + this.cfg.maxText + 2 * LENGTH_BUCKET; }

  private graph(name: string, build: () => Record<string, Tensor>, arena = false): Promise<CompiledGraph> {
    const key = `${this.fused ? 'fused' : 'plain'}:${name}`;
    let g = this.graphs.get(key);
    if (!g) {
      g = compile(build(), { threads: this.threads, arena });
      this.graphs.set(key, g);
    }
    return g;
  }

  /** Feeds every parameter the graph uses from the current parameter values. */
  private paramFeeds(g: CompiledGraph, feeds: Record<string, HostTensor>): Record<string, HostTensor> {
    for (const spec of this.params.specs) {
      if (!(spec.name in feeds) && g.hasInput(spec.name)) feeds[spec.name] = { data: this.params.get(spec.name), shape: spec.shape };
    }
    return feeds;
  }

  /** Scoring graph: per-position log-probs of targets given the text so far, [B, T]. */
  private scoreGraph(T: number): Promise<CompiledGraph> {
    return this.graph(`score:${T}`, () => {
      const reg = new ParamRegistry();
      const patches = o.input('patches', ['B', numPatches(this.cfg), patchDim(this.cfg)]);
      const ids = o.input('ids', ['B', T], 'int64');
      const targets = o.input('targets', ['B', T], 'int64');
      return { logp: tokenLogProbs(forwardFull(reg.scope('vlm'), this.cfg, patches, ids, { fused: this.fused }), targets) };
    });
  }

  /**
   * Log-probabilities of each text token after the first, given the image and the tokens
   * before it: result[i][t] = log p(text[t+1] | image, text[0..t]).
   */
  async scoreTexts(items: { patches: Float32Array; text: number[] }[], batchSize = 32): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let s = 0; s < items.length; s += batchSize) {
      const rows = items.slice(s, s + batchSize);
      const { T, feeds } = packRows(rows.map((r) => ({ patches: r.patches, text: r.text, responseFrom: r.text.length })), this.cfg, { label: 'score' });
      const g = await this.scoreGraph(T);
      const res = await g.run(this.paramFeeds(g, { patches: feeds.patches!, ids: feeds.ids!, targets: feeds.targets! }));
      const logp = res.logp!.data as Float32Array;
      rows.forEach((r, b) => out.push(logp.slice(b * T, b * T + r.text.length - 1)));
    }
    return out;
  }

  /**
   * Like scoreTexts, with the image re-inserted before text position `insertAt` (the
   * re-grounded context): result[i][t] = log p(text[t+1] | image, text[0..t], image if
   * inserted before t+1); the token after the re-inserted image is predicted from the last
   * image patch, as in generation.
   */
  async scoreLayouts(items: { patches: Float32Array; text: number[]; insertAt: number | null }[]): Promise<Float32Array[]> {
    const cfg = this.cfg;
    const N = numPatches(cfg);
    const lay = packLayoutRows(items.map((it) => ({ patches: it.patches, text: it.text, lossFrom: 1, insertAt: it.insertAt })), cfg, (n) => roundUp(n));
    const g = await this.graph(`layout-score:${lay.T}:${lay.L}`, () => {
      const reg = new ParamRegistry();
      const logits = forwardLayout(reg.scope('vlm'), cfg, o.input('patches', ['B', N, patchDim(cfg)]), o.input('ids', ['B', lay.T], 'int64'), o.input('order', ['B', lay.L], 'int64'), o.input('bias', ['B', 1, lay.L, lay.L]), o.input('textDistance', ['B', 1, lay.L, lay.L]), { fused: this.fused });
      return { logp: tokenLogProbs(logits, o.input('targets', ['B', lay.L], 'int64')) };
    });
    const feeds = { ...lay.feeds };
    delete feeds.mask; // scoring reads every position
    const res = await g.run(this.paramFeeds(g, feeds));
    const logp = res.logp!.data as Float32Array;
    return items.map((it, b) => {
      const out = new Float32Array(it.text.length - 1).fill(NaN);
      // Walk the layout again to map sequence positions back to text positions.
      let s = 0;
      s += N;
      for (let t = 0; t < it.text.length; t++) {
        if (it.insertAt === t) s += N;
        if (t + 1 < it.text.length) {
          const at = it.insertAt === t + 1 ? s + N : s; // predicted from the last image patch
          out[t] = logp[b * lay.L + at]!;
        }
        s++;
      }
      return out;
    });
  }

  /**
   * A chunk graph: n text tokens or the image, against a cache of any length (its slot
   * dim is symbolic). Text queries get ALiBi distances to the cache's text slots, computed
   * in the graph from the per-slot positions; image queries are distance-free.
   */
  private chunkGraph(kind: 'text' | 'image', n: number, groups?: RowGroups): Promise<CompiledGraph> {
    const shared = groups ? `:shared:${groups.groups}x${groups.rowsPerGroup}` : '';
    // The decode step (one text token) runs hundreds of times per batch in few shapes (batch
    // × 32-slot cache buckets), so its session keeps onnxruntime's arena and memory patterns
    // (off for the other graphs: runtime.ts createSession). 1 thread, 100 → 200 slots:
    // 0.98 → 0.92 ms per step at batch 4, 1.20 → 1.16 at 8, 5.38 → 4.99 at 64; RSS after 8
    // passes over 10 batch sizes × 13 cache lengths 450 → 480 MB, flat after the first pass
    // (docs/engine/fused-kernels.md).
    return this.graph(`chunk:${kind}:${n}${shared}`, () => chunkGraphOutputs(new ParamRegistry().scope('vlm'), this.cfg, kind, n, { fused: this.fused }, groups), kind === 'text' && n === 1);
  }

  /**
   * Runs a chunk against the cache and appends it; `chunkPos` are a text chunk's text positions
   * [B, n] (null for the image). With `shared`, the rows (G·R, in group order) also read their
   * group's context (one decoded token per row).
   */
  private async runChunk(cache: KvCache, feeds: Record<string, HostTensor>, n: number, chunkValid: Uint8Array, chunkPos: Int32Array | null, shared?: SharedRows): Promise<Float32Array> {
    const g = await this.chunkGraph(chunkPos ? 'text' : 'image', n, shared?.groups);
    const B = cache.batch;
    const { mask, textDistance } = cache.chunkAttention(n, chunkValid, chunkPos);
    const all: Record<string, HostTensor> = { ...feeds, ...cache.feeds(), ...shared?.context.feeds('shared.'), chunkMask: { data: mask, shape: [B, 1, n, n] }, chunkDistance: { data: textDistance, shape: [B, 1, n, n] } };
    if (chunkPos) {
      all.queryPos = { data: Float32Array.from(chunkPos), shape: [B, 1, n, 1] };
      if (this.cfg.tokenShift === 1) {
        chunkPredecessors(cache.recentIds, feeds.ids!.data as BigInt64Array, n, chunkValid).forEach((prev, k) => { all[`prev${k + 1}`] = { data: prev, shape: [B, n] }; });
      }
    } else if (this.cfg.cellAddress !== 1) { delete all.slotPos; delete all.slotIsText; } // an image chunk needs them only to address cells
    const res = await g.run(this.paramFeeds(g, all));
    cache.append(n, chunkValid, chunkPos, (l) => [res[`k${l}.new`]!.data as Float32Array, res[`v${l}.new`]!.data as Float32Array]);
    return res.logits!.data as Float32Array;
  }

  /**
   * Batched sampling with a KV cache. Rows are batched by the shape of their context
   * (sequence of segment kinds, model/decode.ts planBatches); text segments are left-padded to
   * a common bucketed length so every row of a batch shares cache slots, and the decode step
   * is one graph call for the whole batch. Every row samples from its own seed (withRowSeeds),
   * so with decode workers the batches run side by side with the same results.
   */
  async generate(reqs: GenerateRequest[], opts: GenerateOptions): Promise<Generation[]> {
    const rows = withRowSeeds(reqs, opts.seed);
    const options = { ...opts, stop: opts.stop ?? this.responseStops };
    const pool = this.decodeWorkers > 1 && !reqs.some((r) => r.onToken) ? this.pool() : null;
    const batches = planBatches(rows, opts.batchSize ?? 64, pool ? pool.size : 1, sameContext);
    const results: Generation[] = new Array(reqs.length);
    if (pool && batches.length > 1) {
      const gens = await pool.run(batches.map((b) => b.map((i) => rows[i]!)), options, this.params);
      batches.forEach((b, k) => b.forEach((i, j) => { results[i] = gens[k]![j]!; }));
      return results;
    }
    for (const b of batches) {
      const gens = await this.generateBatch(b.map((i) => rows[i]!), options);
      b.forEach((i, j) => { results[i] = gens[j]!; });
    }
    return results;
  }

  private decodePool: DecodePool | null = null;

  private pool(): DecodePool {
    if (this.decodePool?.size !== this.decodeWorkers) {
      void this.decodePool?.close();
      this.decodePool = new DecodePool(this.decodeWorkers, () => ({ cfg: this.cfg, tokenizer: this.tokenizer, fused: this.fused, shareContexts: this.shareContexts }));
    }
    return this.decodePool;
  }

  /** Stops the decode workers, if any were started (they also end with the process). */
  async close(): Promise<void> {
    await this.decodePool?.close();
    this.decodePool = null;
  }

  /**
   * One batch: prefill the context, then decode steps (model/decode.ts samples the rows and
   * applies the caller's stop ids) with the cache compacted once most rows have finished. Rows
   * in equal groups with one context prefill it once per group and read it shared until the
   * first compaction (model/shared-context.ts).
   */
  private async generateBatch(reqs: GenerateRequest[], opts: GenerateOptions): Promise<Generation[]> {
    const groups = this.shareContexts ? contextGroups(reqs) : null;
    const textPos = new Int32Array(reqs.length);
    const capacity = this.batchCapacity(reqs, opts);
    let shared: SharedRows | undefined;
    let cache: KvCache | undefined; // released in `finally`, whatever happens
    try {
      let logits: Float32Array;
      if (groups) {
        const R = groups.rowsPerGroup;
        const context = this.newCache(groups.groups, capacity);
        shared = { context, groups };
        const contextPos = new Int32Array(groups.groups);
        logits = repeatRows(await this.prefill(context, reqs.filter((_, i) => i % R === 0), contextPos), this.cfg.vocab, R);
        textPos.set(repeatRows(contextPos, 1, R));
        cache = suffixCache(context, R);
      } else {
        cache = this.newCache(reqs.length, capacity);
        logits = await this.prefill(cache, reqs, textPos);
      }
      const rows = new DecodeRows(reqs, opts, textPos, this.cfg.maxText, this.cfg.vocab, opts.stop ?? this.responseStops);
      for (let step = 0; step < rows.maxNew; step++) {
        let feeds = rows.step(logits);
        if (!feeds.count || step === rows.maxNew - 1 || cache.used + 1 > cache.capacity) break;
        const keep = rows.compaction(feeds);
        if (keep) {
          const full: KvCache = cache;
          cache = shared ? joinContext(shared.context, full, keep, shared.groups.rowsPerGroup) : full.compact(keep);
          full.release();
          shared?.context.release();
          shared = undefined;
          feeds = rows.keepRows(keep, feeds);
        }
        logits = await this.runChunk(cache, { ids: { data: feeds.ids, shape: [rows.live.length, 1] } }, 1, feeds.running, feeds.pos, shared);
      }
      return rows.gens;
    } finally {
      // Their buffers serve the next batch.
      cache?.release();
      shared?.context.release();
    }
  }

  private newCache(rows: number, capacity: number): KvCache {
    return new KvCache(rows, this.cfg.layers, this.cfg.heads, this.cfg.dim / this.cfg.heads, capacity, undefined, this.kvBuffers);
  }

  /**
   * Slots a batch's cache can need: its context as prefill writes it (the image, text padded to
   * its bucket) and the longest generation, at most the model's capacity (a longer context is
   * refused by prefill). Buffers are sized by it, so a short generation holds a short cache.
   */
  private batchCapacity(reqs: GenerateRequest[], opts: GenerateOptions): number {
    const context = reqs[0]!.segments.reduce((n, seg, j) => {
      if (seg.kind === 'image') return n + numPatches(this.cfg);
      const longest = Math.max(...reqs.map((r) => (r.segments[j] as { ids: number[] }).ids.length));
      return longest ? n + roundUp(longest) : n;
    }, 0);
    const maxNew = Math.max(...reqs.map((r) => r.sampling?.maxNew ?? opts.maxNew));
    return Math.min(this.cacheCapacity, context + maxNew);
  }

  /**
   * Prefill: runs every segment of the context into the cache (the image as one chunk, text
   * left-padded to a common bucketed length) and returns the logits after the last one;
   * `textPos[b]` ends at row b's next text position.
   */
  private async prefill(cache: KvCache, reqs: GenerateRequest[], textPos: Int32Array): Promise<Float32Array> {
    const B = reqs.length;
    const N = numPatches(this.cfg);
    const pd = patchDim(this.cfg);
    let logits: Float32Array | null = null;
    const nSeg = reqs[0]!.segments.length;
    for (let j = 0; j < nSeg; j++) {
      if (reqs[0]!.segments[j]!.kind === 'image') {
        const patches = new Float32Array(B * N * pd);
        reqs.forEach((r, b) => patches.set(r.patches, b * N * pd));
        logits = await this.runChunk(cache, { patches: { data: patches, shape: [B, N, pd] } }, N, new Uint8Array(B * N).fill(1), null);
        continue;
      }
      const texts = reqs.map((r) => (r.segments[j] as { ids: number[] }).ids);
      const L = Math.max(...texts.map((t) => t.length));
      if (L === 0) continue;
      const n = roundUp(L);
      const ids = new BigInt64Array(B * n);
      const pos = new Int32Array(B * n);
      const valid = new Uint8Array(B * n);
      texts.forEach((t, b) => {
        const pad = n - t.length;
        t.forEach((id, i) => { ids[b * n + pad + i] = BigInt(id); pos[b * n + pad + i] = textPos[b]! + i; valid[b * n + pad + i] = 1; });
        textPos[b]! += t.length;
      });
      if (cache.used + n > cache.capacity) throw new Error(`generate: context of ${cache.used + n} slots exceeds the cache (${cache.capacity})`);
      logits = await this.runChunk(cache, { ids: { data: ids, shape: [B, n] } }, n, valid, pos);
    }
    if (!logits) throw new Error('generate: empty context');
    return logits;
  }
}

/** Rows decoding against their groups' shared context: G groups of R rows, in group order. */
interface SharedRows { context: KvCache; groups: RowGroups }
