// Host-side image preprocessing: RGB bytes -> normalised patch vectors [N, patch*patch*3]
// in row-major patch order (the order of the 2-D position embeddings).
import type { VlmConfig } from './config.js';
import { patchDim, patchesPerSide } from './config.js';

export interface RgbLike { width: number; height: number; data: Uint8Array }

export function patchify(img: RgbLike, cfg: VlmConfig, out?: Float32Array, offset = 0): Float32Array {
  if (img.width !== cfg.imageSize || img.height !== cfg.imageSize) {
    throw new Error(`image is ${img.width}x${img.height}, the model expects ${cfg.imageSize}x${cfg.imageSize}`);
  }
  const side = patchesPerSide(cfg);
  const pd = patchDim(cfg);
  const dst = out ?? new Float32Array(side * side * pd);
  for (let py = 0; py < side; py++) {
    for (let px = 0; px < side; px++) {
      let o = offset + (py * side + px) * pd;
      for (let y = 0; y < cfg.patch; y++) {
        for (let x = 0; x < cfg.patch; x++) {
          const src = ((py * cfg.patch + y) * img.width + px * cfg.patch + x) * 3;
          // Centre roughly on zero so the projection starts in a sensible range.
          dst[o++] = img.data[src]! / 127.5 - 1;
          dst[o++] = img.data[src + 1]! / 127.5 - 1;
          dst[o++] = img.data[src + 2]! / 127.5 - 1;
        }
      }
    }
  }
  return dst;
}
