// Host-side sequence layouts for forwardLayout: where the image goes (the prefix, and
// optionally again right before a chosen text position), the attention mask that matches
// KV-cached generation (full attention inside each image block, causal elsewhere), and
// the next-token targets.
import { numPatches, type VlmConfig } from './config.js';

const MASKED = -1e9;

export interface LayoutRow {
  /** Text ids: [<bos>, prompt..., response..., <eos>]. */
  text: number[];
  /** Loss on targets text[t] for t >= lossFrom (the response). */
  lossFrom: number;
  /** Re-insert the image right before text position `insertAt` (null = prefix only). */
  insertAt: number | null;
  /** Loss weight of each target text[lossFrom + i] (absent: 1), e.g. a scan's names weigh 0. */
  weights?: ArrayLike<number>;
}

export interface LayoutBatch {
  L: number;
  T: number;
  ids: BigInt64Array;
  order: BigInt64Array;
  /** Attention mask [B, 1, L, L] (0 or -1e9). */
  bias: Float32Array;
  /** ALiBi text distances [B, 1, L, L]: text query position − text key position where both are text and visible, else 0. */
  textDistance: Float32Array;
  targets: BigInt64Array;
  mask: Float32Array;
  /** Per-position loss weights [B, L] where mask is 1 (the rows' weights, else 1). */
  weight: Float32Array;
  tokens: number;
}

export function buildLayouts(rows: readonly LayoutRow[], cfg: VlmConfig, bucket: (n: number) => number): LayoutBatch {
  const N = numPatches(cfg);
  const B = rows.length;
  const T = bucket(Math.max(...rows.map((r) => r.text.length)));
  const L = bucket(Math.max(...rows.map((r) => N + r.text.length + (r.insertAt === null ? 0 : N))));
  const ids = new BigInt64Array(B * T);
  const order = new BigInt64Array(B * L);
  const bias = new Float32Array(B * L * L).fill(MASKED);
  const textDistance = new Float32Array(B * L * L);
  const targets = new BigInt64Array(B * L);
  const mask = new Float32Array(B * L);
  const weight = new Float32Array(B * L);
  let tokens = 0;
  rows.forEach((r, b) => {
    r.text.forEach((id, t) => { ids[b * T + t] = BigInt(id); });
    // seq: for each position, either ['img', patch] or ['txt', t].
    const seq: [boolean, number][] = [];
    const blocks: [number, number][] = [];
    const image = () => { blocks.push([seq.length, seq.length + N]); for (let i = 0; i < N; i++) seq.push([true, i]); };
    image();
    r.text.forEach((_, t) => { if (r.insertAt === t) image(); seq.push([false, t]); });
    seq.forEach(([isImg, i], s) => { order[b * L + s] = BigInt(isImg ? i : N + i); });
    const blockOf = (s: number) => blocks.find(([a, e]) => s >= a && s < e);
    for (let q = 0; q < seq.length; q++) {
      const qb = blockOf(q);
      const row = (b * L + q) * L;
      const [qImg, qt] = seq[q]!;
      for (let k = 0; k <= q; k++) {
        bias[row + k] = 0;
        const [kImg, kt] = seq[k]!;
        if (!qImg && !kImg) textDistance[row + k] = qt - kt;
      }
      if (qb) for (let k = qb[0]; k < qb[1]; k++) bias[row + k] = 0;
    }
    // Padding rows attend to themselves so their softmax stays finite.
    for (let q = seq.length; q < L; q++) bias[(b * L + q) * L + q] = 0;
    // Targets: the token that follows each position in generation order.
    for (let s = 0; s + 1 < seq.length; s++) {
      const [nextImg, nt] = seq[s + 1]!;
      if (nextImg) continue; // the image block that follows is given, not predicted
      targets[b * L + s] = BigInt(r.text[nt]!);
      if (nt >= r.lossFrom) { mask[b * L + s] = 1; weight[b * L + s] = r.weights?.[nt - r.lossFrom] ?? 1; tokens++; }
    }
  });
  return { L, T, ids, order, bias, textDistance, targets, mask, weight, tokens };
}
