// Terminal renderings: the family's symbolic view of a scene, and a generic raster view.
import type { Instance, RgbImage } from './types.js';
import { getFamily } from './registry.js';

/** The family's text rendering of an instance's scene (walls / objects / bars). */
export function asciiRender(inst: Instance): string {
  return getFamily(inst.family).ascii(inst);
}

const RAMP = '@%#*+=-:. '; // dark → light

/** Any RGB image as characters by luminance, one character per pixel (scaled down by `step`). */
export function asciiRaster(img: RgbImage, step = 1): string {
  const lines: string[] = [];
  for (let y = 0; y < img.height; y += step) {
    let line = '';
    for (let x = 0; x < img.width; x += step) {
      const o = (y * img.width + x) * 3;
      const lum = 0.299 * img.data[o]! + 0.587 * img.data[o + 1]! + 0.114 * img.data[o + 2]!;
      line += RAMP[Math.min(RAMP.length - 1, Math.floor((lum / 256) * RAMP.length))];
    }
    lines.push(line);
  }
  return lines.join('\n');
}
