// The compact vision-language transformer, read top to bottom:
//   image [B, N, P] --linear + row/col embeddings--> N prefix tokens
//   text ids [B, T] --token embeddings--> T tokens (no position embeddings: see ALiBi below)
//   pre-LN transformer blocks (full attention inside the image prefix, causal over text)
//   final LayerNorm -> logits over the vocabulary.
// Two ways to run the same weights: `forwardFull` over a whole sequence (training and
// scoring) and `forwardChunk` over a chunk of new tokens against a KV cache (sampling,
// and re-inserting the image mid-sequence for visual re-grounding).
import * as o from '../engine/ops.js';
import { attend, layerNorm, linear, mergeHeads, mlp, qkv, splitHeads } from '../engine/nn/layers.js';
import type { ParamScope } from '../engine/params.js';
import type { Dim, Tensor } from '../engine/tensor.js';
import { numPatches, patchDim, patchesPerSide, type VlmConfig } from './config.js';
import { SHIFT_TOKENS, shiftedIds } from './token-shift.js';

const residStd = (c: VlmConfig) => 0.02 / Math.sqrt(2 * c.layers);

/** Image patches [B, N, P] -> tokens [B, N, D] with 2-D (row + column) position embeddings. */
export function embedImage(p: ParamScope, c: VlmConfig, patches: Tensor): Tensor {
  const side = patchesPerSide(c);
  const rows = o.constant(Array.from({ length: side * side }, (_, i) => Math.floor(i / side)), [side * side], 'int64');
  const cols = o.constant(Array.from({ length: side * side }, (_, i) => i % side), [side * side], 'int64');
  const proj = linear(p.child('patch'), patches, patchDim(c), c.dim);
  let pos = o.add(
    o.gather(p.param('row', [side, c.dim], { kind: 'normal', std: 0.02 }, false), rows),
    o.gather(p.param('col', [side, c.dim], { kind: 'normal', std: 0.02 }, false), cols),
  );
  if (c.cellEmbed === 1) {
    const cells = o.constant(Array.from({ length: side * side }, (_, i) => i), [side * side], 'int64');
    pos = o.add(pos, o.gather(p.param('cell', [side * side, c.dim], { kind: 'normal', std: 0.02 }, false), cells));
  }
  return o.add(proj, pos);
}

/**
 * Text ids [B, T] -> tokens [B, T, D]. Text order enters attention only through ALiBi.
 * With model.tokenShift, each token also adds learned embeddings of the SHIFT_TOKENS text
 * tokens before it (token-shift.ts says why); `predecessors` gives their ids, [B, T] each,
 * nearest first, and defaults to `ids` itself shifted (a sequence that starts its text).
 */
export function embedText(p: ParamScope, c: VlmConfig, ids: Tensor, predecessors?: Tensor[]): Tensor {
  let x = o.gather(p.param('tok', [c.vocab, c.dim], { kind: 'normal', std: 0.02 }), ids);
  if (c.tokenShift === 1) {
    (predecessors ?? shiftedIds(ids)).forEach((prev, k) => {
      x = o.add(x, o.gather(p.param(`tokPrev${k + 1}`, [c.vocab, c.dim], { kind: 'normal', std: 0.02 }), prev));
    });
  }
  return x;
}

// Text positions are ALiBi (Press et al., 2022): a text query at text position i attending
// to a text key at position j gets -m_h · (i - j) added to its score, with one slope m_h
// per head. Nothing is learned per position, so chains longer than any seen in SFT get
// the same kind of attention pattern (long horizons are the point of the benchmark).
// Image tokens carry no text position: attention to and from them is distance-free, so
// the image is equally reachable from every step, including where it is re-inserted.

/** ALiBi slopes 2^(-8(h+1)/H), the geometric sequence of the paper, for H heads. */
export function alibiSlopes(heads: number): number[] {
  return Array.from({ length: heads }, (_, h) => 2 ** (-8 * (h + 1) / heads));
}

/**
 * Per-head attention bias [.., H, Lq, Lk] from a mask [.., 1, Lq, Lk] (0 or -1e9) and the
 * text distances [.., 1, Lq, Lk] (query text position − key text position; 0 wherever
 * either side is an image token or the pair is masked).
 */
export function alibiBias(c: VlmConfig, mask: Tensor, textDistance: Tensor): Tensor {
  const slopes = o.constant(alibiSlopes(c.heads).map((m) => -m), [1, c.heads, 1, 1]);
  return o.add(mask, o.mul(textDistance, slopes));
}

// Cell addressing (model.cellAddress, issue 22). A step that names a cell ("R 24 w", "rc@r2")
// must attend to that cell's patch: a lookup by a name in the text. The probes showed a
// compact model does not learn it through keys (row/column embeddings enter the residual,
// where the patch content dwarfs them): every probe read 0 of 16 grid walls. With
// cellAddress, every image token carries a fixed code, one-hot row then one-hot column
// (2·side numbers, zero for text tokens), and each query adds `address · code` to its
// attention scores, where `address` [B, H, Lq, 2·side] is a learned linear map of the
// query's normed input. A query that has gathered "row 2, column 4" from its text can then
// score the cell's patch up by a row term plus a column term, independent of its content.

/** Per-token row and column of the image cell it shows (-1 for text), as [.., 1, 1, L] each. */
export interface CellIndex { row: Tensor; col: Tensor }

/** The tokens' cell codes, transposed: [.., 1, 2·side, L] (one-hot row, one-hot column; 0 for text). */
export function cellCodes(c: VlmConfig, cells: CellIndex): Tensor {
  const side = patchesPerSide(c);
  const range = o.constant(Array.from({ length: side }, (_, i) => i), [side, 1]);
  const oneHot = (idx: Tensor) => o.cast(o.equal(idx, range), 'float32');
  return o.concat([oneHot(cells.row), oneHot(cells.col)], -2);
}

/** Attention bias [B, H, Lq, Lk] from the queries' addresses and the keys' cell codes. */
export function cellAddressBias(address: Tensor, codes: Tensor): Tensor {
  return o.matmul(address, codes);
}

/**
 * Cell codes [B, 1, 2·side, S] of KV-cache slots from the cache's per-slot feeds [B, 1, 1, S]:
 * an image slot keeps its patch index in `slotPos` (kv-cache.ts), a text slot has none.
 */
export function slotCellCodes(c: VlmConfig, slotPos: Tensor, slotIsText: Tensor): Tensor {
  const side = patchesPerSide(c), N = numPatches(c);
  // Cell N is "no cell" (a zero row of the table): text slots.
  const cell = o.cast(o.where(o.greater(slotIsText, 0.5), N, slotPos), 'int64');
  const table = Array.from({ length: N + 1 }, (_, i) => Array.from({ length: 2 * side }, (_, j) => (i < N && (j < side ? Math.floor(i / side) === j : i % side === j - side) ? 1 : 0))).flat();
  // A Gather of the table's rows: the one-hot matmul it replaces picked the same rows exactly
  // (one product by 1, the rest by 0) but built a [B, 1, 1, S, N+1] one-hot every step,
  // 0.15 of a 1.4 ms decode step at batch 8, 160 slots (docs/engine/fused-kernels.md).
  const codes = o.gather(o.constant(table, [N + 1, 2 * side]), cell); // [B, 1, 1, S, 2·side]
  return o.transpose(o.reshape(codes, [slotPos.shape[0]!, 1, slotPos.shape[3]!, 2 * side]), [0, 1, 3, 2]);
}

/** Cell index of the image prefix (N tokens) followed by T text tokens, as constants. */
export function prefixCells(c: VlmConfig, T: number): CellIndex {
  const side = patchesPerSide(c), N = numPatches(c);
  const of = (f: (i: number) => number) => o.constant(Array.from({ length: N + T }, (_, i) => (i < N ? f(i) : -1)), [1, 1, 1, N + T]);
  return { row: of((i) => Math.floor(i / side)), col: of((i) => i % side) };
}

/**
 * How a graph is built. `fused`: single onnxruntime kernels (LayerNormalization, BiasGelu)
 * where the plain form spells them out in small ops; the same function to float rounding,
 * with no gradient, so for inference graphs only (prefill, decode, scoring); training graphs
 * are plain. Attention stays spelled out: onnxruntime's MultiHeadAttention and
 * GroupQueryAttention measured slower on these shapes (docs/engine/fused-kernels.md).
 */
export interface GraphOptions { fused?: boolean }

/**
 * `address` [B, H, Lq, 2·side] when the model has cellAddress: each query's learned scores
 * for the image rows and columns (see cellAddressBias); null otherwise.
 */
type Attention = (layer: number, q: Tensor, k: Tensor, v: Tensor, address: Tensor | null) => Tensor;

/** The transformer trunk; `attention` decides what each query may see. */
function trunk(p: ParamScope, c: VlmConfig, x: Tensor, attention: Attention, { fused = false }: GraphOptions = {}): Tensor {
  for (let l = 0; l < c.layers; l++) {
    const b = p.child(`h${l}`);
    const h = layerNorm(b.child('ln1'), x, c.dim, 1e-5, fused);
    const [q, k, v] = qkv(b.child('attn'), h, c.dim, c.heads);
    const address = c.cellAddress === 1 ? splitHeads(linear(b.child('attn').child('address'), h, c.dim, c.heads * 2 * patchesPerSide(c), { bias: false }), c.heads, 2 * patchesPerSide(c)) : null;
    const y = linear(b.child('attn').child('proj'), mergeHeads(attention(l, q, k, v, address), c.dim), c.dim, c.dim, { std: residStd(c) });
    x = o.add(x, y);
    x = o.add(x, mlp(b.child('mlp'), layerNorm(b.child('ln2'), x, c.dim, 1e-5, fused), c.dim, c.mlpRatio * c.dim, residStd(c), fused));
  }
  return layerNorm(p.child('lnf'), x, c.dim, 1e-5, fused);
}

export function lmHead(p: ParamScope, c: VlmConfig, h: Tensor): Tensor {
  return linear(p.child('head'), h, c.dim, c.vocab, { bias: false });
}

/** Attention bias [1, H, L, L] for an image prefix of N tokens followed by L-N text tokens. */
export function prefixLmBias(c: VlmConfig, n: number, L: number): Tensor {
  const mask = new Float32Array(L * L);
  const dist = new Float32Array(L * L);
  for (let q = 0; q < L; q++) {
    for (let k = 0; k < L; k++) {
      if (k > q && !(q < n && k < n)) mask[q * L + k] = -1e9;
      else if (q >= n && k >= n) dist[q * L + k] = q - k;
    }
  }
  return alibiBias(c, o.constant(mask, [1, 1, L, L]), o.constant(dist, [1, 1, L, L]));
}

/**
 * Whole-sequence forward: image prefix then T text tokens (right-padded; padding is never
 * attended by real tokens because it comes after them). Returns text logits [B, T, V]:
 * logits[:, t] predicts text token t+1.
 */
export function forwardFull(p: ParamScope, c: VlmConfig, patches: Tensor, ids: Tensor, opts: GraphOptions = {}): Tensor {
  const T = ids.shape[1];
  if (typeof T !== 'number') throw new Error('forwardFull: text length must be static');
  if (T > c.maxText) throw new Error(`forwardFull: ${T} text tokens exceed maxText ${c.maxText}`);
  const N = numPatches(c);
  const x = o.concat([embedImage(p, c, patches), embedText(p, c, ids)], 1);
  const bias = prefixLmBias(c, N, N + T);
  const codes = c.cellAddress === 1 ? cellCodes(c, prefixCells(c, T)) : null;
  const h = trunk(p, c, x, (_l, q, k, v, address) => attend(q, k, v, address && codes ? o.add(bias, cellAddressBias(address, codes)) : bias), opts);
  return lmHead(p, c, o.slice(h, 1, N, N + T));
}

export interface ChunkGraph {
  /** Logits at the chunk's last position [B, V]. */
  logits: Tensor;
  /** New keys and values per layer, [B, H, n, Dh], for the host to write into its cache. */
  newKeys: Tensor[];
  newValues: Tensor[];
}

/** What a chunk may attend to: the cache (per slot) and itself. */
export interface ChunkAttention {
  /** Bias [B, 1|H, n, S] over the cache slots (mask plus ALiBi; see alibiBias). */
  cache: Tensor;
  /** Bias [B, 1|H, n, n] inside the chunk. */
  chunk: Tensor;
  /** With cellAddress: the cell codes (cellCodes) of the cache slots, [B, 1, 2·side, S]. */
  cacheCodes?: Tensor;
  /** With cellAddress, for a chunk that is an image: its cell codes [.., 1, 2·side, n] (a text chunk has none). */
  chunkCodes?: Tensor;
  /** A context shared by groups of rows, attended once per group (see SharedContext). */
  shared?: SharedContext;
}

/**
 * Keys and values of a context that groups of rows share (a GRPO group: one image and prompt,
 * several samples), held once per group: decoding one token per row, the B = G·R rows' queries
 * are regrouped [G, H, R, Dh] and each group's R queries read its context in one product,
 * instead of every row reading its own copy (model/shared-context.ts has the host side).
 */
export interface SharedContext {
  groups: number;
  rowsPerGroup: number;
  /** Per layer, [G, H, P, Dh]. */
  keys: Tensor[];
  values: Tensor[];
  /** Bias [G, 1|H, R, P] of each row's query over its group's context (mask plus ALiBi). */
  bias: Tensor;
  /** With cellAddress: the context slots' cell codes [G, 1, 2·side, P]. */
  codes?: Tensor;
}

/** [B, H, 1, k] rows -> [G, H, R, k] groups, for B = G·R rows in group order (one token per row). */
function toGroups(x: Tensor, g: SharedContext): Tensor {
  return o.transpose(o.reshape(x, [g.groups, g.rowsPerGroup, x.shape[1]!, x.shape[3]!]), [0, 2, 1, 3]);
}

/** [G, H, R, k] groups -> [B, H, 1, k] rows: the inverse of toGroups. */
function toRows(x: Tensor, g: SharedContext): Tensor {
  return o.reshape(o.transpose(x, [0, 2, 1, 3]), [g.groups * g.rowsPerGroup, x.shape[1]!, 1, x.shape[3]!]);
}

/**
 * A chunk of n new tokens (already embedded, [B, n, D]) attending to a KV cache of S slots
 * per layer (inputs `k{l}` and `v{l}` [B, H, S, Dh], S symbolic so one graph serves every
 * cache length), to itself, and (decoding with `bias.shared`) to its group's shared context.
 */
export function forwardChunk(p: ParamScope, c: VlmConfig, x: Tensor, bias: ChunkAttention, opts: GraphOptions = {}): ChunkGraph {
  const hd = c.dim / c.heads;
  const rows = x.shape[0]!;
  const shared = bias.shared;
  if (shared && x.shape[1] !== 1) throw new Error('forwardChunk: a shared context is read one token per row (decoding)');
  const newKeys: Tensor[] = [];
  const newValues: Tensor[] = [];
  const h = trunk(p, c, x, (l, q, k, v, address) => {
    newKeys.push(k);
    newValues.push(v);
    const kc = o.input(`k${l}`, [rows, c.heads, 'S', hd]);
    const vc = o.input(`v${l}`, [rows, c.heads, 'S', hd]);
    if (address && !bias.cacheCodes) throw new Error('forwardChunk: a cellAddress model needs the cache slots\' cell codes');
    const addressed = (scores: Tensor, codes: Tensor | undefined, addr = address) => (addr && codes ? o.add(scores, cellAddressBias(addr, codes)) : scores);
    // The 1/√Dh scale goes on the queries, as a vector: onnxruntime folds a scalar scale of a
    // MatMul into its alpha, and with alpha ≠ 1 its one-row product against the transposed
    // cache packs the keys first instead of streaming them (0.67 vs 0.47 ms per layer at 320
    // slots, batch 64, measured; docs/engine/fused-kernels.md).
    const qs = o.mul(q, o.constant(new Float32Array(hd).fill(1 / Math.sqrt(hd)), [hd]));
    // Each source of keys: its scores, its values, and whether it is laid out by group.
    const sources = [
      { scores: addressed(o.add(o.matmul(qs, o.transpose(kc)), bias.cache), bias.cacheCodes), values: vc, grouped: false },
      { scores: addressed(o.add(o.matmul(qs, o.transpose(k)), bias.chunk), bias.chunkCodes), values: v, grouped: false },
    ];
    if (shared) {
      const scores = o.add(o.matmul(toGroups(qs, shared), o.transpose(shared.keys[l]!)), shared.bias);
      sources.push({ scores: addressed(scores, shared.codes, address && toGroups(address, shared)), values: shared.values[l]!, grouped: true });
    }
    // One softmax over every source (the cache is never concatenated with the chunk: that
    // would copy it every step), max-subtracted over all of them.
    const rowsOf = (t: Tensor, grouped: boolean) => (grouped && shared ? toRows(t, shared) : t);
    const m = sources.map((src) => rowsOf(o.max(src.scores, -1, true), src.grouped)).reduce((a, b) => o.where(o.greater(a, b), a, b));
    let num: Tensor | null = null;
    let den: Tensor | null = null;
    for (const src of sources) {
      const e = o.exp(o.sub(src.scores, src.grouped && shared ? toGroups(m, shared) : m));
      const z = rowsOf(o.sum(e, -1, true), src.grouped);
      const y = rowsOf(o.matmul(e, src.values), src.grouped);
      den = den ? o.add(den, z) : z;
      num = num ? o.add(num, y) : y;
    }
    return o.div(num!, den!);
  }, opts);
  const n = x.shape[1] as number;
  const last = o.reshape(o.slice(h, 1, n - 1, n), [x.shape[0]!, c.dim]);
  return { logits: lmHead(p, c, last), newKeys, newValues };
}

/**
 * Forward over an arbitrary per-row layout of image and text tokens, e.g. with the image
 * re-inserted between two reasoning steps (what the Re-Reasoning Loop's re-grounding shows
 * the policy). `order` [B, L] picks, for every sequence position, a token from the pool
 * [image patches 0..N-1, text tokens N..N+T-1] (an image can be picked twice); `mask`
 * [B, 1, L, L] is each row's attention mask and `textDistance` its ALiBi distances, where
 * text positions are the text index (images do not advance them), exactly as during
 * KV-cached generation. Returns logits [B, L, V].
 */
export function forwardLayout(p: ParamScope, c: VlmConfig, patches: Tensor, ids: Tensor, order: Tensor, mask: Tensor, textDistance: Tensor, opts: GraphOptions = {}): Tensor {
  const T = ids.shape[1];
  if (typeof T !== 'number') throw new Error('forwardLayout: text length must be static');
  const N = numPatches(c);
  const pool = o.concat([embedImage(p, c, patches), embedText(p, c, ids)], 1);
  // A one-hot matmul is the per-row gather (and its gradient the scatter-add) in one op.
  const x = o.matmul(o.oneHot(order, N + T), pool);
  const bias = alibiBias(c, mask, textDistance);
  let codes: Tensor | null = null;
  if (c.cellAddress === 1) {
    // Each position's cell is its pool entry's: gather the prefix's cell table by `order`.
    const table = prefixCells(c, T);
    const pick = (t: Tensor) => o.reshape(o.gather(o.reshape(t, [N + T]), order), [order.shape[0]!, 1, 1, order.shape[1]!]);
    codes = cellCodes(c, { row: pick(table.row), col: pick(table.col) });
  }
  const h = trunk(p, c, x, (_l, q, k, v, address) => attend(q, k, v, address && codes ? o.add(bias, cellAddressBias(address, codes)) : bias), opts);
  return lmHead(p, c, h);
}

/** Groups of rows that decode against a shared context (SharedContext): G groups of R rows. */
export interface RowGroups { groups: number; rowsPerGroup: number }

/**
 * The outputs of a chunk graph as the policy runs it (KV-cached prefill and decoding): n text
 * tokens or the image against a cache of any length (its slot dim is symbolic). Inputs: the
 * chunk (`ids` [B, n], with token shift `prev1`.. [B, n]; or `patches`), the cache (`k{l}`,
 * `v{l}`, per slot `slotMask`, `slotPos`, `slotIsText` [B, 1, 1, S]; kv-cache.ts), `queryPos`
 * [B, 1, n, 1] for text, `chunkMask` and `chunkDistance` [B, 1, n, n]. Text queries get ALiBi
 * distances to the cache's text slots, computed from the per-slot positions; image queries
 * are distance-free. With `groups` (one text token per row, B = G·R static), also a shared
 * context: `shared.k{l}`, `shared.v{l}` [G, H, P, Dh] and its per-slot feeds `shared.slotMask`,
 * `shared.slotPos`, `shared.slotIsText` [G, 1, 1, P]. Outputs: `logits` and each layer's
 * `k{l}.new`, `v{l}.new` (the rows' own new keys and values).
 */
export function chunkGraphOutputs(p: ParamScope, c: VlmConfig, kind: 'text' | 'image', n: number, opts: GraphOptions = {}, groups?: RowGroups): Record<string, Tensor> {
  if (groups && (kind !== 'text' || n !== 1)) throw new Error('chunkGraphOutputs: a shared context is read by one text token per row');
  const B: Dim = groups ? groups.groups * groups.rowsPerGroup : 'B';
  const inputs = new Map<string, Tensor>();
  const perSlot = (name: string, rows: Dim = B, slots = 'S') => inputs.get(name) ?? inputs.set(name, o.input(name, [rows, 1, 1, slots])).get(name)!;
  const x = kind === 'image'
    ? embedImage(p, c, o.input('patches', [B, numPatches(c), patchDim(c)]))
    : embedText(p, c, o.input('ids', [B, n], 'int64'), c.tokenShift === 1 ? Array.from({ length: SHIFT_TOKENS }, (_, k) => o.input(`prev${k + 1}`, [B, n], 'int64')) : undefined);
  const address = c.cellAddress === 1;
  const queryPos = kind === 'text' ? o.input('queryPos', [B, 1, n, 1]) : null;
  const bias: ChunkAttention = {
    cache: queryPos ? alibiBias(c, perSlot('slotMask'), o.mul(o.sub(queryPos, perSlot('slotPos')), perSlot('slotIsText'))) : perSlot('slotMask'),
    chunk: alibiBias(c, o.input('chunkMask', [B, 1, n, n]), o.input('chunkDistance', [B, 1, n, n])),
    ...(address ? { cacheCodes: slotCellCodes(c, perSlot('slotPos'), perSlot('slotIsText')) } : {}),
    ...(address && kind === 'image' ? { chunkCodes: cellCodes(c, prefixCells(c, 0)) } : {}),
  };
  if (groups && queryPos) {
    const { groups: G, rowsPerGroup: R } = groups;
    const hd = c.dim / c.heads;
    const ctx = (name: string) => perSlot(`shared.${name}`, G, 'P');
    // Each row's text distance to its group's context slots: [G, 1, R, P].
    const distance = o.mul(o.sub(o.reshape(queryPos, [G, 1, R, 1]), ctx('slotPos')), ctx('slotIsText'));
    bias.shared = {
      groups: G, rowsPerGroup: R,
      keys: Array.from({ length: c.layers }, (_, l) => o.input(`shared.k${l}`, [G, c.heads, 'P', hd])),
      values: Array.from({ length: c.layers }, (_, l) => o.input(`shared.v${l}`, [G, c.heads, 'P', hd])),
      bias: alibiBias(c, ctx('slotMask'), distance),
      ...(address ? { codes: slotCellCodes(c, ctx('slotPos'), ctx('slotIsText')) } : {}),
    };
  }
  const r = forwardChunk(p, c, x, bias, opts);
  const outs: Record<string, Tensor> = { logits: r.logits };
  r.newKeys.forEach((k, l) => { outs[`k${l}.new`] = k; outs[`v${l}.new`] = r.newValues[l]!; });
  return outs;
}
