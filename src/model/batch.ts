// The one packer of model rows into host tensors. A row is an image and a token text
// [<bos>, prompt..., response...]; a batch is the rows right-padded to a bucketed text
// length T:
//   patches [B, N, P]          ids [B, T]: text[t]          targets [B, T]: text[t+1]
//   mask [B, T]: 1 where the target is a response token (position responseFrom-1 on)
//   extras [B, T]: per-response-token values (advantages, old log-probs, ...) written at
//                  the position whose target is that token, 0 elsewhere.
// Scoring (model/policy.ts), the RL update and SFT all pack through here; the layout form
// (the image re-inserted mid-text, for re-grounding) wraps model/layout.ts the same way.
import type { HostTensor } from '../engine/runtime.js';
import { numPatches, patchDim, type VlmConfig } from './config.js';
import { buildLayouts, type LayoutRow } from './layout.js';

export type Feeds = Record<string, HostTensor>;

/** Text lengths are padded up to a multiple of this, so few distinct graphs get compiled. */
export const LENGTH_BUCKET = 16;
export const roundUp = (n: number, k = LENGTH_BUCKET) => Math.max(k, Math.ceil(n / k) * k);

export interface TextRow {
  /** Patch vectors of the row's image, [N * patchDim] (see model/image.ts). */
  patches: Float32Array;
  /** Token ids [<bos>, prompt..., response...]. */
  text: readonly number[];
  /** Index in `text` of the first response token: the loss covers targets text[responseFrom..]. */
  responseFrom: number;
  /** Per-response-token values by feed name (see PackOptions.extras); null or absent: zeros. */
  extras?: Record<string, ArrayLike<number> | null | undefined>;
}

export interface PackOptions {
  /** The per-token feeds to build from the rows' `extras` (float32 [B, T]). */
  extras?: readonly string[];
  /** Names the packer in the error when the text is longer than the model's maxText. */
  label?: string;
}

export interface PackedBatch {
  B: number;
  T: number;
  /** Number of response (loss) tokens. */
  tokens: number;
  /** patches, ids, targets, mask and the requested extras. */
  feeds: Feeds;
}

/** Patch vectors of every row, [B, N, P]. */
export function packPatches(rows: readonly { patches: Float32Array }[], cfg: VlmConfig): HostTensor {
  const N = numPatches(cfg);
  const P = patchDim(cfg);
  const data = new Float32Array(rows.length * N * P);
  rows.forEach((r, b) => data.set(r.patches, b * N * P));
  return { data, shape: [rows.length, N, P] };
}

/** Packs rows into padded [B, T] ids / targets / mask (+ extras); position t predicts text[t+1]. */
export function packRows(rows: readonly TextRow[], cfg: VlmConfig, opts: PackOptions = {}): PackedBatch {
  const B = rows.length;
  const T = roundUp(Math.max(...rows.map((r) => r.text.length - 1)));
  if (T > cfg.maxText) throw new Error(`${opts.label ?? 'batch'}: ${T} text tokens exceed maxText ${cfg.maxText}`);
  const ids = new BigInt64Array(B * T);
  const targets = new BigInt64Array(B * T);
  const mask = new Float32Array(B * T);
  const names = opts.extras ?? [];
  const extras = names.map(() => new Float32Array(B * T));
  let tokens = 0;
  rows.forEach((r, b) => {
    for (let t = 0; t < r.text.length - 1; t++) { ids[b * T + t] = BigInt(r.text[t]!); targets[b * T + t] = BigInt(r.text[t + 1]!); }
    const p0 = r.responseFrom - 1; // the position whose target is the first response token
    const n = r.text.length - r.responseFrom;
    for (let i = 0; i < n; i++) { mask[b * T + p0 + i] = 1; tokens++; }
    names.forEach((name, k) => {
      const v = r.extras?.[name];
      if (!v) return;
      if (v.length < n) throw new Error(`${opts.label ?? 'batch'}: row ${b} has ${v.length} "${name}" values for ${n} response tokens`);
      for (let i = 0; i < n; i++) extras[k]![b * T + p0 + i] = v[i]!;
    });
  });
  const feeds: Feeds = {
    patches: packPatches(rows, cfg),
    ids: { data: ids, shape: [B, T] },
    targets: { data: targets, shape: [B, T] },
    mask: { data: mask, shape: [B, T] },
  };
  names.forEach((name, k) => { feeds[name] = { data: extras[k]!, shape: [B, T] }; });
  return { B, T, tokens, feeds };
}

export interface PackedLayoutBatch extends PackedBatch {
  /** Sequence length (image blocks + text) of the layout. */
  L: number;
}

/**
 * Packs rows in the layout form (model/layout.ts): patches, ids [B, T], order [B, L],
 * bias and textDistance [B, 1, L, L], targets and mask [B, L].
 */
export function packLayoutRows(rows: readonly (LayoutRow & { patches: Float32Array })[], cfg: VlmConfig, bucket: (n: number) => number, opts: { weightFeed?: string } = {}): PackedLayoutBatch {
  const lay = buildLayouts(rows, cfg, bucket);
  const B = rows.length;
  const weights = opts.weightFeed ? { [opts.weightFeed]: { data: lay.weight, shape: [B, lay.L] } } : {};
  return {
    B, T: lay.T, L: lay.L, tokens: lay.tokens,
    feeds: {
      patches: packPatches(rows, cfg),
      ids: { data: lay.ids, shape: [B, lay.T] },
      order: { data: lay.order, shape: [B, lay.L] },
      bias: { data: lay.bias, shape: [B, 1, lay.L, lay.L] },
      textDistance: { data: lay.textDistance, shape: [B, 1, lay.L, lay.L] },
      targets: { data: lay.targets, shape: [B, lay.L] },
      mask: { data: lay.mask, shape: [B, lay.L] },
      ...weights,
    },
  };
}
