// Image inputs of chat requests: an inline data URL (PNG or JPEG, base64) is decoded under
// the size limits of tasks/render/image-limits.ts and resized by area averaging to the
// model's square input (non-square images are stretched, as fixed-size vision encoders
// do). Every refusal is a 400 naming the request field; a size over a limit names the
// limit (code image_too_large). Remote URLs are never fetched.
import { resizeArea, type RgbLike } from '../model/image.js';
import { IMAGE_LIMITS, ImageLimitError, type ImageLimits } from '../tasks/render/image-limits.js';
import { decodeJpeg } from '../tasks/render/jpeg.js';
import { decodePng } from '../tasks/render/png.js';
import { badParam, unsupported } from './errors.js';

const DECODERS: Record<string, (bytes: Buffer, limits: ImageLimits) => RgbLike> = {
  'image/png': decodePng,
  'image/jpeg': decodeJpeg,
  'image/jpg': decodeJpeg,
};

const SIGNATURES: Record<string, Buffer> = {
  'image/png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  'image/jpeg': Buffer.from([0xff, 0xd8, 0xff]),
  'image/jpg': Buffer.from([0xff, 0xd8, 0xff]),
};

const EXAMPLE = 'data:image/png;base64,... or data:image/jpeg;base64,...';

/** Decodes a data URL into RGB pixels of size `imageSize` x `imageSize`. */
export function decodeImageUrl(url: string, param: string, imageSize: number, limits: ImageLimits = IMAGE_LIMITS): RgbLike {
  if (!url.startsWith('data:')) {
    if (/^https?:/i.test(url)) throw unsupported(param, `remote image URLs are not fetched by this server; send the image inline as ${EXAMPLE}`);
    throw badParam(param, `expected a data URL (${EXAMPLE})`, 'invalid_image_url');
  }
  const comma = url.indexOf(',');
  if (comma < 0) throw badParam(param, 'malformed data URL: no "," before the data', 'invalid_image_url');
  const meta = url.slice(5, comma).split(';').map((s) => s.trim().toLowerCase());
  const media = meta[0] ?? '';
  const decode = DECODERS[media];
  if (!decode) throw unsupported(param, `images must be PNG or JPEG (${EXAMPLE}), got media type "${media || '(none)'}"`);
  if (!meta.includes('base64')) throw badParam(param, `the data URL must be base64-encoded (${EXAMPLE})`, 'invalid_image_url');
  const b64 = url.slice(comma + 1).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 === 1) throw badParam(param, 'the image data is not valid base64', 'invalid_image');
  const bytes = Buffer.from(b64, 'base64');
  const kind = media === 'image/png' ? 'PNG' : 'JPEG';
  if (!bytes.subarray(0, SIGNATURES[media]!.length).equals(SIGNATURES[media]!)) throw badParam(param, `the image data is not a ${kind} file (media type ${media})`, 'invalid_image');
  let img: RgbLike;
  try {
    img = decode(bytes, limits);
  } catch (e) {
    if (e instanceof ImageLimitError) {
      throw badParam(param, `${e.message}; images up to ${limits.maxSide} pixels per side and ${limits.maxPixels} pixels in all are accepted`, 'image_too_large');
    }
    throw badParam(param, `cannot decode the ${kind}: ${(e as Error).message}`, 'invalid_image');
  }
  return resizeArea(img, imageSize, imageSize);
}
