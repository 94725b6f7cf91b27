// An instance's two images: one rendering at two sizes. The family draws the 48×48 image
// (one 8×8 patch per cell / object / bar slot); the 384×384 image for external VLMs, the
// exports and `ivr serve` is that image scaled ×8 by nearest neighbour, so the server's area
// resize of it gives back the 48×48 image pixel for pixel (no labels or gridlines of its
// own, which made exported images unreadable to the compact model: issue #25).
import type { Instance, RgbImage } from './types.js';
import { getFamily } from './registry.js';
import { scaleNearest } from './render/scale.js';

/** Side of the small image, and the factor from it to the large one (48 × 8 = 384). */
export const SMALL_SIZE = 48;
export const LARGE_SCALE = 8;

/** The 48×48 image of an instance (rendered from its scene). */
export function renderSmall(inst: Instance): RgbImage {
  return getFamily(inst.family).renderSmall(inst);
}

/** The 384×384 image of an instance: the small image, each pixel an 8×8 block. */
export function renderLarge(inst: Instance): RgbImage {
  return scaleNearest(renderSmall(inst), LARGE_SCALE);
}
