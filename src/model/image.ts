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

/**
 * Resizes by area averaging: each output pixel is the mean of the source area it covers
 * (fractional pixels weighted by coverage), so downscaling does not alias thin strokes the
 * way sampling would. Upscaling degrades to nearest/linear blends. A same-size image is
 * returned as is, so exact-size inputs are bit-identical to what the model was trained on.
 */
export function resizeArea(img: RgbLike, width: number, height: number): RgbLike {
  if (img.width === width && img.height === height) return img;
  if (!(width > 0 && height > 0 && Number.isInteger(width) && Number.isInteger(height))) throw new Error(`resize: bad target size ${width}x${height}`);
  // Separable: rows first (to width), then columns (to height), in float.
  const xw = coverage(img.width, width);
  const yw = coverage(img.height, height);
  const tmp = new Float32Array(width * img.height * 3);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < width; x++) {
      let r = 0, g = 0, b = 0;
      for (const [sx, w] of xw[x]!) {
        const s = (y * img.width + sx) * 3;
        r += img.data[s]! * w; g += img.data[s + 1]! * w; b += img.data[s + 2]! * w;
      }
      const o = (y * width + x) * 3;
      tmp[o] = r; tmp[o + 1] = g; tmp[o + 2] = b;
    }
  }
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let r = 0, g = 0, b = 0;
      for (const [sy, w] of yw[y]!) {
        const s = (sy * width + x) * 3;
        r += tmp[s]! * w; g += tmp[s + 1]! * w; b += tmp[s + 2]! * w;
      }
      const o = (y * width + x) * 3;
      out[o] = Math.round(r); out[o + 1] = Math.round(g); out[o + 2] = Math.round(b);
    }
  }
  return { width, height, data: out };
}

/** For each of `to` output cells: the source indices it overlaps and their weights (summing to 1). */
function coverage(from: number, to: number): [number, number][][] {
  const scale = from / to;
  return Array.from({ length: to }, (_, i) => {
    const a = i * scale, b = (i + 1) * scale;
    const cells: [number, number][] = [];
    for (let s = Math.floor(a); s < Math.min(from, Math.ceil(b)); s++) {
      const w = Math.min(b, s + 1) - Math.max(a, s);
      if (w > 1e-9) cells.push([s, w / scale]);
    }
    return cells;
  });
}
