// Token shift (model.tokenShift, issue 22): each text token's input is its own embedding plus
// learned embeddings of the SHIFT_TOKENS text tokens before it.
//
// Why: text positions are ALiBi only, and image tokens are distance-free, so a head that reads
// "the token just before me" has nothing sharp to find it by (the steepest slope, 1/4 at four
// heads, leaves the previous token a few percent of the weight next to 36 image tokens). A step
// that names a cell by two digits ("R 24 o", scans "24=w") must hold both digits in one place
// to look the cell up, and the probes learned no such lookup (scan-lookup: grid walls 0/109 with
// cell addressing, whether the content followed the name's last token or one token later),
// while lookups whose key is in the current token's own embedding (a colour) were learned.
//
// Predecessors run in text order: an image re-inserted mid-text does not break the chain (the
// first token after it sees the last text tokens before it), as in forwardLayout, where the text
// embeddings are computed over the text alone. Id 0 (<pad>) stands for "no earlier token".
import * as o from '../engine/ops.js';
import type { Tensor } from '../engine/tensor.js';

/** How many earlier text tokens a token's input carries. */
export const SHIFT_TOKENS = 2;

/** `ids` [B, T] shifted right by 1..SHIFT_TOKENS along the text, padded with 0: nearest first. */
export function shiftedIds(ids: Tensor): Tensor[] {
  const T = ids.shape[1];
  if (typeof T !== 'number') throw new Error('shiftedIds: text length must be static');
  return Array.from({ length: SHIFT_TOKENS }, (_, j) => {
    const k = j + 1;
    return k >= T ? o.sub(ids, ids) : o.padAxis(o.slice(ids, 1, 0, T - k), 1, k, 0);
  });
}

/**
 * Host side, for a chunk of n text tokens [B, n] (left-padded: `valid` marks real tokens)
 * written after earlier text: the predecessor ids of every chunk position, nearest first,
 * [B, n] each. `recent` [B, SHIFT_TOKENS] holds each row's last text ids before the chunk,
 * oldest first (0 = none); it is advanced past the chunk's real tokens in place.
 */
export function chunkPredecessors(recent: Int32Array, ids: BigInt64Array, n: number, valid: Uint8Array): BigInt64Array[] {
  const B = recent.length / SHIFT_TOKENS;
  const out = Array.from({ length: SHIFT_TOKENS }, () => new BigInt64Array(B * n));
  for (let b = 0; b < B; b++) {
    const hist = Array.from(recent.subarray(b * SHIFT_TOKENS, (b + 1) * SHIFT_TOKENS)); // oldest first
    for (let i = 0; i < n; i++) {
      for (let k = 1; k <= SHIFT_TOKENS; k++) out[k - 1]![b * n + i] = BigInt(hist[hist.length - k]!);
      if (valid[b * n + i]) { hist.shift(); hist.push(Number(ids[b * n + i]!)); }
    }
    recent.set(hist, b * SHIFT_TOKENS);
  }
  return out;
}
