// Rows that share their whole context decode against one copy of it. A GRPO group is one
// image and prompt sampled R times, and a benchmark batch is often one context B times: such
// rows are prefilled once per group, and while every row is decoding, each group's R queries
// read the group's keys and values in one product (vlm.ts SharedContext) instead of every row
// reading its own copy. Each row keeps its own cache for what it generates (the suffix).
//
// Rows finish unevenly, so once the batch is compacted (model/decode.ts compaction) the shared
// layout ends: `joinContext` gives each kept row a flat cache, its group's context followed by
// its own suffix, and decoding goes on exactly as for rows that never shared.
import type { GenerateRequest } from './decode.js';
import { CACHE_BUCKET, KvCache } from './kv-cache.js';
import type { RowGroups } from './vlm.js';

/** Whether two rows have the same context: the same segments and the same image (by content). */
export function sameContext(a: GenerateRequest, b: GenerateRequest): boolean {
  if (a.segments.length !== b.segments.length) return false;
  const sameSegments = a.segments.every((s, i) => {
    const t = b.segments[i]!;
    if (s.kind !== t.kind) return false;
    if (s.kind === 'image' || t.kind === 'image') return true;
    return s.ids.length === t.ids.length && s.ids.every((id, j) => id === t.ids[j]);
  });
  if (!sameSegments) return false;
  if (a.patches === b.patches) return true;
  return a.patches.length === b.patches.length && a.patches.every((v, i) => Object.is(v, b.patches[i]));
}

/**
 * How the rows split into G groups of R ≥ 2 consecutive rows with the same context (image and
 * segments), or null when they do not (unequal groups, or every row its own context).
 */
export function contextGroups(reqs: readonly GenerateRequest[]): RowGroups | null {
  let R = 1;
  while (R < reqs.length && sameContext(reqs[0]!, reqs[R]!)) R++;
  if (R < 2 || reqs.length % R !== 0) return null;
  for (let g = 0; g < reqs.length; g += R) {
    for (let i = 1; i < R; i++) if (!sameContext(reqs[g]!, reqs[g + i]!)) return null;
  }
  return { groups: reqs.length / R, rowsPerGroup: R };
}

/** Each of `rows` (one value of `width` numbers per group) repeated R times, in group order. */
export function repeatRows<T extends Float32Array | Int32Array>(rows: T, width: number, R: number): T {
  const G = rows.length / width;
  const out = new (rows.constructor as new (n: number) => T)(G * R * width);
  for (let g = 0; g < G; g++) for (let r = 0; r < R; r++) out.set(rows.subarray(g * width, (g + 1) * width), (g * R + r) * width);
  return out;
}

/**
 * The suffix cache of G·R rows that decode against `context` (G rows): empty, with room for
 * what the context leaves, and each row's token-shift history taken from its group's context.
 */
export function suffixCache(context: KvCache, R: number): KvCache {
  const c = new KvCache(context.batch * R, context.layers, context.heads, context.headDim, context.capacity - context.used, undefined, context.pool);
  c.recentIds.set(repeatRows(context.recentIds, c.recentIds.length / c.batch, R));
  return c;
}

/**
 * A flat cache of the suffix rows `keep` (in that order), each holding its group's context
 * (`context` row ⌊row / R⌋) followed by its own suffix: the same slots a row that never shared
 * would have, in the same order.
 */
export function joinContext(context: KvCache, suffix: KvCache, keep: readonly number[], R: number): KvCache {
  const { layers, heads: H, headDim: Dh } = context;
  const P = context.used;
  const used = P + suffix.used;
  const slots = Math.min(context.capacity, Math.ceil(used / CACHE_BUCKET) * CACHE_BUCKET);
  const out = new KvCache(keep.length, layers, H, Dh, context.capacity, slots, context.pool);
  // Slots [0, n) of head h of a row in one of a cache's buffers (rows packed with stride `slots`).
  const headSlots = (c: KvCache, a: Float32Array, row: number, h: number, n: number) => a.subarray((row * H + h) * c.slots * Dh, ((row * H + h) * c.slots + n) * Dh);
  keep.forEach((r, i) => {
    const g = Math.floor(r / R);
    for (let l = 0; l < layers; l++) {
      for (let h = 0; h < H; h++) {
        const at = (i * H + h) * slots * Dh;
        out.keys[l]!.set(headSlots(context, context.keys[l]!, g, h, P), at);
        out.keys[l]!.set(headSlots(suffix, suffix.keys[l]!, r, h, suffix.used), at + P * Dh);
        out.values[l]!.set(headSlots(context, context.values[l]!, g, h, P), at);
        out.values[l]!.set(headSlots(suffix, suffix.values[l]!, r, h, suffix.used), at + P * Dh);
      }
    }
    for (const name of ['slotMask', 'slotPos', 'slotIsText'] as const) {
      out[name].set(context[name].subarray(g * context.slots, g * context.slots + P), i * slots);
      out[name].set(suffix[name].subarray(r * suffix.slots, r * suffix.slots + suffix.used), i * slots + P);
    }
    const w = out.recentIds.length / out.batch;
    out.recentIds.set(suffix.recentIds.subarray(r * w, (r + 1) * w), i * w);
  });
  out.used = used;
  return out;
}
