// Host-side KV cache: per layer, keys and values [B, H, S, Dh] in Float32Arrays fed to the
// chunk graph zero-copy (onnxruntime fuses the keys' transpose into q·kᵀ). The graph returns only
// the new positions' keys and values; `append` writes them into the next slots.
//
// Decoding is bound by reading the cache (a GEMV per row and head per layer), so the cache
// is allocated only as long as it is filled, rounded up to CACHE_BUCKET slots, and grows by
// copying into a longer allocation (once per bucket, a cost spread over its 32 steps); the
// chunk graph has a symbolic slot dim, so every length runs the same graph.
//
// Per slot the cache also keeps what attention needs to know about it, updated only when
// slots are written, so a decode step does no host work that scales with the cache:
// `slotMask` (additive: 0 for a real token, -1e9 for left padding and unfilled slots),
// `slotPos` (a text token's text position; an image token's patch index, which cell
// addressing reads: vlm.ts slotCellCodes) and `slotIsText` (1 for text, 0 for image
// tokens: ALiBi applies only between text tokens).
import type { HostTensor } from '../engine/runtime.js';
import { SHIFT_TOKENS } from './token-shift.js';

const MASKED = -1e9;
/** Slots are allocated in multiples of this. */
export const CACHE_BUCKET = 32;

/**
 * Buffers of released caches, for the next cache to reuse. A fresh 14 MB buffer costs page
 * faults the first time each page is written, and at batch 64 that was 150 ms of a 1.3 s
 * decode (measured; rewriting warm buffers cost 50 ms), so a policy keeps its caches' buffers,
 * up to `maxBytes` (64 MiB, about one batch's caches at 32 rows): past it the buffers given back
 * longest ago go first. It was 64 buffers of any size, which a policy per decode worker can
 * no longer afford.
 */
export class BufferPool {
  private free: Float32Array[] = [];
  constructor(private readonly maxBytes = 64 * 2 ** 20) {}

  /** A buffer of at least `size` floats (the smallest free one that fits, else a new one); its contents are stale. */
  take(size: number): Float32Array {
    let best = -1;
    this.free.forEach((a, i) => { if (a.length >= size && (best < 0 || a.length < this.free[best]!.length)) best = i; });
    if (best < 0) return new Float32Array(size);
    return this.free.splice(best, 1)[0]!;
  }

  give(a: Float32Array): void {
    this.free.push(a);
    let bytes = this.free.reduce((n, b) => n + b.byteLength, 0);
    while (bytes > this.maxBytes) bytes -= this.free.shift()!.byteLength;
  }

  /** Bytes held for reuse. */
  get bytes(): number { return this.free.reduce((n, b) => n + b.byteLength, 0); }
}

export class KvCache {
  // Allocated once at full capacity; the first `slots` of every row are the live region,
  // packed with row stride `slots`, so each feed is a zero-copy prefix of its buffer.
  readonly keys: Float32Array[];
  readonly values: Float32Array[];
  readonly slotMask: Float32Array;
  readonly slotPos: Float32Array;
  readonly slotIsText: Float32Array;
  /** Each row's last SHIFT_TOKENS text ids, oldest first (0 = none): a tokenShift model's predecessors (token-shift.ts). */
  readonly recentIds: Int32Array;
  /** Live slots per row (a multiple of CACHE_BUCKET, at most `capacity`). */
  slots: number;
  /** Filled slots per row (the same for every row: rows are left-padded to share slots). */
  used = 0;

  constructor(readonly batch: number, readonly layers: number, readonly heads: number, readonly headDim: number, readonly capacity: number, slots = Math.min(capacity, CACHE_BUCKET), readonly pool = new BufferPool()) {
    const size = batch * heads * capacity * headDim;
    this.keys = Array.from({ length: layers }, () => pool.take(size));
    this.values = Array.from({ length: layers }, () => pool.take(size));
    this.slotMask = pool.take(batch * capacity);
    this.slotPos = pool.take(batch * capacity);
    this.slotIsText = pool.take(batch * capacity);
    this.recentIds = new Int32Array(batch * SHIFT_TOKENS);
    // Pooled buffers hold an earlier cache's values: clear the live region (restride
    // clears each extension) so masked slots always hold finite numbers.
    for (const a of [...this.keys, ...this.values]) a.fill(0, 0, batch * heads * slots * headDim);
    this.slotMask.fill(MASKED, 0, batch * slots);
    this.slotPos.fill(0, 0, batch * slots);
    this.slotIsText.fill(0, 0, batch * slots);
    this.slots = slots;
  }

  /** Hands this cache's buffers back to its pool; the cache must not be used afterwards. */
  release(): void {
    for (const a of [...this.keys, ...this.values, this.slotMask, this.slotPos, this.slotIsText]) this.pool.give(a);
  }

  /** Makes room for n more slots, growing the live region if needed. */
  reserve(n: number): void {
    const need = this.used + n;
    if (need > this.capacity) throw new Error(`kv cache overflow: ${this.used} + ${n} > ${this.capacity} slots`);
    if (need > this.slots) this.restride(Math.min(this.capacity, Math.ceil(need / CACHE_BUCKET) * CACHE_BUCKET));
  }

  /**
   * Re-packs every buffer in place from row stride `slots` to a longer one. Rows move
   * towards the end, so going from the last row to the first never overwrites a row not
   * yet moved; the new tail of each row is cleared (masked slots must hold finite values).
   */
  private restride(slots: number): void {
    const { batch: B, heads: H, headDim: Dh, used } = this;
    const old = this.slots;
    const move = (a: Float32Array, rows: number, width: number, fill: number) => {
      for (let r = rows - 1; r >= 0; r--) {
        a.copyWithin(r * slots * width, r * old * width, (r * old + used) * width);
        a.fill(fill, (r * slots + used) * width, (r + 1) * slots * width);
      }
    };
    for (let l = 0; l < this.layers; l++) {
      move(this.keys[l]!, B * H, Dh, 0);
      move(this.values[l]!, B * H, Dh, 0); // [B, H, S, Dh]: a row per head, Dh wide
    }
    move(this.slotMask, B, 1, MASKED);
    move(this.slotPos, B, 1, 0);
    move(this.slotIsText, B, 1, 0);
    this.slots = slots;
  }

  /**
   * The cache's graph inputs: k{l}, v{l}, and the per-slot mask and positions as [B, 1, 1, S];
   * each name after `prefix` (a shared context's are `shared.k0`.., vlm.ts chunkGraphOutputs).
   * The same views (the same record) until the live region grows, so the runtime serves
   * their onnxruntime wrappers from its cache (runtime.ts CompiledGraph) instead of
   * rebuilding them every step. The record is frozen: callers copy it to change it.
   */
  feeds(prefix = ''): Readonly<Record<string, HostTensor>> {
    let fed = this.fed.get(prefix);
    if (fed?.slots !== this.slots) this.fed.set(prefix, (fed = { slots: this.slots, feeds: Object.freeze(this.views(prefix)) }));
    return fed.feeds;
  }

  private readonly fed = new Map<string, { slots: number; feeds: Readonly<Record<string, HostTensor>> }>();

  private views(prefix: string): Record<string, HostTensor> {
    const { batch: B, heads: H, headDim: Dh, slots: S } = this;
    const out: Record<string, HostTensor> = {};
    for (let l = 0; l < this.layers; l++) {
      out[`${prefix}k${l}`] = { data: this.keys[l]!.subarray(0, B * H * S * Dh), shape: [B, H, S, Dh] };
      out[`${prefix}v${l}`] = { data: this.values[l]!.subarray(0, B * H * S * Dh), shape: [B, H, S, Dh] };
    }
    const perSlot = [B, 1, 1, S];
    out[`${prefix}slotMask`] = { data: this.slotMask.subarray(0, B * S), shape: perSlot };
    out[`${prefix}slotPos`] = { data: this.slotPos.subarray(0, B * S), shape: perSlot };
    out[`${prefix}slotIsText`] = { data: this.slotIsText.subarray(0, B * S), shape: perSlot };
    return out;
  }

  /**
   * Attention of a chunk of n tokens to itself, each [B, 1, n, n]: `mask`, additive, admits
   * the chunk's real tokens (causal for text, full for an image); `textDistance` holds the
   * ALiBi distances between its text tokens. `chunkPos` gives a text chunk's text positions
   * [B, n] (null for an image chunk). Attention to the cache comes from the slot feeds.
   */
  chunkAttention(n: number, chunkValid: Uint8Array, chunkPos: Int32Array | null): { mask: Float32Array; textDistance: Float32Array } {
    const mask = new Float32Array(this.batch * n * n);
    const textDistance = new Float32Array(this.batch * n * n);
    for (let b = 0; b < this.batch; b++) {
      for (let q = 0; q < n; q++) {
        const row = (b * n + q) * n;
        for (let k = 0; k < n; k++) {
          if (!chunkValid[b * n + k] || (chunkPos && k > q)) mask[row + k] = MASKED;
          else if (chunkPos) textDistance[row + k] = chunkPos[b * n + q]! - chunkPos[b * n + k]!;
        }
      }
    }
    return { mask, textDistance };
  }

  /** Writes the chunk's keys/values ([B, H, n, Dh] per layer) at slots used..used+n-1; `chunkPos` as in chunkAttention. */
  append(n: number, chunkValid: Uint8Array, chunkPos: Int32Array | null, newKv: (layer: number) => [Float32Array, Float32Array]): void {
    this.reserve(n);
    const { heads: H, headDim: Dh, slots: S } = this;
    for (let l = 0; l < this.layers; l++) {
      const [k, v] = newKv(l);
      const keys = this.keys[l]!;
      const values = this.values[l]!;
      // Plain loops: a decode step writes one slot, and subarray views cost more than it.
      for (let r = 0; r < this.batch * H; r++) {
        const src = r * n * Dh;
        const vBase = (r * S + this.used) * Dh;
        for (let j = 0; j < n * Dh; j++) values[vBase + j] = v[src + j]!;
        for (let j = 0; j < n * Dh; j++) keys[vBase + j] = k[src + j]!;
      }
    }
    for (let b = 0; b < this.batch; b++) {
      for (let i = 0; i < n; i++) {
        const s = b * S + this.used + i;
        this.slotMask[s] = chunkValid[b * n + i] ? 0 : MASKED;
        this.slotIsText[s] = chunkPos ? 1 : 0;
        this.slotPos[s] = chunkPos ? chunkPos[b * n + i]! : i; // an image chunk is the N patches in order
      }
    }
    this.used += n;
  }

  /** A cache holding only the given rows (in that order), for dropping finished rows. */
  compact(rows: number[]): KvCache {
    const c = new KvCache(rows.length, this.layers, this.heads, this.headDim, this.capacity, this.slots, this.pool);
    const per = this.heads * this.slots * this.headDim;
    for (let l = 0; l < this.layers; l++) {
      rows.forEach((r, i) => {
        c.keys[l]!.set(this.keys[l]!.subarray(r * per, (r + 1) * per), i * per);
        c.values[l]!.set(this.values[l]!.subarray(r * per, (r + 1) * per), i * per);
      });
    }
    const S = this.slots;
    rows.forEach((r, i) => {
      c.slotMask.set(this.slotMask.subarray(r * S, (r + 1) * S), i * S);
      c.slotPos.set(this.slotPos.subarray(r * S, (r + 1) * S), i * S);
      c.slotIsText.set(this.slotIsText.subarray(r * S, (r + 1) * S), i * S);
      c.recentIds.set(this.recentIds.subarray(r * SHIFT_TOKENS, (r + 1) * SHIFT_TOKENS), i * SHIFT_TOKENS);
    });
    c.used = this.used;
    return c;
  }
}
