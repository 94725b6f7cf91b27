// Host-side KV cache: per layer, keys [B, H, Dh, S] (pre-transposed for q·kᵀ) and values
// [B, H, S, Dh] in Float32Arrays that are
// fed to the chunk graph zero-copy. The graph returns only the new positions' keys and
// values; `append` writes them into the next slots. `valid` marks which slots hold a real
// token of each row (left padding does not); `textPos` holds each slot's text position
// (-1 for image tokens), from which the chunk's ALiBi distances are computed.
import type { HostTensor } from '../engine/runtime.js';

const MASKED = -1e9;

export class KvCache {
  readonly keys: Float32Array[];
  readonly values: Float32Array[];
  readonly valid: Uint8Array;
  readonly textPos: Int32Array;
  used = 0;

  constructor(readonly batch: number, readonly layers: number, readonly heads: number, readonly headDim: number, readonly slots: number) {
    const size = batch * heads * slots * headDim;
    this.keys = Array.from({ length: layers }, () => new Float32Array(size));
    this.values = Array.from({ length: layers }, () => new Float32Array(size));
    this.valid = new Uint8Array(batch * slots);
    this.textPos = new Int32Array(batch * slots).fill(-1);
  }

  feeds(): Record<string, HostTensor> {
    const kShape = [this.batch, this.heads, this.headDim, this.slots];
    const vShape = [this.batch, this.heads, this.slots, this.headDim];
    const out: Record<string, HostTensor> = {};
    for (let l = 0; l < this.layers; l++) { out[`k${l}`] = { data: this.keys[l]!, shape: kShape }; out[`v${l}`] = { data: this.values[l]!, shape: vShape }; }
    return out;
  }

  /**
   * Attention inputs for a chunk of n tokens, each [B, 1, n, S + n] over (cache slots, then
   * the chunk): `mask`, additive, admits the valid cache slots of each row and the chunk
   * itself (causal for text, full for an image; padded keys masked); `textDistance` holds
   * the ALiBi distances between text tokens. `chunkPos` gives the chunk's text positions
   * [B, n] (null for an image chunk).
   */
  chunkAttention(n: number, chunkValid: Uint8Array, chunkPos: Int32Array | null): { mask: Float32Array; textDistance: Float32Array } {
    const S = this.slots;
    const W = S + n;
    const mask = new Float32Array(this.batch * n * W);
    const textDistance = new Float32Array(this.batch * n * W);
    for (let b = 0; b < this.batch; b++) {
      for (let q = 0; q < n; q++) {
        const row = (b * n + q) * W;
        const qPos = chunkPos ? chunkPos[b * n + q]! : -1;
        for (let s = 0; s < S; s++) {
          if (!this.valid[b * S + s]) mask[row + s] = MASKED;
          else if (qPos >= 0 && this.textPos[b * S + s]! >= 0) textDistance[row + s] = qPos - this.textPos[b * S + s]!;
        }
        for (let k = 0; k < n; k++) {
          if (!chunkValid[b * n + k] || (chunkPos && k > q)) mask[row + S + k] = MASKED;
          else if (qPos >= 0) textDistance[row + S + k] = qPos - chunkPos![b * n + k]!;
        }
      }
    }
    return { mask, textDistance };
  }

  /** Writes the chunk's keys/values ([B, H, n, Dh] per layer) at slots used..used+n-1; `chunkPos` as in chunkAttention. */
  append(n: number, chunkValid: Uint8Array, chunkPos: Int32Array | null, newKv: (layer: number) => [Float32Array, Float32Array]): void {
    if (this.used + n > this.slots) throw new Error(`kv cache overflow: ${this.used} + ${n} > ${this.slots} slots`);
    const { heads: H, headDim: Dh, slots: S } = this;
    for (let l = 0; l < this.layers; l++) {
      const [k, v] = newKv(l);
      for (let b = 0; b < this.batch; b++) {
        for (let h = 0; h < H; h++) {
          const src = (b * H + h) * n * Dh;
          this.values[l]!.set(v.subarray(src, src + n * Dh), ((b * H + h) * S + this.used) * Dh);
          const keys = this.keys[l]!;
          const kBase = (b * H + h) * Dh * S + this.used;
          for (let i = 0; i < n; i++) for (let d = 0; d < Dh; d++) keys[kBase + d * S + i] = k[src + i * Dh + d]!;
        }
      }
    }
    for (let b = 0; b < this.batch; b++) {
      for (let i = 0; i < n; i++) {
        this.valid[b * S + this.used + i] = chunkValid[b * n + i]!;
        this.textPos[b * S + this.used + i] = chunkPos ? chunkPos[b * n + i]! : -1;
      }
    }
    this.used += n;
  }

  /** A cache holding only the given rows (in that order), for dropping finished rows. */
  compact(rows: number[]): KvCache {
    const c = new KvCache(rows.length, this.layers, this.heads, this.headDim, this.slots);
    const per = this.heads * this.slots * this.headDim;
    for (let l = 0; l < this.layers; l++) {
      rows.forEach((r, i) => {
        c.keys[l]!.set(this.keys[l]!.subarray(r * per, (r + 1) * per), i * per);
        c.values[l]!.set(this.values[l]!.subarray(r * per, (r + 1) * per), i * per);
      });
    }
    rows.forEach((r, i) => {
      c.valid.set(this.valid.subarray(r * this.slots, (r + 1) * this.slots), i * this.slots);
      c.textPos.set(this.textPos.subarray(r * this.slots, (r + 1) * this.slots), i * this.slots);
    });
    c.used = this.used;
    return c;
  }
}
