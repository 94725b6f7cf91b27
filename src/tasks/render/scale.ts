// Nearest-neighbour upscaling by an integer factor: every source pixel becomes a factor×factor
// block. The large task image is the small one scaled this way, so that area averaging it
// back (model/image.ts resizeArea, what the server does with any image) averages blocks of
// one colour and returns the small image exactly: the model reads the picture it learnt from.
import type { RgbImage } from '../types.js';

export function scaleNearest(img: RgbImage, factor: number): RgbImage {
  if (!Number.isInteger(factor) || factor < 1) throw new RangeError(`scaleNearest: factor must be a positive integer, got ${factor}`);
  const width = img.width * factor, height = img.height * factor;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const src = Math.floor(y / factor) * img.width;
    for (let x = 0; x < width; x++) {
      const s = (src + Math.floor(x / factor)) * 3, o = (y * width + x) * 3;
      data[o] = img.data[s]!; data[o + 1] = img.data[s + 1]!; data[o + 2] = img.data[s + 2]!;
    }
  }
  return { width, height, data };
}
