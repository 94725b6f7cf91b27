// JPEG decoding (baseline and progressive, grey, YCbCr, CMYK) through jpeg-js, a maintained
// pure-JS decoder, under the same limits as PNG (image-limits.ts). The frame header is read
// here first so an oversized image is refused with our message before jpeg-js allocates;
// jpeg-js's own resolution and memory caps stay on as a second guard (e.g. a second frame
// header further on).
import jpeg from 'jpeg-js';
import type { RgbImage } from '../types.js';
import { checkImageSize, IMAGE_LIMITS, ImageLimitError, type ImageLimits } from './image-limits.js';

/** Start-of-frame markers (SOF0..SOF15 except DHT, JPG and DAC), which hold the image size. */
const isSof = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

/** Width and height from the first frame header; walks the length-prefixed segments before it. */
export function jpegSize(b: Uint8Array): { width: number; height: number } {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) throw new Error('JPEG: bad signature (not a JPEG file)');
  let pos = 2;
  while (pos + 4 <= b.length) {
    if (b[pos] !== 0xff) throw new Error(`JPEG: expected a marker at byte ${pos}`);
    const marker = b[pos + 1]!;
    if (marker === 0xff) { pos++; continue; } // fill byte
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) { pos += 2; continue; } // no length
    if (marker === 0xda || marker === 0xd9) break; // scan data or end before any frame header
    const len = (b[pos + 2]! << 8) | b[pos + 3]!;
    if (isSof(marker)) {
      if (len < 8 || pos + 9 > b.length) throw new Error(`JPEG: truncated frame header at byte ${pos}`);
      return { height: (b[pos + 5]! << 8) | b[pos + 6]!, width: (b[pos + 7]! << 8) | b[pos + 8]! };
    }
    if (len < 2) throw new Error(`JPEG: bad segment length ${len} at byte ${pos}`);
    pos += 2 + len;
  }
  throw new Error('JPEG: no frame header (truncated file?)');
}

/** Decode a JPEG into RGB. Throws a clear Error on bad input, ImageLimitError over `limits`. */
export function decodeJpeg(buf: Uint8Array, limits: ImageLimits = IMAGE_LIMITS): RgbImage {
  const { width, height } = jpegSize(buf);
  if (width === 0 || height === 0) throw new Error(`JPEG: zero width or height (${width}x${height})`);
  checkImageSize('JPEG', width, height, limits);
  // Every 8x8 block of the full-resolution component costs at least one bit (its DC code, in
  // baseline and progressive files alike), so a file cannot hold more than 512 pixels per
  // byte. A few hundred bytes that claim 16 M pixels are refused here: jpeg-js would first
  // allocate and zero every plane for them (1-3 s of work per request, found by the fuzzer).
  if (width * height > 1024 * buf.length) throw new Error(`JPEG: the frame header claims ${width}x${height} pixels, more than ${buf.length} bytes can encode (at least one bit per 8x8 block)`);
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = jpeg.decode(buf, {
      useTArray: true, formatAsRGBA: false,
      // Strict: a truncated or corrupt file is an error, not an image with grey blocks.
      tolerantDecoding: false,
      maxResolutionInMP: limits.maxPixels / 1e6,
      // jpeg-js counts its coefficient blocks (4 bytes/px per component, padded to whole
      // MCUs), a line buffer and a colour-converted copy per component and the RGB output:
      // about 21 bytes/px at 4:4:4, so 24 admits every image within `limits`.
      maxMemoryUsageInMB: Math.ceil((limits.maxPixels * 24) / (1 << 20)),
    });
  } catch (e) {
    const msg = (e as Error)?.message ?? String(e);
    if (/limit exceeded/.test(msg)) throw new ImageLimitError(`JPEG: ${msg} (the limit is ${limits.maxPixels} pixels)`, 'maxPixels');
    throw new Error(`JPEG: cannot decode (${msg})`);
  }
  if (img.width !== width || img.height !== height) throw new Error(`JPEG: frame header says ${width}x${height}, the decoded image is ${img.width}x${img.height}`);
  return { width, height, data: img.data };
}
