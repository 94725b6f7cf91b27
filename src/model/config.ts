// The compact VLM's configuration, validated wherever it enters (config files, checkpoints).

export interface VlmConfig {
  /** Token vocabulary size (>= the tokenizer's). */
  vocab: number;
  dim: number;
  layers: number;
  heads: number;
  mlpRatio: number;
  /** Maximum number of text tokens (prompt + response) in one sequence: the KV cache's size.
   * Positions are ALiBi, so nothing is learned per position and this can grow after training. */
  maxText: number;
  /** Square RGB input image side in pixels, and the patch side (side % patch == 0). */
  imageSize: number;
  patch: number;
  /**
   * 1 = each patch also gets its own learned embedding (one per cell of the patch grid), on top
   * of the row and column embeddings. A step that names a cell ("24") must find one patch: with
   * row + column embeddings alone that is a conjunction attention scores can only add up to;
   * a per-cell embedding makes it one feature, as a colour is (issue 22's probes). Absent = 0.
   */
  cellEmbed?: number;
  /**
   * 1 = attention can address image cells by row and column: every image token carries a fixed
   * one-hot row and column code and each query adds a learned `address · code` to its scores
   * (vlm.ts, "Cell addressing"). For steps that name a cell in text. Absent = 0.
   */
  cellAddress?: number;
  /**
   * 1 = each text token's input also carries learned embeddings of the two text tokens before
   * it (token-shift.ts), so a two-digit name is whole at its last digit. Absent = 0.
   */
  tokenShift?: number;
}

/** Optional 0/1 switches of the model config (absent = 0, and absent from saved configs). */
export const VLM_FLAGS = ['cellEmbed', 'cellAddress', 'tokenShift'] as const;

export const DEFAULT_VLM: VlmConfig = { vocab: 112, dim: 128, layers: 4, heads: 4, mlpRatio: 4, maxText: 320, imageSize: 48, patch: 8 };

export const patchesPerSide = (c: VlmConfig) => c.imageSize / c.patch;
export const numPatches = (c: VlmConfig) => patchesPerSide(c) ** 2;
export const patchDim = (c: VlmConfig) => c.patch * c.patch * 3;
/** Longest sequence the KV cache must hold: the image twice (prefix + one re-insertion) and the text. */
export const maxSequence = (c: VlmConfig) => 2 * numPatches(c) + c.maxText;

export function validateVlmConfig(raw: unknown, source: string): VlmConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${source}: model config must be an object`);
  const r = raw as Record<string, unknown>;
  const out: Record<string, number> = {};
  const known = [...Object.keys(DEFAULT_VLM), ...VLM_FLAGS];
  for (const key of Object.keys(r)) if (!known.includes(key)) throw new Error(`${source}: unknown model config key "${key}" (known: ${known.join(', ')})`);
  for (const key of Object.keys(DEFAULT_VLM) as (keyof VlmConfig)[]) {
    const v = r[key] ?? DEFAULT_VLM[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`${source}: model config key "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    out[key] = v;
  }
  for (const key of VLM_FLAGS) {
    const v = r[key];
    if (v === undefined || v === 0) continue;
    if (v !== 1) throw new Error(`${source}: model config key "${key}" must be 0 or 1, got ${JSON.stringify(v)}`);
    out[key] = 1;
  }
  const c = out as unknown as VlmConfig;
  if (c.dim % c.heads !== 0) throw new Error(`${source}: dim ${c.dim} must be divisible by heads ${c.heads}`);
  if (c.imageSize % c.patch !== 0) throw new Error(`${source}: imageSize ${c.imageSize} must be a multiple of patch ${c.patch}`);
  return c;
}
