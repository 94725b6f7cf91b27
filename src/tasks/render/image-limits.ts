// Size limits for every image this project decodes (PNG task files read by `ivr eval`,
// PNG and JPEG images sent to `ivr serve`). They are checked against the header's declared
// size BEFORE any pixel data is inflated or decoded, so a small file that claims (or
// inflates to) a huge image costs nothing.
//
// Why these numbers: 16 Mpx (2^24) admits a 12 Mpx phone photo (4032x3024). Decoding an
// image at the cap peaks at about 10 bytes/px for a PNG (inflated rows, unfiltered rows,
// RGB) and 21 bytes/px for a JPEG (jpeg-js keeps 32-bit DCT coefficients), i.e. 170 MB and
// 350 MB, transient, which a server decoding one image at a time can afford. 8192 px per
// side bounds the row buffers of long, thin images under the pixel cap.

export interface ImageLimits {
  /** Largest width or height, in pixels. */
  maxSide: number;
  /** Largest width * height. */
  maxPixels: number;
}

export const IMAGE_LIMITS: Readonly<ImageLimits> = Object.freeze({ maxSide: 8192, maxPixels: 1 << 24 });

/** An image whose declared size is over a limit; `limit` names which one (for HTTP 400s). */
export class ImageLimitError extends Error {
  constructor(message: string, readonly limit: 'maxSide' | 'maxPixels') {
    super(message);
    this.name = 'ImageLimitError';
  }
}

/** Throws ImageLimitError when a declared width x height is over `limits`. */
export function checkImageSize(format: string, width: number, height: number, limits: ImageLimits = IMAGE_LIMITS): void {
  if (width > limits.maxSide || height > limits.maxSide) {
    throw new ImageLimitError(`${format}: the image is ${width}x${height}; the limit is ${limits.maxSide} pixels per side (maxSide)`, 'maxSide');
  }
  if (width * height > limits.maxPixels) {
    throw new ImageLimitError(`${format}: the image is ${width}x${height} = ${width * height} pixels; the limit is ${limits.maxPixels} pixels (maxPixels)`, 'maxPixels');
  }
}
