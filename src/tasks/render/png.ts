// Minimal PNG codec on node:zlib.
// encodePng: 8-bit RGB (colour type 2), non-interlaced, one IDAT chunk, deterministic bytes
//   (fixed filter choice (Up), fixed zlib level (6); no timestamps or text chunks).
// decodePng: 8-bit greyscale (0), RGB (2), palette (3), grey+alpha (4) and RGBA (6), all five
//   filter types, non-interlaced; alpha is dropped (composited over nothing). CRCs are
//   checked; IHDR must be the first chunk and appear once; the declared size is checked
//   against image-limits.ts before anything is inflated, and inflation stops at the size
//   the header implies (a zlib bomb cannot allocate more). Anything else is a clear Error
//   (ImageLimitError for a size over the limits).
import { deflateSync, inflateSync } from 'node:zlib';
import type { RgbImage } from '../types.js';
import { checkImageSize, IMAGE_LIMITS, type ImageLimits } from './image-limits.js';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Uint8Array, start = 0, end = buf.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, payload: Buffer): Buffer {
  const out = Buffer.alloc(12 + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.write(type, 4, 'latin1');
  payload.copy(out, 8);
  out.writeUInt32BE(crc32(out, 4, 8 + payload.length), 8 + payload.length);
  return out;
}

/** PNG row filter: 0 none, 1 sub, 2 up, 3 average, 4 Paeth. */
export type PngFilter = 0 | 1 | 2 | 3 | 4;

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

export function assertRgbImage(img: RgbImage, what = 'image'): void {
  if (!img || !Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width <= 0 || img.height <= 0) {
    throw new Error(`${what}: width and height must be positive integers`);
  }
  if (!(img.data instanceof Uint8Array) || img.data.length !== img.width * img.height * 3) {
    throw new Error(`${what}: data must be a Uint8Array of width*height*3 = ${img.width * img.height * 3} bytes`);
  }
}

/**
 * Encode an RGB image as PNG. The output is a pure function of the pixels and `filter`
 * (default: Up, which suits flat-colour renderings; zlib level 6), so equal images give equal bytes.
 */
export function encodePng(img: RgbImage, options: { filter?: PngFilter } = {}): Buffer {
  assertRgbImage(img);
  const filter = options.filter ?? 2;
  const { width, height, data } = img;
  const stride = width * 3;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    const o = y * (stride + 1) + 1;
    const row = y * stride, prev = row - stride;
    raw[o - 1] = filter;
    if (filter === 0 || (filter === 2 && y === 0)) {
      for (let i = 0; i < stride; i++) raw[o + i] = data[row + i]!;
    } else if (filter === 2) {
      for (let i = 0; i < stride; i++) raw[o + i] = (data[row + i]! - data[prev + i]!) & 0xff;
    } else {
      for (let i = 0; i < stride; i++) {
        const a = i >= 3 ? data[row + i - 3]! : 0;
        const b = y > 0 ? data[prev + i]! : 0;
        const c = i >= 3 && y > 0 ? data[prev + i - 3]! : 0;
        const pred = filter === 1 ? a : filter === 3 ? (a + b) >> 1 : filter === 4 ? paeth(a, b, c) : b;
        raw[o + i] = (data[row + i]! - pred) & 0xff;
      }
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  ihdr[10] = 0; // compression
  ihdr[11] = 0; // filter method
  ihdr[12] = 0; // no interlace
  const idat = deflateSync(raw, { level: 6, memLevel: 8, strategy: 0 });
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

/** Decode a PNG (see the header comment for what is supported) into RGB. Throws a clear Error on bad input. */
export function decodePng(buf: Uint8Array, limits: ImageLimits = IMAGE_LIMITS): RgbImage {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 8 || !b.subarray(0, 8).equals(SIGNATURE)) throw new Error('PNG: bad signature (not a PNG file)');
  let pos = 8;
  let width = 0, height = 0, depth = 0, ctype = -1, interlace = 0;
  let palette: Buffer | null = null;
  const idats: Buffer[] = [];
  let sawEnd = false;
  while (pos < b.length) {
    if (pos + 12 > b.length) throw new Error(`PNG: truncated chunk header at byte ${pos}`);
    const len = b.readUInt32BE(pos);
    const type = b.toString('latin1', pos + 4, pos + 8);
    if (pos + 12 + len > b.length) throw new Error(`PNG: chunk ${type} at byte ${pos} runs past the end of the file`);
    const crc = b.readUInt32BE(pos + 8 + len);
    if (crc32(b, pos + 4, pos + 8 + len) !== crc) throw new Error(`PNG: CRC mismatch in chunk ${type} at byte ${pos}`);
    const data = b.subarray(pos + 8, pos + 8 + len);
    if ((pos === 8) !== (type === 'IHDR')) {
      // A second IHDR would let the size checked first differ from the size decoded.
      throw new Error(pos === 8 ? `PNG: the first chunk must be IHDR, got ${type}` : `PNG: more than one IHDR chunk (another at byte ${pos})`);
    }
    if (type === 'IHDR') {
      if (len !== 13) throw new Error('PNG: IHDR must be 13 bytes');
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      depth = data[8]!;
      ctype = data[9]!;
      interlace = data[12]!;
    } else if (type === 'PLTE') palette = Buffer.from(data);
    else if (type === 'IDAT') idats.push(Buffer.from(data));
    else if (type === 'IEND') { sawEnd = true; break; }
    pos += 12 + len;
  }
  if (ctype < 0) throw new Error('PNG: missing IHDR');
  if (!sawEnd) throw new Error('PNG: missing IEND (truncated file?)');
  if (width === 0 || height === 0) throw new Error('PNG: zero width or height');
  if (depth !== 8) throw new Error(`PNG: only bit depth 8 is supported, got ${depth}`);
  if (interlace !== 0) throw new Error('PNG: interlaced images are not supported');
  const channels = ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as Record<number, number>)[ctype];
  if (channels === undefined) throw new Error(`PNG: unsupported colour type ${ctype}`);
  if (ctype === 3 && !palette) throw new Error('PNG: palette image without PLTE');
  if (idats.length === 0) throw new Error('PNG: no IDAT chunk');
  checkImageSize('PNG', width, height, limits);
  const stride = width * channels;
  const expected = (stride + 1) * height;
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(idats), { maxOutputLength: expected });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new Error(`PNG: the image data inflates to more than the ${expected} bytes a ${width}x${height} image needs`);
    throw new Error(`PNG: corrupt image data (${(e as Error).message})`);
  }
  if (raw.length < expected) throw new Error(`PNG: image data too short (${raw.length} < ${expected} bytes)`);
  const px = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)]!;
    const src = y * (stride + 1) + 1;
    for (let i = 0; i < stride; i++) {
      const x = raw[src + i]!;
      const a = i >= channels ? px[y * stride + i - channels]! : 0;
      const up = y > 0 ? px[(y - 1) * stride + i]! : 0;
      const c = i >= channels && y > 0 ? px[(y - 1) * stride + i - channels]! : 0;
      let v: number;
      switch (f) {
        case 0: v = x; break;
        case 1: v = x + a; break;
        case 2: v = x + up; break;
        case 3: v = x + ((a + up) >> 1); break;
        case 4: v = x + paeth(a, up, c); break;
        default: throw new Error(`PNG: bad filter type ${f} on row ${y}`);
      }
      px[y * stride + i] = v & 0xff;
    }
  }
  const out = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    let r: number, g: number, bl: number;
    if (ctype === 2 || ctype === 6) { r = px[p * channels]!; g = px[p * channels + 1]!; bl = px[p * channels + 2]!; }
    else if (ctype === 3) {
      const idx = px[p]!;
      if (idx * 3 + 2 >= palette!.length) throw new Error(`PNG: palette index ${idx} out of range`);
      r = palette![idx * 3]!; g = palette![idx * 3 + 1]!; bl = palette![idx * 3 + 2]!;
    } else { r = g = bl = px[p * channels]!; }
    out[p * 3] = r; out[p * 3 + 1] = g; out[p * 3 + 2] = bl;
  }
  return { width, height, data: out };
}
