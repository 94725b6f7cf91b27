// Batched decoding, the host side: what a caller asks of a generation (requests, options,
// stop ids) and the rows of a batch being decoded: one decode step samples every running
// row and applies its stop rules; compaction says which cache rows are worth keeping once
// most rows have finished. The graph calls (prefill, the one-token chunk, the cache) are the
// policy's: model/policy.ts.
import { Rng } from '../util/rng.js';
import { sampleToken, topTokens, type SamplingOptions } from './sampling.js';

/** A piece of context: the image's patch tokens, or text token ids. */
export type Segment = { kind: 'image' } | { kind: 'text'; ids: number[] };

export interface GenerateRequest {
  /** Patch vectors of this row's image, [N * patchDim] (see model/image.ts). */
  patches: Float32Array;
  /** The context to condition on, e.g. [image, text(prompt)] or, for visual re-grounding,
   * [image, text(prompt + verified prefix), image]. Text positions skip image segments. */
  segments: Segment[];
  /** Per-row overrides of the batch's sampling options (a server batches unlike requests). */
  sampling?: Partial<SamplingOptions> & { maxNew?: number; seed?: number };
  /** Called with each sampled token; returning 'stop' ends this row (e.g. a stop string). */
  onToken?: (token: number, logp: number, top: { token: number; logp: number }[]) => 'stop' | void;
}

export interface GenerateOptions extends SamplingOptions {
  maxNew: number;
  seed: number;
  /** Rows per batch (default 64; fewer when batches are spread over decode workers). */
  batchSize?: number;
  /**
   * Token ids that end a row (the row is `finished`). Default: the policy's `responseStops`
   * (<eos> and the response format's `</answer>`); [] never stops early (benchmarks).
   */
  stop?: readonly number[];
  /** Also report this many most likely tokens at each step (OpenAI's top_logprobs). */
  topLogprobs?: number;
}

export interface Generation {
  tokens: number[];
  /** Per token, the most likely alternatives (only when topLogprobs > 0). */
  top?: { token: number; logp: number }[][];
  /** Log-probability of each sampled token under the (tempered) policy. */
  logps: number[];
  /** True when the row stopped on a stop id (or its onToken said stop) rather than a length limit. */
  finished: boolean;
}

/** What the next one-token chunk feeds, one entry per cache row. */
export interface StepFeeds {
  ids: BigInt64Array;
  pos: Int32Array;
  /** 1 for rows that go on (their token is fed), 0 for rows that have finished. */
  running: Uint8Array;
  /** How many rows go on. */
  count: number;
}

/**
 * The rows of one batch while it is decoded. `live[i]` is the request row held in cache row
 * i (all rows at first; fewer after a compaction).
 */
export class DecodeRows {
  readonly gens: Generation[];
  readonly maxNew: number;
  live: number[];
  private readonly active: Uint8Array;
  private readonly rowRng: Rng[];
  private readonly rowOpts: (GenerateOptions & GenerateRequest['sampling'])[];
  private readonly stop: ReadonlySet<number>;

  /**
   * `textPos[b]` is the next text position of row b after the prefill (advanced as tokens
   * are fed); `maxText` the model's text limit; `vocab` the width of a logits row.
   */
  constructor(
    private readonly reqs: GenerateRequest[],
    private readonly opts: GenerateOptions,
    private readonly textPos: Int32Array,
    private readonly maxText: number,
    private readonly vocab: number,
    stop: readonly number[],
  ) {
    const B = reqs.length;
    this.gens = reqs.map(() => ({ tokens: [], logps: [], finished: false, ...(opts.topLogprobs ? { top: [] } : {}) }));
    this.active = new Uint8Array(B).fill(1);
    // Every row samples from its own generator (see withRowSeeds).
    this.rowRng = reqs.map((r, i) => {
      if (r.sampling?.seed === undefined) throw new Error(`DecodeRows: row ${i} has no sampling seed (Policy.generate gives every row one)`);
      return new Rng(r.sampling.seed);
    });
    this.rowOpts = reqs.map((r) => ({ ...opts, ...r.sampling }));
    this.maxNew = Math.max(...this.rowOpts.map((o) => o.maxNew));
    this.live = [...Array(B).keys()];
    this.stop = new Set(stop);
  }

  /**
   * One decode step: samples a token for every running row from `logits` (one row of
   * logits per cache row), records it, and applies the row's stop rules in order: its
   * onToken, the stop ids, then its length limits (maxNew, the model's maxText).
   */
  step(logits: Float32Array): StepFeeds {
    const V = this.vocab;
    const L = this.live.length;
    const ids = new BigInt64Array(L);
    const pos = new Int32Array(L);
    const running = new Uint8Array(L);
    let count = 0;
    for (let i = 0; i < L; i++) {
      const b = this.live[i]!;
      if (!this.active[b]) continue;
      const ro = this.rowOpts[b]!;
      const gen = this.gens[b]!;
      const { token, logp } = sampleToken(logits, i * V, V, ro, this.rowRng[b]!);
      gen.tokens.push(token);
      gen.logps.push(logp);
      const top = this.opts.topLogprobs ? topTokens(logits, i * V, V, ro.temperature, this.opts.topLogprobs) : [];
      if (this.opts.topLogprobs) gen.top!.push(top);
      if (this.reqs[b]!.onToken?.(token, logp, top) === 'stop' || this.stop.has(token)) { gen.finished = true; this.active[b] = 0; continue; }
      if (gen.tokens.length >= ro.maxNew || this.textPos[b]! + 1 >= this.maxText) { this.active[b] = 0; continue; }
      ids[i] = BigInt(token);
      pos[i] = this.textPos[b]!;
      this.textPos[b]!++;
      running[i] = 1;
      count++;
    }
    return { ids, pos, running, count };
  }

  /**
   * Compaction: the cache rows to keep once at most half of the rows (and at least 8 in all)
   * are still running, so a few long generations do not keep paying for the whole batch;
   * null while keeping every row is the better deal.
   */
  compaction(feeds: StepFeeds): number[] | null {
    const L = this.live.length;
    if (!(L >= 8 && feeds.count <= L / 2)) return null;
    return [...Array(L).keys()].filter((i) => feeds.running[i]);
  }

  /** Drops every cache row but `keep` (after the cache itself was compacted) and returns the feeds for the rows kept. */
  keepRows(keep: number[], feeds: StepFeeds): StepFeeds {
    this.live = keep.map((i) => this.live[i]!);
    return {
      ids: BigInt64Array.from(keep.map((i) => feeds.ids[i]!)),
      pos: Int32Array.from(keep.map((i) => feeds.pos[i]!)),
      running: new Uint8Array(keep.length).fill(1),
      count: keep.length,
    };
  }
}

/**
 * The requests with a sampling seed on every row: a row's own seed, else one drawn for its
 * index from `seed`. Each row then samples from its own generator, so what a row generates
 * does not depend on which rows share its batch, on the batch size, or on how batches are
 * spread over decode workers (model/decode-pool.ts).
 */
export function withRowSeeds(reqs: readonly GenerateRequest[], seed: number): GenerateRequest[] {
  const seeds = new Rng(seed);
  return reqs.map((r) => {
    const drawn = seeds.nextU32(); // drawn for every row, so a row's seed depends only on its index
    return r.sampling?.seed !== undefined ? r : { ...r, sampling: { ...r.sampling, seed: drawn } };
  });
}

/** Fewest rows a batch is split down to when batches are spread over workers. */
const MIN_SPLIT_ROWS = 2;

/**
 * Batches of request indices: rows with the same shape of context (sequence of segment kinds)
 * share a batch, at most `batchSize` rows each. With `parts` > 1 (decode workers), the largest
 * batch is halved until there are at least `parts` batches or none has 2·MIN_SPLIT_ROWS rows;
 * a half ends on a change of context where one is near the middle, so groups of rows with one
 * context stay together (model/shared-context.ts).
 */
export function planBatches(reqs: readonly GenerateRequest[], batchSize: number, parts = 1, sameContext: (a: GenerateRequest, b: GenerateRequest) => boolean = () => false): number[][] {
  const byShape = new Map<string, number[]>();
  reqs.forEach((r, i) => {
    const key = r.segments.map((s) => s.kind).join(',');
    byShape.set(key, [...(byShape.get(key) ?? []), i]);
  });
  const batches: number[][] = [];
  for (const idx of byShape.values()) for (let s = 0; s < idx.length; s += batchSize) batches.push(idx.slice(s, s + batchSize));
  while (batches.length < parts) {
    const largest = batches.reduce((a, b, i) => (b.length > batches[a]!.length ? i : a), 0);
    const b = batches[largest]!;
    if (b.length < 2 * MIN_SPLIT_ROWS) break;
    // The context boundary nearest the middle, else the middle.
    let cut = Math.floor(b.length / 2);
    for (let d = 0; d <= b.length / 4; d++) {
      const at = [cut - d, cut + d].find((c) => c >= MIN_SPLIT_ROWS && b.length - c >= MIN_SPLIT_ROWS && !sameContext(reqs[b[c - 1]!]!, reqs[b[c]!]!));
      if (at !== undefined) { cut = at; break; }
    }
    batches.splice(largest, 1, b.slice(0, cut), b.slice(cut));
  }
  return batches;
}
